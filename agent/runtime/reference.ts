// Image references the way docker/distribution normalises them: busybox:1.36 -> docker.io/library/busybox:1.36.
import { invalid } from '../cri/errors.js';

export interface ImageReference {
  /** Registry host (and port), e.g. "docker.io", "127.0.0.1:5000". */
  domain: string;
  /** Repository path inside the registry, e.g. "library/busybox". */
  repository: string;
  tag?: string;
  digest?: string;
}

const DIGEST = /^sha256:[a-f0-9]{64}$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;

export function parseReference(input: string): ImageReference {
  let rest = input.trim();
  if (!rest) throw invalid('image reference is empty');
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) throw invalid(`image reference "${input}": invalid digest "${digest}"`);
  }
  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  if (colon > lastSlash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw invalid(`image reference "${input}": invalid tag "${tag}"`);
  }
  let domain = 'docker.io';
  let repository = rest;
  const slash = rest.indexOf('/');
  if (slash >= 0) {
    const first = rest.slice(0, slash);
    if (first.includes('.') || first.includes(':') || first === 'localhost') {
      domain = first;
      repository = rest.slice(slash + 1);
    }
  }
  if (domain === 'index.docker.io') domain = 'docker.io';
  if (domain === 'docker.io' && !repository.includes('/')) repository = `library/${repository}`;
  if (!repository || !repository.split('/').every((c) => PATH_COMPONENT.test(c))) {
    throw invalid(`image reference "${input}": invalid repository name "${repository}"`);
  }
  if (!tag && !digest) tag = 'latest';
  return { domain, repository, ...(tag ? { tag } : {}), ...(digest ? { digest } : {}) };
}

/** domain/repository, e.g. "docker.io/library/busybox". */
export function repoName(ref: ImageReference): string {
  return `${ref.domain}/${ref.repository}`;
}

/** The canonical string: repo:tag, repo@digest or repo:tag@digest. */
export function formatReference(ref: ImageReference): string {
  return `${repoName(ref)}${ref.tag ? `:${ref.tag}` : ''}${ref.digest ? `@${ref.digest}` : ''}`;
}

export function isDigest(s: string): boolean {
  return DIGEST.test(s);
}
