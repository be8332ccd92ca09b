// Mocha root hooks: quiet logs during tests unless KETCH_LOG_LEVEL is set; after the run, the bridge claims of the
// runtimes the tests stopped and removed (their bridges and directories gone) are removed from the host too.
process.env.NODE_ENV = 'test';

export const mochaHooks = {
  async afterAll(): Promise<void> {
    // Imported here: the logger reads NODE_ENV when it is first loaded.
    const { pruneStaleClaims } = await import('../../agent/runtime/host-claims.js');
    await pruneStaleClaims();
  },
};
