// Node's system errors by their errno code: the ones a caller expects (a file not there) told apart from the rest.

export const errnoOf = (err: unknown): string | undefined => {
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  return typeof code === 'string' ? code : undefined;
};

/** ENOENT: the file or directory is not there. */
export const isNotExist = (err: unknown): boolean => errnoOf(err) === 'ENOENT';
