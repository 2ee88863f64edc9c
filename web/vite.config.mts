/**
 * Build of the workbench page: `npm run build:web` (run by scripts/setup.sh for the start and test
 * commands when web/ or client/ changed) writes web/dist, which the API serves at `/`
 * (src/api/workbenchPage.ts). Vite 8 compiles the TSX itself (automatic JSX runtime); no dev server is
 * needed by the service. `vite --config web/vite.config.mts` serves the page with a proxy to an API on
 * :3000 while working on it.
 */
import { defineConfig } from 'vite';

export default defineConfig({
  root: import.meta.dirname,
  base: '/',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    assetsDir: 'assets',
    sourcemap: true,
    chunkSizeWarningLimit: 1024,
    rolldownOptions: {
      // react-router marks its modules "use client" (for React Server Components); a plain bundle ignores it.
      onwarn(warning, warn) {
        if (warning.code !== 'MODULE_LEVEL_DIRECTIVE') warn(warning);
      },
    },
  },
  server: {
    host: '127.0.0.1',
    proxy: { '/v1': 'http://127.0.0.1:3000', '/socket.io': { target: 'http://127.0.0.1:3000', ws: true } },
  },
});
