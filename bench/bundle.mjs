#!/usr/bin/env node
// Airlock bundle benchmark (not a test): `airlock bundle create` vs what users script today
// (`skopeo copy --all docker://… oci-archive:…` once per image), the bundle's size vs the sum of
// the per-image archives, `bundle load` into a fresh registry vs skopeo loading each archive, and
// peak RSS of create and load with one big layer. One run; ratios printed with PASS/MISS against
// issue 10's targets. Same 20-image set as bench/mirror.mjs. See bench/README.md.
//   node bench/bundle.mjs [--quick] [--images N --layers K --layer-mb MB --shared-base MB] [--big-mb MB] [--json FILE]
import { copyFileSync, existsSync, readdirSync, readFileSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeBigImage } from './lib/bigimage.mjs';
import { readLayout, verifyMirror } from './lib/ingest.mjs';
import { startRegistry } from './lib/registry.mjs';
import { makeTempDir, runBench, mb, MB, pct, pool, ratio, run, sec } from './lib/util.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..');
const MKIMAGES = path.resolve(ROOT, '..', 'shared', 'fixtures', 'mkimages.py');
const TIME = existsSync('/usr/bin/time') ? '/usr/bin/time' : undefined;

const HELP = `usage: node bench/bundle.mjs [options]
  --quick                 4 images of 2x2 MB + 4 MB base, 64 MB big layer
  --images N --layers K --layer-mb MB --shared-base MB    the image set (default 20, 3, 8, 30: as bench/mirror.mjs)
  --big-mb MB             the single layer of the peak-RSS runs (default 1024)
  --only LIST             create,load,rss (default all; size comes with create)
  --json FILE             write every measurement as JSON
  --airlock FILE          the bundle to run (default: a copy of dist/airlock.cjs)`;

function parseArgs(argv) {
  const o = { quick: false, only: undefined, json: undefined, airlock: undefined };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => argv[++i];
    const num = () => {
      const n = Number(val());
      if (!Number.isFinite(n) || n < 0) throw new Error(`${a} needs a number`);
      return n;
    };
    switch (a) {
      case '--quick': o.quick = true; break;
      case '--images': o.images = num(); break;
      case '--layers': o.layers = num(); break;
      case '--layer-mb': o.layerMb = num(); break;
      case '--shared-base': o.sharedBase = num(); break;
      case '--big-mb': o.bigMb = num(); break;
      case '--only': o.only = new Set(val().split(',')); break;
      case '--json': o.json = val(); break;
      case '--airlock': o.airlock = path.resolve(val()); break;
      case '-h': case '--help': process.stdout.write(`${HELP}\n`); process.exit(0); break;
      default: throw new Error(`unknown option ${a}\n${HELP}`);
    }
  }
  const d = o.quick ? { images: 4, layers: 2, layerMb: 2, sharedBase: 4, bigMb: 64 } : { images: 20, layers: 3, layerMb: 8, sharedBase: 30, bigMb: 1024 };
  for (const k of Object.keys(d)) o[k] ??= d[k];
  return o;
}

let opts;
try {
  opts = parseArgs(process.argv.slice(2));
} catch (e) {
  process.stderr.write(`${e.message}\n`);
  process.exit(2);
}
const want = (s) => !opts.only || opts.only.has(s);
const log = (s = '') => process.stdout.write(`${s}\n`);
const t0 = performance.now();
const stamp = () => `[${((performance.now() - t0) / 1000).toFixed(0).padStart(4)}s]`;
const results = { startedAt: new Date().toISOString(), machine: { cpus: os.cpus().length, loadavg: os.loadavg(), node: process.version }, options: { ...opts, only: opts.only ? [...opts.only] : undefined }, runs: {}, targets: [] };

let work;
let AIRLOCK;
let env;

function makeEnv() {
  const e = { ...process.env, CI: '1' };
  for (const k of Object.keys(e)) if (/^(https?|no|all)_proxy$/i.test(k) || k.startsWith('AIRLOCK_')) delete e[k];
  const authDir = path.join(work, 'auth');
  mkdirSync(authDir, { recursive: true });
  writeFileSync(path.join(authDir, 'auth.json'), '{"auths":{}}\n');
  writeFileSync(path.join(authDir, 'config.json'), '{"auths":{}}\n');
  e.REGISTRY_AUTH_FILE = path.join(authDir, 'auth.json');
  e.DOCKER_CONFIG = authDir;
  return e;
}

/** Run under /usr/bin/time (when present): { ms, cpuS, maxRssMb, stdout, stderr }. */
let nTime = 0;
async function timed(cmd, args) {
  if (!TIME) return { ...(await run(cmd, args, { env, timeoutMs: 3_600_000 })), cpuS: NaN, maxRssMb: NaN };
  const f = path.join(work, `time-${++nTime}.txt`);
  const r = await run(TIME, ['-o', f, '-f', '%U %S %M', cmd, ...args], { env, timeoutMs: 3_600_000 });
  const [u, s, m] = readFileSync(f, 'utf8').trim().split('\n').pop().split(' ').map(Number);
  return { ...r, cpuS: u + s, maxRssMb: m / 1024 };
}

const skopeo = (args) => timed('skopeo', ['--insecure-policy', ...args]);
const airlock = (args) => timed(process.execPath, [AIRLOCK, ...args]);
const sync = () => run('sync', [], { allowFail: true });

function target(name, value, pass, goal) {
  results.targets.push({ name, value, goal, pass });
  log(`  ${(pass ? 'PASS' : 'MISS').padEnd(5)} ${name.padEnd(46)} ${String(value).padEnd(24)} (target: ${goal})`);
}

async function pushLayout(layoutDir, tags, host, repo) {
  await pool(tags, 4, (tag) => skopeo(['copy', '--all', '--preserve-digests', '--dest-tls-verify=false', `oci:${layoutDir}:${tag}`, `docker://${host}/${repo}/${tag}:v1`]));
}

async function imageSet(src) {
  const layoutDir = path.join(work, 'layout');
  log(`${stamp()} setup: mkimages ${opts.images} images x ${opts.layers} layers x ${opts.layerMb} MB + ${opts.sharedBase} MB shared base...`);
  await run('python3', [MKIMAGES, layoutDir, '--images', String(opts.images), '--layers', String(opts.layers), '--layer-mb', String(opts.layerMb), '--shared-base', String(opts.sharedBase)], { timeoutMs: 1_800_000 });
  const layout = readLayout(layoutDir);
  await pushLayout(layoutDir, layout.images.map((i) => i.tag), src.host, 'bench');
  log(`${stamp()} setup: ${layout.images.length} images, ${layout.blobs.length} unique blobs, ${mb(layout.uniqueBytes)} unique (${mb(layout.referencedBytes)} referenced), pushed to ${src.host}`);
  return layout;
}

async function createAndLoad(src, layout) {
  const tags = layout.images.map((i) => i.tag);
  const yaml = path.join(work, 'airlock.yaml');
  writeFileSync(yaml, `images:\n${tags.map((t) => `  - ${src.host}/bench/${t}:v1`).join('\n')}\n`);
  const bundle = path.join(work, 'bundle.tar');
  const archives = path.join(work, 'archives');
  mkdirSync(archives);

  // --- create vs skopeo copy … oci-archive: per image -----------------------------------------
  await sync();
  const a = await airlock(['bundle', 'create', '-f', yaml, '-o', bundle, '-q']);
  log(`${stamp()} create  airlock bundle create     ${sec(a.ms).padStart(9)}  cpu ${a.cpuS.toFixed(2)} s, peak RSS ${a.maxRssMb.toFixed(0)} MB`);
  await sync();
  const started = performance.now();
  let skCpu = 0;
  for (const t of tags) skCpu += (await skopeo(['copy', '--all', '--src-tls-verify=false', `docker://${src.host}/bench/${t}:v1`, `oci-archive:${path.join(archives, `${t}.tar`)}:${t}`])).cpuS;
  const skMs = performance.now() - started;
  log(`${stamp()} create  skopeo → oci-archive loop ${sec(skMs).padStart(9)}  cpu ${skCpu.toFixed(2)} s`);
  const bundleBytes = statSync(bundle).size;
  const archiveBytes = readdirSync(archives).reduce((s, f) => s + statSync(path.join(archives, f)).size, 0);
  log(`${stamp()} size    bundle ${mb(bundleBytes)} vs ${tags.length} archives ${mb(archiveBytes)} (unique content ${mb(layout.uniqueBytes)})`);
  const v = await airlock(['bundle', 'verify', bundle, '-q']);
  log(`${stamp()} verify  airlock bundle verify     ${sec(v.ms).padStart(9)}  cpu ${v.cpuS.toFixed(2)} s, peak RSS ${v.maxRssMb.toFixed(0)} MB`);
  results.runs.create = { airlockMs: a.ms, airlockCpuS: a.cpuS, airlockRssMb: a.maxRssMb, skopeoMs: skMs, skopeoCpuS: skCpu, bundleBytes, archiveBytes, verifyMs: v.ms };

  // --- load vs skopeo copy oci-archive: → registry per image ----------------------------------
  if (want('load')) {
    const d1 = await startRegistry('dst-airlock');
    let l;
    try {
      await sync();
      l = await airlock(['bundle', 'load', bundle, '--to', `${d1.host}/mirror`, '-q']);
      const bad = await verifyMirror(d1.url, layout, (t) => `mirror/bench/${t}`, 'v1');
      if (bad.length) throw new Error(`bundle load incomplete: ${bad.slice(0, 3).join('; ')}`);
    } finally {
      await d1.stop();
    }
    log(`${stamp()} load    airlock bundle load       ${sec(l.ms).padStart(9)}  cpu ${l.cpuS.toFixed(2)} s, peak RSS ${l.maxRssMb.toFixed(0)} MB`);
    const d2 = await startRegistry('dst-skopeo');
    let sk2Ms;
    try {
      await sync();
      const s0 = performance.now();
      for (const t of tags) await skopeo(['copy', '--all', '--dest-tls-verify=false', `oci-archive:${path.join(archives, `${t}.tar`)}:${t}`, `docker://${d2.host}/mirror/bench/${t}:v1`]);
      sk2Ms = performance.now() - s0;
      const bad = await verifyMirror(d2.url, layout, (t) => `mirror/bench/${t}`, 'v1');
      if (bad.length) throw new Error(`skopeo load incomplete: ${bad.slice(0, 3).join('; ')}`);
    } finally {
      await d2.stop();
    }
    log(`${stamp()} load    skopeo oci-archive → reg  ${sec(sk2Ms).padStart(9)}`);
    results.runs.load = { airlockMs: l.ms, airlockCpuS: l.cpuS, airlockRssMb: l.maxRssMb, skopeoMs: sk2Ms };
  }
}

async function bigLayer(src) {
  const layoutDir = path.join(work, 'big');
  log(`${stamp()} rss: one image with a single ${opts.bigMb} MB layer...`);
  if (opts.bigMb < 256) await run('python3', [MKIMAGES, layoutDir, '--images', '1', '--layers', '1', '--layer-mb', String(opts.bigMb), '--seed', '7'], { timeoutMs: 1_800_000 });
  else await writeBigImage(layoutDir, opts.bigMb);
  const layout = readLayout(layoutDir);
  await pushLayout(layoutDir, ['img-0'], src.host, 'big');
  const yaml = path.join(work, 'big.yaml');
  writeFileSync(yaml, `images:\n  - ${src.host}/big/img-0:v1\n`);
  const bundle = path.join(work, 'big.tar');
  await sync();
  const c = await airlock(['bundle', 'create', '-f', yaml, '-o', bundle, '-q']);
  log(`${stamp()} rss     create ${mb(statSync(bundle).size)}  ${sec(c.ms)}, peak RSS ${c.maxRssMb.toFixed(1)} MB`);
  const dst = await startRegistry('dst-big');
  let l;
  try {
    l = await airlock(['bundle', 'load', bundle, '--to', `${dst.host}/mirror`, '-q']);
    const bad = await verifyMirror(dst.url, layout, () => 'mirror/big/img-0', 'v1');
    if (bad.length) throw new Error(`big load incomplete: ${bad.join('; ')}`);
  } finally {
    await dst.stop();
  }
  log(`${stamp()} rss     load   ${sec(l.ms)}, peak RSS ${l.maxRssMb.toFixed(1)} MB`);
  results.runs.rss = { layerMb: opts.bigMb, createRssMb: c.maxRssMb, loadRssMb: l.maxRssMb, createMs: c.ms, loadMs: l.ms };
}

async function main() {
  for (const p of [MKIMAGES, '/usr/bin/skopeo']) if (!existsSync(p)) throw new Error(`missing ${p}`);
  work = makeTempDir('bundle-bench');
  env = makeEnv();
  const from = opts.airlock ?? path.join(ROOT, 'dist', 'airlock.cjs');
  if (!existsSync(from)) throw new Error(`${from} missing: run npm run build`);
  AIRLOCK = path.join(work, 'airlock.cjs');
  copyFileSync(from, AIRLOCK);
  log(`Airlock bundle benchmark — ${os.cpus().length} CPUs, load ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}; ${(await run('skopeo', ['--version'])).stdout.trim()}; node ${process.version}`);
  const src = await startRegistry('src');
  try {
    if (want('create') || want('load')) await createAndLoad(src, await imageSet(src));
    if (want('rss')) await bigLayer(src);
  } finally {
    await src.stop();
  }
  log('\nResults');
  const c = results.runs.create;
  if (c) {
    target('create: skopeo loop / bundle create', ratio(c.skopeoMs / c.airlockMs), c.skopeoMs / c.airlockMs >= 2, '≥ 2x');
    target('size: bundle / sum of per-image archives', pct(c.bundleBytes / c.archiveBytes), c.bundleBytes / c.archiveBytes <= 0.55, '≤ 55%');
  }
  const l = results.runs.load;
  if (l) target('load: skopeo per archive / bundle load', ratio(l.skopeoMs / l.airlockMs), l.skopeoMs / l.airlockMs >= 1.5, '≥ 1.5x');
  const r = results.runs.rss;
  if (r) {
    target(`peak RSS, bundle create, ${r.layerMb} MB layer`, `${r.createRssMb.toFixed(0)} MB`, r.createRssMb < 150, '< 150 MB');
    target(`peak RSS, bundle load, ${r.layerMb} MB layer`, `${r.loadRssMb.toFixed(0)} MB`, r.loadRssMb < 150, '< 150 MB');
  }
  results.machine.loadavgEnd = os.loadavg();
  if (opts.json) writeFileSync(opts.json, `${JSON.stringify(results, null, 2)}\n`);
}

await runBench(main, 60);
