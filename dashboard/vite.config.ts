// Builds the operator dashboard into dashboard/dist, served by the API at /dashboard
// (src/api/routes/dashboard.ts). Everything is bundled: no CDN, no fonts from the network.
import { fileURLToPath } from 'node:url';
import preact from '@preact/preset-vite';
import { defineConfig } from 'vite';

const root = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  root,
  base: '/dashboard/',
  // node_modules is shared with other checkouts: keep Vite's cache inside this one.
  cacheDir: fileURLToPath(new URL('./.vite-cache', import.meta.url)),
  plugins: [preact()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    assetsInlineLimit: 0,
    chunkSizeWarningLimit: 300,
  },
});
