// Bundle each entrypoint into one self-contained CommonJS file in dist/ that runs with plain
// `node` (>= 20) and no node_modules: what gets carried into an air-gapped runner.
import { build } from 'esbuild';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';

const { bundleText } = createRequire(import.meta.url)('./compile-cache.cjs');

export const entrypoints = {
  airlock: 'packages/cli/src/main.ts',
  copy: 'packages/copy/src/main.ts',
  mirror: 'packages/copy/src/mirror-main.ts',
  sign: 'packages/sign/src/main.ts',
  verify: 'packages/verify/src/main.ts',
  bundle: 'packages/bundle/src/main.ts',
};

const only = process.argv.slice(2);
await Promise.all(
  Object.entries(entrypoints)
    .filter(([name]) => !only.length || only.includes(name))
    .filter(([, entry]) => existsSync(entry))
    .map(async ([name, entry]) => {
      const outfile = `dist/${name}.cjs`;
      const result = await build({
        entryPoints: [entry],
        outfile,
        bundle: true,
        platform: 'node',
        target: 'node20',
        format: 'cjs',
        write: false,
        legalComments: 'none',
        sourcemap: false,
        minify: true,
        keepNames: true,
        logLevel: 'warning',
      });
      const program = result.outputFiles[0].text;
      // Wrapped so that it starts with a V8 code cache (see compile-cache.cjs).
      await mkdir('dist', { recursive: true });
      await writeFile(outfile, bundleText(name, program, `Airlock ${name}: one self-contained file, run it with node >= 20.`));
      await chmod(outfile, 0o755);
    }),
);
