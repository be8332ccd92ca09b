// Pull progress over the CRI: ketch's runtime adds it to a verbose ImageStatus of an image being pulled, under a key
// of the `info` map (free-form there, so containerd and its clients are unaffected); a runtime without it answers as
// always, and the agent then knows only the elapsed time.

/** The `info` key of a verbose ImageStatusResponse that holds the progress of a pull of the image under way. */
export const PULL_PROGRESS_INFO = 'ketch.io/pull-progress';

export interface PullProgressInfo {
  /** The bytes of the image's config and layers, as its manifest declares them. */
  totalBytes: number;
  /** How many of them are in the runtime's content store so far. */
  doneBytes: number;
}

export function encodePullProgress(p: PullProgressInfo): string {
  return JSON.stringify({ totalBytes: p.totalBytes, doneBytes: p.doneBytes });
}

/** The progress in a verbose ImageStatus `info` map, when the runtime gave one (and it makes sense). */
export function decodePullProgress(info: Record<string, string> | undefined): PullProgressInfo | undefined {
  const raw = info?.[PULL_PROGRESS_INFO];
  if (!raw) return undefined;
  try {
    const v = JSON.parse(raw) as { totalBytes?: unknown; doneBytes?: unknown };
    const { totalBytes, doneBytes } = v;
    if (typeof totalBytes !== 'number' || typeof doneBytes !== 'number' || !(totalBytes > 0) || doneBytes < 0) return undefined;
    return { totalBytes, doneBytes: Math.min(doneBytes, totalBytes) };
  } catch {
    // Not ours or garbled: the caller falls back to what it knows without it (the elapsed time).
    return undefined;
  }
}
