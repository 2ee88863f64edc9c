/**
 * Jest runs every suite against one real stack per run: globalSetup (src/dev/stack/globalSetup.ts) starts one Temporal dev server,
 * creates one throw-away Postgres database, applies migrations and bundles the workflow code once;
 * suites read those coordinates from the file globalSetup writes (see src/dev/stack/stackFile.ts).
 * Suites run in band: the machine has 2 cores and they share the server.
 */
/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }] },
  globalSetup: '<rootDir>/src/dev/stack/globalSetup.ts',
  globalTeardown: '<rootDir>/src/dev/stack/globalTeardown.ts',
  maxWorkers: 1,
  testTimeout: 120000,
};
