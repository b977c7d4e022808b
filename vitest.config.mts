import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: [
      { test: { name: 'native', include: ['test/native/**/*.test.ts'] } },
      { test: { name: 'pku', include: ['test/pku/**/*.test.ts'] } },
    ],
  },
});
