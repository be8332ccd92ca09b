// Mocha root hooks: quiet logs during tests unless KETCH_LOG_LEVEL is set.
process.env.NODE_ENV = 'test';
export {};
