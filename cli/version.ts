// The client's version, from package.json (found from cli/ under tsx and from dist/cli/ when built).
import { existsSync, readFileSync } from 'node:fs';

const url = [new URL('../package.json', import.meta.url), new URL('../../package.json', import.meta.url)].find((u) => existsSync(u));
const pkg = (url ? JSON.parse(readFileSync(url, 'utf8')) : { version: '0.0.0' }) as { version: string };
export const VERSION: string = pkg.version;
