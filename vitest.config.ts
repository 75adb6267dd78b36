import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// Tests run against the TypeScript sources of sibling packages (no build needed):
// `@spms/<name>` resolves to packages/<name>/src/index.ts.
const packagesDir = fileURLToPath(new URL('./packages/', import.meta.url));

export default defineConfig({
  resolve: {
    alias: [{ find: /^@spms\/([a-z-]+)$/, replacement: `${packagesDir}$1/src/index.ts` }],
  },
  test: {
    include: ['{apps,packages,tests}/**/*.test.ts'],
    exclude: ['**/node_modules/**', '**/dist/**'],
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // expect.poll waits for something another process or the browser does: 1 s (Vitest's
    // default) is not enough on a loaded 2-core machine, and a poll that gives up early
    // fails a correct test. A failing poll still fails, 10 s later.
    expect: { poll: { timeout: 10_000 } },
    // Integration tests open sockets, databases and Redis connections: two cores here.
    maxWorkers: 2,
  },
});
