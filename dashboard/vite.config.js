import { svelte } from '@sveltejs/vite-plugin-svelte';
import { defineConfig } from 'vite';

// `npm run dev` serves the app with hot reload and forwards /api (REST and WebSocket) to a
// gateway: CRAFTPLANE_GATEWAY_URL, else the local sandbox's. The gateway checks the Origin of
// WebSockets, so the proxied upgrade carries the gateway's own origin.
const gateway = process.env.CRAFTPLANE_GATEWAY_URL || 'http://127.0.0.1:18080';

export default defineConfig({
  base: './',
  plugins: [svelte()],
  server: {
    proxy: {
      '/api': {
        target: gateway,
        ws: true,
        configure(proxy) {
          proxy.on('proxyReqWs', (req) => req.setHeader('origin', gateway));
        },
      },
    },
  },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
  },
});
