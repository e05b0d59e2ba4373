import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // CKKS contexts and worker pools are heavy; two files at a time fits a 2-core machine.
    maxWorkers: 2,
    reporters: ['default'],
  },
});
