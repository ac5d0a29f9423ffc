import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // test/package/pack.test.ts builds, packs and installs: `npm run test:package`
    exclude: ['test/fixtures/**', 'test/interop/**', 'test/package/pack.test.ts', 'node_modules/**'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // the default output, then the count of skipped tests and why each was skipped
    reporters: ['default', './test/support/skip-reporter.ts'],
  },
});
