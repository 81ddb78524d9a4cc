// Bundles the extension and vscode-languageclient into dist/extension.js (vsce then packages it with
// --no-dependencies: nothing from node_modules ships but what the bundle holds).
import { build } from 'esbuild';

await build({
  entryPoints: ['src/extension.ts'],
  bundle: true,
  outfile: 'dist/extension.js',
  external: ['vscode'],
  format: 'cjs',
  platform: 'node',
  target: 'node18',
  sourcemap: false,
  minify: true,
  logLevel: 'warning',
});
