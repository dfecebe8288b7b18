// Builds the web client (web/) into dist/web/: hashed bundles for the page, its stylesheet and the capture
// worklet, and index.html naming them. The service serves dist/web at `/` (src/web/web-client.ts).
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const web = join(root, 'web');
const out = join(root, 'dist', 'web');

const shared = {
  bundle: true,
  minify: true,
  target: ['chrome114', 'firefox115', 'safari16.4'],
  outdir: out,
  entryNames: '[name]-[hash]',
  metafile: true,
  legalComments: 'none',
  logLevel: 'warning',
};

/** The output file of a build with one entry point, by its extension. */
function output(result, extension) {
  const file = Object.keys(result.metafile.outputs).find((path) => path.endsWith(extension));
  if (file === undefined) {
    throw new Error(`esbuild produced no ${extension} file`);
  }
  return basename(file);
}

await rm(out, { recursive: true, force: true });
await mkdir(out, { recursive: true });

// An AudioWorklet module is loaded on its own: a separate, self-contained bundle.
const worklet = await build({ ...shared, entryPoints: [join(web, 'worklet', 'capture-processor.ts')], format: 'iife' });
const workletFile = output(worklet, '.js');

const app = await build({
  ...shared,
  entryPoints: [join(web, 'src', 'main.ts')],
  format: 'esm',
  define: { __CAPTURE_WORKLET_URL__: JSON.stringify(`/${workletFile}`) },
});
const styles = await build({ ...shared, entryPoints: [join(web, 'styles.css')], loader: { '.svg': 'file' } });

const html = (await readFile(join(web, 'index.html'), 'utf8'))
  .replaceAll('{{app}}', `/${output(app, '.js')}`)
  .replaceAll('{{styles}}', `/${output(styles, '.css')}`);
await writeFile(join(out, 'index.html'), html);
