import { defineConfig } from 'vitest/config';

// The package test: `npm pack` (which builds dist/), the tarball installed into a
// scratch project, the stack and the checker run there with plain node. Too slow
// for `npm test` (a build, a pack and an npm install): `npm run test:package`.
export default defineConfig({
  test: {
    include: ['test/package/pack.test.ts'],
    exclude: ['node_modules/**'],
    testTimeout: 180_000,
    hookTimeout: 600_000,
    pool: 'forks',
    reporters: ['verbose'],
  },
});
