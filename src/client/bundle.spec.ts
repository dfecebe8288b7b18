import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';

describe('the client library', () => {
  it('bundles for a browser: no Node module, no Nest, no ws, no TypeBox', async () => {
    const result = await build({
      entryPoints: [fileURLToPath(new URL('./index.ts', import.meta.url))],
      bundle: true,
      platform: 'browser',
      format: 'esm',
      write: false,
      metafile: true,
      logLevel: 'silent',
    });
    const inputs = Object.keys(result.metafile!.inputs);
    expect(inputs.filter((input) => !/^src\/(client|protocol)\//.test(input))).toEqual([]);
    expect(inputs.filter((input) => input.startsWith('src/protocol/'))).toEqual([
      'src/protocol/error-codes.ts',
      'src/protocol/close-codes.ts',
    ]);
    expect(result.outputFiles[0].text).not.toMatch(/\brequire\(|from "node:|\bBuffer\./);
  });
});
