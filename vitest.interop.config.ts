import { defineConfig } from 'vitest/config';

// The interop suite: the stack against the Linux kernel, telnet, telnetd and nc
// through TAP devices in network namespaces it makes (root). One file at a time:
// the files share the machine's CPU with the kernel peers they time against.
export default defineConfig({
  test: {
    include: ['test/interop/**/*.test.ts'],
    exclude: ['node_modules/**'],
    testTimeout: 240_000,
    hookTimeout: 60_000,
    pool: 'forks',
    fileParallelism: false,
    maxWorkers: 1,
    globalSetup: ['test/interop/support/global-setup.ts'],
    reporters: ['verbose'],
  },
});
