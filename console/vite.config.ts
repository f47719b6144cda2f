import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// The console is built into dist/console and served by Loopgate at `/`; it talks only to the public HTTP API.
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/',
  plugins: [react()],
  build: {
    outDir: fileURLToPath(new URL('../dist/console', import.meta.url)),
    emptyOutDir: true,
    sourcemap: false,
    reportCompressedSize: true,
  },
  server: {
    // `npx vite --config console/vite.config.ts` during development, with a Loopgate on 7470 behind it.
    proxy: { '/v1': 'http://127.0.0.1:7470', '/.well-known': 'http://127.0.0.1:7470' },
  },
});
