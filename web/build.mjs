// build.mjs - bundle the console (src/) into dist/ with esbuild: one JS and one CSS file under
// dist/assets/ with content-hashed names (served immutable), and dist/index.html pointing at
// them (served no-cache). Nothing is fetched at run time: every asset comes from here.
import { build } from 'esbuild';
import { mkdir, readFile, rm, writeFile, copyFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const dist = path.join(here, 'dist');
await rm(dist, { recursive: true, force: true });
await mkdir(path.join(dist, 'assets'), { recursive: true });

const result = await build({
  entryPoints: { app: path.join(here, 'src/main.js') },
  bundle: true,
  format: 'esm',
  target: 'es2020',
  minify: true,
  sourcemap: true,
  outdir: path.join(dist, 'assets'),
  entryNames: '[name]-[hash]',
  assetNames: '[name]-[hash]',
  metafile: true,
  legalComments: 'linked',
  logLevel: 'warning',
});

const outputs = Object.keys(result.metafile.outputs).map((p) => path.basename(p));
const js = outputs.find((f) => /^app-.*\.js$/.test(f));
const css = outputs.find((f) => /^app-.*\.css$/.test(f));
if (!js || !css) throw new Error(`esbuild did not write app js and css (got ${outputs.join(', ')})`);

let html = await readFile(path.join(here, 'src/index.html'), 'utf8');
html = html.replace('%APP_JS%', `/assets/${js}`).replace('%APP_CSS%', `/assets/${css}`);
await writeFile(path.join(dist, 'index.html'), html);
for (const f of await readdir(path.join(here, 'public'))) {
  await copyFile(path.join(here, 'public', f), path.join(dist, f));
}
console.log(`web: dist/index.html, assets/${js}, assets/${css}`);
