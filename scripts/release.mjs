// npm run release: build the bundles, then write release/airlock-VERSION.tar.gz (see release.ts).
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';

if (!process.argv.includes('--no-build')) execFileSync(process.execPath, ['scripts/build.mjs'], { stdio: 'inherit' });
mkdirSync('.tmp', { recursive: true });
await build({ entryPoints: ['scripts/release.ts'], outfile: '.tmp/release.cjs', bundle: true, platform: 'node', target: 'node20', format: 'cjs', logLevel: 'warning' });
const { release } = createRequire(import.meta.url)('../.tmp/release.cjs');
const out = await release(process.env.AIRLOCK_RELEASE_DIR ?? 'release');
console.log(out);
