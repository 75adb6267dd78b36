import { defineConfig } from 'vite';

// The dashboard is plain static files served by @spms/api (plugins/web.ts); `npm run dev -w
// @spms/web` proxies /api to a locally running API.
export default defineConfig({
  base: '/',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // No CDN at runtime: everything, Leaflet's CSS images included, is bundled.
    assetsInlineLimit: 4096,
    chunkSizeWarningLimit: 400,
  },
  server: {
    proxy: { '/api': { target: process.env.SPMS_API_URL ?? 'http://127.0.0.1:8080', changeOrigin: true } },
  },
});
