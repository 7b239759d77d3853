// Bundle each entrypoint into one self-contained CommonJS file in dist/ that runs with plain
// `node` (>= 20) and no node_modules: what gets carried into an air-gapped runner.
import { build } from 'esbuild';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { lazyBuiltins, omitUnused } from './lean.mjs';
import { bundledPackages, cyclonedx, spdx } from './sbom.mjs';

const { bundleText } = createRequire(import.meta.url)('./compile-cache.cjs');

export const entrypoints = {
  airlock: 'packages/cli/src/main.ts',
  copy: 'packages/copy/src/main.ts',
  mirror: 'packages/copy/src/mirror-main.ts',
  sync: 'packages/sync/src/main.ts',
  sign: 'packages/sign/src/main.ts',
  verify: 'packages/verify/src/main.ts',
  bundle: 'packages/bundle/src/main.ts',
  image: 'packages/image/src/main.ts',
  doctor: 'packages/doctor/src/main.ts',
  chart: 'packages/chart/src/main.ts',
  'deploy-image': 'packages/deploy/src/main.ts',
};

const only = process.argv.slice(2);
const metafiles = await Promise.all(
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
        metafile: true,
        legalComments: 'none',
        sourcemap: false,
        minify: true,
        keepNames: true,
        plugins: [omitUnused],
        logLevel: 'warning',
      });
      const program = lazyBuiltins(result.outputFiles[0].text);
      // Wrapped so that it starts with a V8 code cache (see compile-cache.cjs).
      await mkdir('dist', { recursive: true });
      await writeFile(outfile, bundleText(name, program, `Airlock ${name}: one self-contained file, run it with node >= 20.`));
      await chmod(outfile, 0o755);
      return result.metafile;
    }),
);

// The bill of materials of what the bundles carry (attached to the runner image, in the release).
if (!only.length) {
  const root = JSON.parse(readFileSync('package.json', 'utf8'));
  const product = { name: 'airlock', version: root.version, license: root.license };
  const packages = bundledPackages(metafiles);
  await writeFile('dist/airlock.spdx.json', `${JSON.stringify(spdx(product, packages), null, 2)}\n`);
  await writeFile('dist/airlock.cdx.json', `${JSON.stringify(cyclonedx(product, packages), null, 2)}\n`);
}
