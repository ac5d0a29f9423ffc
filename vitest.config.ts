import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // test/package/pack.test.ts builds, packs and installs: `npm run test:package`
    exclude: ['test/fixtures/**', 'test/interop/**', 'test/package/pack.test.ts', 'node_modules/**'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Test files share a worker's module graph instead of importing the stack afresh each
    // (halves npm test: most of its time was imports); every file builds its own hosts,
    // clocks and seeds, and keeps no state in modules. Two workers: the machines here have two cores.
    isolate: false,
    maxWorkers: 2,
    // the default output, then the count of skipped tests and why each was skipped
    reporters: ['default', './test/support/skip-reporter.ts'],
  },
});
