// The stored-data format: a record in the store of the layout its data is in and the ketch that last started on it. A
// ketch starts on a store of its own format or an older one (recording its own once it has upgraded it) and refuses
// one written in a newer format, which it cannot read safely.
import type { Logger } from '../../lib/logger.js';
import type { FormatRecord, Maintenance } from './maintenance.js';

/**
 * This ketch's storage format. 1: objects stored as JSON with their apiVersion and kind first (apiserver/registry),
 * under /registry/<group>/<resource>/[<namespace>/]<name>. Raise it when a change needs old data converted, and
 * convert in checkFormat.
 */
export const STORAGE_FORMAT_VERSION = 1;

export class FormatError extends Error {
  override name = 'FormatError';
}

/**
 * Reads the store's format record: refuses a newer format, records this ketch's format and version otherwise (a store
 * without a record predates it and is format 1).
 */
export async function checkFormat(store: Pick<Maintenance, 'readFormat' | 'writeFormat'>, ketchVersion: string, where: string, log: Logger): Promise<FormatRecord> {
  const found = await store.readFormat();
  if (found && found.formatVersion > STORAGE_FORMAT_VERSION) {
    throw new FormatError(
      `the store at ${where} was written by ketch ${found.ketchVersion} in storage format ${found.formatVersion}; ` +
        `this ketch (${ketchVersion}) reads storage format ${STORAGE_FORMAT_VERSION} and older. ` +
        `Run ketch ${found.ketchVersion} or newer on it, or restore a snapshot taken before the upgrade into a new data directory.`,
    );
  }
  const mine: FormatRecord = { formatVersion: STORAGE_FORMAT_VERSION, ketchVersion };
  if (!found || found.formatVersion !== mine.formatVersion || found.ketchVersion !== mine.ketchVersion) {
    await store.writeFormat(mine);
    log.info('storage format recorded', { where, formatVersion: mine.formatVersion, ketchVersion, previous: found ?? 'none' });
  }
  return mine;
}
