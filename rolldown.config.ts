// `npm run build`: the image's entry point, dist/main.js, as one bundle. src/main.ts, every
// module it imports and the packages they import (zod, pino, prom-client) are bundled: Node
// then loads 26 modules at start instead of 350 (24 of them undici's), which took 5-6 MiB off
// the RSS of a started operator and about 4 MiB off the peak of a first sync of 10,000
// ExternalSecrets (README, "Memory"). What the operator loads on demand stays a module of its own, loaded as before:
// client-node (exec and auth-provider kubeconfigs only) from node_modules, undici's pool and
// request API, the YAML parser and cron-parser through `createRequire` (src/runtime/undici.ts).
// Types are stripped, not checked: `npm run typecheck` checks them.
import { defineConfig } from 'rolldown';

export default defineConfig({
  input: { main: 'src/main.ts' },
  platform: 'node',
  external: [/^@kubernetes\/client-node(\/|$)/],
  output: {
    dir: 'dist',
    format: 'esm',
    cleanDir: true,
    // Stable names: a stack trace names dist/main.js or dist/kube-fallback.js, with the line
    // numbers of readable code (not minified) that dist/*.js.map map back to src/.
    chunkFileNames: '[name].js',
    sourcemap: true,
    comments: false,
  },
});
