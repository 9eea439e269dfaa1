// One Jest configuration for every package. TypeScript is transpiled per file (isolatedModules);
// type errors are caught by `npm run typecheck`, which `npm test` runs first.
/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/packages'],
  testMatch: ['**/test/**/*.test.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.json' }] },
  // Workspace imports run from source, so a test never runs against a stale dist.
  moduleNameMapper: {
    '^@iot-custom-auth/([^/]+)$': '<rootDir>/packages/$1/src',
    '^(local-iot|client)$': '<rootDir>/packages/$1/src',
  },
  modulePathIgnorePatterns: ['<rootDir>/packages/.*/dist', '<rootDir>/cdk.out'],
  testTimeout: 30000,
  // One temporary directory per run that the workers share (a synth several suites serve is made once),
  // removed when the run ends: see packages/local-iot/test/support/run-cache.ts.
  globalSetup: '<rootDir>/packages/local-iot/test/support/jest-global-setup.ts',
  globalTeardown: '<rootDir>/packages/local-iot/test/support/jest-global-teardown.ts',
};
