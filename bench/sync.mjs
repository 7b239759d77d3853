#!/usr/bin/env node
// Airlock sync benchmark: `airlock sync` (the bundled dist/sync.cjs) vs `skopeo sync` on real registries
// on 127.0.0.1 — the first sync into fresh registries, the no-op re-run, the no-op re-run with 20 ms
// added to every source request (bench/delay-proxy.mjs), and the requests each no-op run makes (from
// the registries' access logs). Plain Node script: `node bench/sync.mjs [--repos N --tags N]`.
// See bench/README.md ("Sync benchmark") for what each number means.
import { createHash, randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startDelayProxy } from './delay-proxy.mjs';
import { startRegistry } from './lib/registry.mjs';
import { makeTempDir, runBench, mb, MB, median, onAsyncCleanup, pool, ratio, request, run, sec } from './lib/util.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..');
const HELP = `usage: node bench/sync.mjs [options]

  --repos N         source repositories (default 10)
  --tags N          tags per repository (default 10)
  --base-kb KB      layer shared by the tags of one repository (default 1024)
  --layer-kb KB     unique layer of each image (default 256)
  --rounds N        no-op rounds per tool (default 3; medians compared)
  --delay MS        latency added to every source request for the no-op-with-latency run (default 20)
  --airlock FILE    the Airlock bundle to run (default: a copy of dist/sync.cjs taken at start)
  --json FILE       also write every measurement as JSON to FILE
  --timeout-min M   give up (and clean up) after M minutes (default 30)
  -h, --help`;

const opts = { repos: 10, tags: 10, baseKb: 1024, layerKb: 256, rounds: 3, delay: 20, airlock: undefined, json: undefined, timeoutMin: 30 };
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i];
  const val = () => process.argv[++i];
  switch (a) {
    case '--repos': opts.repos = Number(val()); break;
    case '--tags': opts.tags = Number(val()); break;
    case '--base-kb': opts.baseKb = Number(val()); break;
    case '--layer-kb': opts.layerKb = Number(val()); break;
    case '--rounds': opts.rounds = Math.max(1, Number(val())); break;
    case '--delay': opts.delay = Number(val()); break;
    case '--airlock': opts.airlock = path.resolve(val()); break;
    case '--json': opts.json = val(); break;
    case '--timeout-min': opts.timeoutMin = Number(val()); break;
    case '-h': case '--help': process.stdout.write(`${HELP}\n`); process.exit(0); break;
    default: process.stderr.write(`unknown option ${a}\n${HELP}\n`); process.exit(2);
  }
}

const log = (s = '') => process.stdout.write(`${s}\n`);
const t0 = performance.now();
const stamp = () => `[${((performance.now() - t0) / 1000).toFixed(0).padStart(4)}s]`;
const results = { startedAt: new Date().toISOString(), options: opts, machine: { cpus: os.cpus().length, loadavg: os.loadavg(), node: process.version }, runs: [], summary: {}, targets: [] };

let work;
let toolEnv;
let AIRLOCK;

function makeEnv() {
  const env = { ...process.env };
  for (const k of Object.keys(env)) if (/^(https?|no|all)_proxy$/i.test(k) || k.startsWith('AIRLOCK_') || k.startsWith('CI_') || k === 'DOCKER_AUTH_CONFIG') delete env[k];
  writeFileSync(path.join(work, 'auth.json'), '{"auths":{}}\n');
  writeFileSync(path.join(work, 'config.json'), '{"auths":{}}\n');
  env.REGISTRY_AUTH_FILE = path.join(work, 'auth.json');
  env.DOCKER_CONFIG = work;
  env.CI = '1';
  return env;
}

const sha = (b) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

async function pushBlob(url, repo, blob) {
  const digest = sha(blob);
  const start = await request(`${url}/v2/${repo}/blobs/uploads/`, { method: 'POST', headers: { 'content-length': '0' } });
  if (start.status !== 202) throw new Error(`POST upload: ${start.status}`);
  const loc = new URL(start.headers.location, url);
  loc.searchParams.set('digest', digest);
  const put = await request(loc.toString(), { method: 'PUT', headers: { 'content-type': 'application/octet-stream', 'content-length': String(blob.length) }, body: blob });
  if (put.status !== 201) throw new Error(`PUT upload: ${put.status}`);
  return { mediaType: 'application/vnd.oci.image.layer.v1.tar', digest, size: blob.length };
}

/** REPOS x TAGS small images: per repository one shared base layer, per image one unique layer. */
async function populate(src) {
  const images = [];
  let unique = 0;
  await pool([...Array(opts.repos).keys()], 4, async (r) => {
    const repo = `bench/repo-${r}`;
    const baseBytes = randomBytes(opts.baseKb * 1024);
    const base = await pushBlob(src.url, repo, baseBytes);
    unique += base.size;
    for (let t = 0; t < opts.tags; t++) {
      const tag = `1.${t}.0`;
      const own = await pushBlob(src.url, repo, randomBytes(opts.layerKb * 1024));
      const cfgBytes = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', created: new Date(Date.UTC(2025, 0, 1 + t)).toISOString(), rootfs: { type: 'layers', diff_ids: [base.digest, own.digest] } }));
      const cfg = { ...(await pushBlob(src.url, repo, cfgBytes)), mediaType: 'application/vnd.oci.image.config.v1+json' };
      unique += own.size + cfg.size;
      const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: cfg, layers: [base, own] }));
      const put = await request(`${src.url}/v2/${repo}/manifests/${tag}`, { method: 'PUT', headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' }, body: manifest });
      if (put.status !== 201) throw new Error(`PUT manifest: ${put.status}`);
      images.push({ repo, tag, digest: sha(manifest) });
    }
  });
  return { images, unique };
}

async function verify(dst, images, label) {
  const bad = [];
  await pool(images, 8, async (im) => {
    const r = await request(`${dst.url}/v2/mirror/${im.repo.replace('bench/', '')}/manifests/${im.tag}`, { method: 'HEAD', headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } });
    if (r.status !== 200 || r.headers['docker-content-digest'] !== im.digest) bad.push(`${im.repo}:${im.tag} (${r.status})`);
  });
  if (bad.length) {
    const cat = await request(`${dst.url}/v2/_catalog`);
    throw new Error(`${label}: destination incomplete: ${bad.slice(0, 3).join(', ')}; it holds ${cat.body.toString().trim()}`);
  }
}

function airlockConfig(srcHost, dstHost) {
  const file = path.join(work, `sync-${srcHost.replace(/\W/g, '_')}-${dstHost.replace(/\W/g, '_')}.yaml`);
  const repos = [...Array(opts.repos).keys()].map((r) => `  - repository: ${srcHost}/bench/repo-${r}\n    include: '.*'\n`).join('');
  writeFileSync(file, `defaults:\n  rewrite: ["${srcHost}/bench=${dstHost}/mirror"]\nimages:\n${repos}`);
  return file;
}

/** skopeo sync's YAML source; it writes DEST/<last path component>:TAG, so Airlock rewrites bench/ to mirror/ alike. */
function skopeoConfig(srcHost) {
  const file = path.join(work, `skopeo-${srcHost.replace(/\W/g, '_')}.yaml`);
  const repos = [...Array(opts.repos).keys()].map((r) => `    bench/repo-${r}: []\n`).join('');
  writeFileSync(file, `${srcHost}:\n  tls-verify: false\n  images:\n${repos}`);
  return file;
}

const TIME = existsSync('/usr/bin/time') ? '/usr/bin/time' : undefined;
let timeFiles = 0;
/** Run a tool under /usr/bin/time -o FILE (when present) to learn its CPU seconds (user + system). */
async function runTimed(cmd, args, o) {
  if (!TIME) return { ...(await run(cmd, args, o)), cpuS: NaN };
  const f = path.join(work, `time-${++timeFiles}.txt`);
  const r = await run(TIME, ['-o', f, '-f', '%U %S', cmd, ...args], o);
  let cpuS = NaN;
  try {
    const [u, sy] = readFileSync(f, 'utf8').trim().split('\n').pop().split(' ').map(Number);
    cpuS = u + sy;
  } catch {
    /* killed */
  }
  return { ...r, cpuS };
}

async function airlockSync(srcHost, dstHost, label) {
  const report = path.join(work, `report-${label}-${Date.now()}.json`);
  const r = await runTimed(process.execPath, [AIRLOCK, '-f', airlockConfig(srcHost, dstHost), '--report', report], { env: toolEnv, timeoutMs: 1_200_000, allowFail: true });
  if (r.code !== 0) throw new Error(`airlock sync failed (exit ${r.code}):\n${r.stderr.slice(-3000)}`);
  return { ms: r.ms, cpuS: r.cpuS, totals: JSON.parse(readFileSync(report, 'utf8')).totals };
}

async function skopeoSync(srcHost, dstHost) {
  const r = await runTimed('skopeo', ['--insecure-policy', 'sync', '--all', '--preserve-digests', '--src', 'yaml', '--dest', 'docker', '--dest-tls-verify=false', skopeoConfig(srcHost), `${dstHost}/mirror`], { env: toolEnv, timeoutMs: 1_200_000 });
  return { ms: r.ms, cpuS: r.cpuS };
}

const sync = (tool, srcHost, dstHost, label) => (tool === 'airlock' ? airlockSync(srcHost, dstHost, label) : skopeoSync(srcHost, dstHost));

function statsLine(st) {
  return `${st.total} requests (${Object.entries(st.byKind).sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k}: ${n}`).join(', ')})`;
}

function record(r) {
  results.runs.push(r);
  const cpu = r.cpu ? `   cpu: ${r.tool} ${r.cpu.tool.toFixed(2)} s, src registry ${r.cpu.src.toFixed(2)} s, dst registry ${r.cpu.dst.toFixed(2)} s` : '';
  log(`${stamp()} ${r.section.padEnd(12)} ${r.tool.padEnd(8)} ${sec(r.ms).padStart(9)}${r.src ? `   src ${r.src.total} + dst ${r.dst.total} requests` : ''}${cpu}`);
  if (r.src) {
    log(`              src: ${statsLine(r.src)}`);
    log(`              dst: ${statsLine(r.dst)}`);
  }
}

function target(name, value, pass, goal) {
  results.targets.push({ name, value, goal, pass });
  log(`  ${(pass ? 'PASS' : 'MISS').padEnd(5)} ${name.padEnd(40)} ${String(value).padEnd(10)} (target: ${goal})`);
}

async function main() {
  for (const bin of ['/usr/bin/skopeo', '/usr/bin/docker-registry']) if (!existsSync(bin)) throw new Error(`missing ${bin}`);
  const dist = opts.airlock ?? path.join(ROOT, 'dist', 'sync.cjs');
  if (!existsSync(dist)) throw new Error(`${dist} missing (run npm run build)`);
  work = makeTempDir('sync');
  AIRLOCK = path.join(work, 'sync.cjs');
  copyFileSync(dist, AIRLOCK);
  toolEnv = makeEnv();
  log(`Airlock sync benchmark — ${opts.repos} repositories x ${opts.tags} tags, ${os.cpus().length} CPUs, load ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  log(`${(await run('skopeo', ['--version'])).stdout.trim()}; node ${process.version}; ${dist}`);

  const src = await startRegistry('src');
  const { images, unique } = await populate(src);
  results.setup = { images: images.length, uniqueBytes: unique };
  log(`${stamp()} setup: ${images.length} images in ${opts.repos} repositories, ${mb(unique)} unique`);

  const dsts = {};
  // 1. First sync into fresh registries.
  for (const tool of ['airlock', 'skopeo']) {
    dsts[tool] = await startRegistry(`dst-${tool}`);
    await run('sync', [], { allowFail: true });
    const s0 = src.logOffset();
    const c0 = { src: src.cpu(), dst: dsts[tool].cpu() };
    const m = await sync(tool, src.host, dsts[tool].host, 'first');
    const st = { src: src.stats(s0), dst: dsts[tool].stats() };
    const cpu = { tool: m.cpuS, src: src.cpu() - c0.src, dst: dsts[tool].cpu() - c0.dst };
    await verify(dsts[tool], images, `${tool} first sync`);
    record({ section: 'first', tool, ms: m.ms, cpu, ...st });
  }
  // 2. No-op re-runs against the filled destinations.
  for (let round = 1; round <= opts.rounds; round++) {
    for (const tool of round % 2 ? ['airlock', 'skopeo'] : ['skopeo', 'airlock']) {
      const s0 = src.logOffset();
      const d0 = dsts[tool].logOffset();
      const c0 = { src: src.cpu(), dst: dsts[tool].cpu() };
      const m = await sync(tool, src.host, dsts[tool].host, `noop-${round}`);
      const cpu = { tool: m.cpuS, src: src.cpu() - c0.src, dst: dsts[tool].cpu() - c0.dst };
      record({ section: 'noop', round, tool, ms: m.ms, cpu, src: src.stats(s0), dst: dsts[tool].stats(d0) });
    }
  }
  // 3. No-op with latency at the source.
  const proxy = await startDelayProxy({ target: src.host, delayMs: opts.delay });
  onAsyncCleanup(() => proxy.close());
  log(`${stamp()} delay proxy ${proxy.host} -> ${src.host}, +${opts.delay} ms per request`);
  for (let round = 1; round <= opts.rounds; round++) {
    for (const tool of round % 2 ? ['airlock', 'skopeo'] : ['skopeo', 'airlock']) {
      const s0 = src.logOffset();
      const d0 = dsts[tool].logOffset();
      const c0 = { src: src.cpu(), dst: dsts[tool].cpu() };
      const m = await sync(tool, proxy.host, dsts[tool].host, `noop-lat-${round}`);
      const cpu = { tool: m.cpuS, src: src.cpu() - c0.src, dst: dsts[tool].cpu() - c0.dst };
      record({ section: 'noop-latency', round, tool, ms: m.ms, cpu, src: src.stats(s0), dst: dsts[tool].stats(d0) });
    }
  }
  await proxy.close();

  const med = (section, tool) => median(results.runs.filter((r) => r.section === section && r.tool === tool).map((r) => r.ms));
  const reqs = (section, tool) => median(results.runs.filter((r) => r.section === section && r.tool === tool).map((r) => r.src.total + r.dst.total));
  const S = results.summary;
  for (const section of ['first', 'noop', 'noop-latency']) {
    const cpuMed = (tool) => median(results.runs.filter((r) => r.section === section && r.tool === tool && r.cpu).map((r) => r.cpu.tool + r.cpu.src + r.cpu.dst));
    S[section] = { airlockMs: med(section, 'airlock'), skopeoMs: med(section, 'skopeo'), airlockRequests: reqs(section, 'airlock'), skopeoRequests: reqs(section, 'skopeo'), airlockCpuS: cpuMed('airlock'), skopeoCpuS: cpuMed('skopeo') };
    S[section].ratio = S[section].skopeoMs / S[section].airlockMs;
  }
  log('');
  log(`Summary (${images.length} images, ${mb(unique)} unique; no-op: medians of ${opts.rounds})`);
  const row = (label, s) =>
    log(`  ${label.padEnd(30)} airlock ${sec(s.airlockMs).padStart(8)} (${s.airlockRequests} req, ${s.airlockCpuS.toFixed(2)} CPU-s)   skopeo ${sec(s.skopeoMs).padStart(8)} (${s.skopeoRequests} req, ${s.skopeoCpuS.toFixed(2)} CPU-s)   skopeo/airlock ${ratio(s.ratio)}`);
  log('  (CPU-s: the tool plus both registries; on a machine shared with other work, wall time follows them)');
  row('first sync (fresh registries)', S.first);
  row('no-op re-run', S.noop);
  row(`no-op re-run, +${opts.delay} ms per source request`, S['noop-latency']);
  log('');
  log('Targets');
  target('first sync: faster than skopeo sync', ratio(S.first.ratio), S.first.ratio >= 1.5, '>= 1.50x');
  target('no-op re-run: faster than skopeo sync', ratio(S.noop.ratio), S.noop.ratio >= 10, '>= 10.00x');
  target(`no-op +${opts.delay} ms: faster than skopeo sync`, ratio(S['noop-latency'].ratio), S['noop-latency'].ratio >= 20, '>= 20.00x');
  log(`\nTotal ${sec(performance.now() - t0)}; load now ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  if (opts.json) writeFileSync(opts.json, `${JSON.stringify(results, null, 2)}\n`);
  for (const d of Object.values(dsts)) await d.stop();
  await src.stop();
}

await runBench(main, opts.timeoutMin);
