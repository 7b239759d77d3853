#!/usr/bin/env node
// Airlock mirror benchmark: Airlock vs. `skopeo copy` one image after another, against the registry's
// own ingest ceiling, on loopback, with added latency, for a no-op re-run, and peak RSS on one big
// layer. Plain Node script: `npm run bench` or `node bench/mirror.mjs [--quick] [--json FILE]`.
// See bench/README.md for what each number means.
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startDelayProxy } from './delay-proxy.mjs';
import { writeBigImage } from './lib/bigimage.mjs';
import { pushBlobsRaw, readLayout, relayBlobs, verifyMirror } from './lib/ingest.mjs';
import { startRegistry } from './lib/registry.mjs';
import { makeTempDir, runBench, mb, MB, median, onAsyncCleanup, pct, pool, ratio, run, sec } from './lib/util.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..');
const MKIMAGES = path.resolve(ROOT, '..', 'shared', 'fixtures', 'mkimages.py');

// ---------------------------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------------------------
const HELP = `usage: node bench/mirror.mjs [options]

  --quick                 small smoke run (4 images of 2x2 MB + 4 MB base, 64 MB big layer, 1 round)
  --json FILE             also write every measurement as JSON to FILE
  --rounds N              measurement rounds (default 3; 1 with --quick); medians are compared
  --images N --layers K --layer-mb MB --shared-base MB    the synthetic image set (default 20, 3, 8, 30)
  --big-mb MB             size of the single layer for the peak-RSS run (default 1024)
  --delay MS              latency added to every source request in the latency section (default 20)
  --concurrency N         pass --concurrency N to Airlock (default: Airlock's own default)
  --ceiling-concurrency N parallel uploads for the ingest ceiling (default 8)
  --airlock-arg ARG       extra argument for airlock mirror (repeatable)
  --airlock FILE          the Airlock bundle to run (default: a copy of dist/airlock.cjs taken at start,
                          so a rebuild during the run cannot mix versions)
  --tools LIST            which tools to time, comma-separated: airlock,skopeo (default both)
  --only LIST             sections to run, comma-separated: loopback,ceiling,latency,rss,startup
                          (the no-op re-run is measured inside loopback, the relay bound inside ceiling)
  --verbose               print registry request counts for every run
  --timeout-min M         give up (and clean up) after M minutes (default 60)
  -h, --help`;

function parseArgs(argv) {
  const o = {
    quick: false,
    json: undefined,
    rounds: undefined,
    images: undefined,
    layers: undefined,
    layerMb: undefined,
    sharedBase: undefined,
    bigMb: undefined,
    delay: 20,
    concurrency: undefined,
    ceilingConcurrency: 8,
    airlockArgs: [],
    airlock: undefined,
    tools: new Set(['airlock', 'skopeo']),
    only: undefined,
    verbose: false,
    timeoutMin: 60,
  };
  const num = (name, v) => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0) throw new Error(`${name} needs a number, got "${v}"`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    switch (a) {
      case '--quick': o.quick = true; break;
      case '--json': o.json = val(); break;
      case '--rounds': o.rounds = num(a, val()); break;
      case '--images': o.images = num(a, val()); break;
      case '--layers': o.layers = num(a, val()); break;
      case '--layer-mb': o.layerMb = num(a, val()); break;
      case '--shared-base': o.sharedBase = num(a, val()); break;
      case '--big-mb': o.bigMb = num(a, val()); break;
      case '--delay': o.delay = num(a, val()); break;
      case '--concurrency': o.concurrency = num(a, val()); break;
      case '--ceiling-concurrency': o.ceilingConcurrency = num(a, val()); break;
      case '--airlock-arg': o.airlockArgs.push(val()); break;
      case '--airlock': o.airlock = path.resolve(val()); break;
      case '--tools': o.tools = new Set(val().split(',').map((t) => t.trim())); break;
      case '--only': o.only = new Set(val().split(',').map((s) => s.trim())); break;
      case '--verbose': o.verbose = true; break;
      case '--timeout-min': o.timeoutMin = num(a, val()); break;
      case '-h': case '--help': process.stdout.write(`${HELP}\n`); process.exit(0); break;
      default: throw new Error(`unknown option ${a}\n${HELP}`);
    }
  }
  const d = o.quick
    ? { rounds: 1, images: 4, layers: 2, layerMb: 2, sharedBase: 4, bigMb: 64 }
    : { rounds: 3, images: 20, layers: 3, layerMb: 8, sharedBase: 30, bigMb: 1024 };
  for (const k of Object.keys(d)) o[k] ??= d[k];
  o.rounds = Math.max(1, Math.floor(o.rounds));
  return o;
}

let opts;
try {
  opts = parseArgs(process.argv.slice(2));
} catch (e) {
  process.stderr.write(`${e.message}\n`);
  process.exit(2);
}
const want = (section) => !opts.only || opts.only.has(section);

// ---------------------------------------------------------------------------------------------
// Output
// ---------------------------------------------------------------------------------------------
const results = {
  startedAt: new Date().toISOString(),
  machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, memMb: Math.round(os.totalmem() / MB), loadavg: os.loadavg(), node: process.version },
  options: { ...opts, only: opts.only ? [...opts.only] : undefined, tools: [...opts.tools] },
  setup: {},
  runs: [],
  summary: {},
  targets: [],
};
const log = (s = '') => process.stdout.write(`${s}\n`);
const t0 = performance.now();
const stamp = () => `[${((performance.now() - t0) / 1000).toFixed(0).padStart(4)}s]`;
function statsLine(st) {
  if (!st) return '';
  const top = Object.entries(st.byKind).sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k}: ${n}`).join(', ');
  return `${st.total} requests (${top})`;
}

// ---------------------------------------------------------------------------------------------
// Tools
// ---------------------------------------------------------------------------------------------
const DIST_AIRLOCK = path.join(ROOT, 'dist', 'airlock.cjs');
let AIRLOCK = DIST_AIRLOCK; // replaced by a snapshot in main()
const TIME = existsSync('/usr/bin/time') ? '/usr/bin/time' : undefined;
let work; // temp dir
let toolEnv; // environment for both tools: no ambient credentials, no proxies

function preflight() {
  const missing = [];
  if (!existsSync(opts.airlock ?? DIST_AIRLOCK)) missing.push(`${opts.airlock ?? DIST_AIRLOCK} (run npm run build)`);
  if (!existsSync(MKIMAGES)) missing.push(`${MKIMAGES} (shared/ must sit beside the repo)`);
  for (const bin of ['/usr/bin/skopeo', '/usr/bin/docker-registry']) if (!existsSync(bin)) missing.push(bin);
  if (missing.length) throw new Error(`missing: ${missing.join(', ')}`);
}

function makeEnv() {
  const env = { ...process.env };
  for (const k of Object.keys(env)) if (/^(https?|no|all)_proxy$/i.test(k)) delete env[k];
  const authDir = path.join(work, 'auth');
  mkdirSync(authDir, { recursive: true });
  writeFileSync(path.join(authDir, 'auth.json'), '{"auths":{}}\n');
  writeFileSync(path.join(authDir, 'config.json'), '{"auths":{}}\n');
  env.REGISTRY_AUTH_FILE = path.join(authDir, 'auth.json');
  env.DOCKER_CONFIG = authDir;
  env.CI = '1'; // line progress, no TTY rendering
  delete env.DOCKER_AUTH_CONFIG;
  for (const k of Object.keys(env)) if (k.startsWith('AIRLOCK_') || k.startsWith('CI_REGISTRY')) delete env[k];
  return env;
}

async function syncDisk() {
  // Flush the previous run's dirty pages so they are not written back during the next timed run.
  await run('sync', [], { timeoutMs: 120_000, allowFail: true });
}

async function mkimages(out, args) {
  const argv = [MKIMAGES, out, ...args];
  if (TIME) {
    const r = await run(TIME, ['-v', 'python3', ...argv], { timeoutMs: 1_800_000 });
    return { ms: r.ms, peakRssMb: parseTimeV(r.stderr).maxRssKb / 1024 };
  }
  const r = await run('python3', argv, { timeoutMs: 1_800_000 });
  return { ms: r.ms };
}

function parseTimeV(stderr) {
  const m = /Maximum resident set size \(kbytes\): (\d+)/.exec(stderr);
  const u = /User time \(seconds\): ([\d.]+)/.exec(stderr);
  const s = /System time \(seconds\): ([\d.]+)/.exec(stderr);
  return { maxRssKb: m ? Number(m[1]) : NaN, cpuS: u && s ? Number(u[1]) + Number(s[1]) : NaN };
}

/**
 * Run a tool under `/usr/bin/time -o FILE` (when present) to learn its CPU time and peak RSS without
 * touching its stderr. Resolves run()'s result plus { cpuS, maxRssMb }.
 */
let timeFiles = 0;
async function runTimed(cmd, args, o) {
  if (!TIME) return { ...(await run(cmd, args, o)), cpuS: NaN, maxRssMb: NaN };
  const f = path.join(work, `time-${++timeFiles}.txt`);
  const r = await run(TIME, ['-o', f, '-f', '%U %S %M', cmd, ...args], o);
  let cpuS = NaN;
  let maxRssMb = NaN;
  try {
    const last = readFileSync(f, 'utf8').trim().split('\n').pop().split(' ').map(Number);
    cpuS = last[0] + last[1];
    maxRssMb = last[2] / 1024;
  } catch {
    /* killed */
  }
  return { ...r, cpuS, maxRssMb };
}

async function skopeoCopy(src, dst, extra = []) {
  return runTimed('skopeo', ['--insecure-policy', 'copy', '--all', ...extra, src, dst], { env: toolEnv, timeoutMs: 600_000 });
}

/** Push the layout's tags into the source registry as REPO/img-N:v1 (parallel, not timed). */
async function pushLayout(layoutDir, tags, srcHost, repo) {
  await pool(tags, 4, (tag) =>
    skopeoCopy(`oci:${layoutDir}:${tag}`, `docker://${srcHost}/${repo}/${tag}:v1`, ['--preserve-digests', '--dest-tls-verify=false']),
  );
}

/** airlock mirror --file LIST --to DST/mirror; returns { ms, report }. */
async function airlockMirror(listFile, dstHost, label) {
  const report = path.join(work, `report-${label}-${Date.now()}.json`);
  const args = [AIRLOCK, 'mirror', '--file', listFile, '--to', `${dstHost}/mirror`, '--report', report];
  if (opts.concurrency) args.push('--concurrency', String(opts.concurrency));
  args.push(...opts.airlockArgs);
  const r = await runTimed(process.execPath, args, { env: toolEnv, timeoutMs: 1_200_000, allowFail: true });
  if (r.code !== 0) throw new Error(`airlock mirror failed (exit ${r.code}):\n${r.stderr.slice(-4000)}`);
  const rep = JSON.parse(readFileSync(report, 'utf8'));
  return { ms: r.ms, totals: rep.totals, cpuS: r.cpuS, maxRssMb: r.maxRssMb };
}

/** skopeo copy --all, one image after another (what a shell loop does). */
async function skopeoSequential(srcHost, dstHost, tags) {
  const started = performance.now();
  let cpuS = 0;
  let maxRssMb = 0;
  for (const tag of tags) {
    const r = await skopeoCopy(`docker://${srcHost}/bench/${tag}:v1`, `docker://${dstHost}/mirror/bench/${tag}:v1`, ['--src-tls-verify=false', '--dest-tls-verify=false']);
    cpuS += r.cpuS;
    maxRssMb = Math.max(maxRssMb, r.maxRssMb);
  }
  return { ms: performance.now() - started, cpuS, maxRssMb };
}

// ---------------------------------------------------------------------------------------------
// Sections
// ---------------------------------------------------------------------------------------------
function record(run) {
  results.runs.push(run);
  const extra = run.totals ? ` [${run.totals.blobs.copied} blobs copied (${mb(run.totals.bytes)}), ${run.totals.blobs.mounted} mounted, ${run.totals.blobs.skipped} skipped]` : '';
  const rate = run.bytes ? ` = ${(run.bytes / MB / (run.ms / 1000)).toFixed(1)} MiB/s` : '';
  log(`${stamp()} ${run.section.padEnd(9)} round ${run.round}  ${run.tool.padEnd(8)} ${sec(run.ms).padStart(9)}${rate}${extra}`);
  if (opts.verbose && run.cpu) {
    const c = run.cpu;
    const f = (x) => (Number.isFinite(x) ? `${x.toFixed(2)} s` : '?');
    log(`            cpu: ${run.tool} ${f(c.tool)}, src registry ${f(c.src)}, dst registry ${f(c.dst)}${c.proxy !== undefined ? `, delay proxy (in bench) ${f(c.proxy)}` : ''} = ${f(c.tool + (c.src || 0) + c.dst + (c.proxy || 0))} of ${f((run.ms / 1000) * os.cpus().length)} available`);
  }
  if (opts.verbose && run.dstRequests) log(`            dst: ${statsLine(run.dstRequests)}`);
  if (opts.verbose && run.srcRequests) log(`            src: ${statsLine(run.srcRequests)}`);
}

/**
 * One measured mirror by `tool` from `srcHost` into a fresh destination, then (optionally) the
 * no-op re-run against the same destination.
 */
async function measureMirror({ section, round, tool, srcHost, srcReg, listFile, layout, noop, noopSection }) {
  const dst = await startRegistry(`dst-${tool}`);
  try {
    await syncDisk();
    const srcOff = srcReg.logOffset();
    const cpu0 = { src: srcReg.cpu(), dst: dst.cpu(), self: process.cpuUsage() };
    const m = tool === 'airlock' ? await airlockMirror(listFile, dst.host, `${section}-${round}`) : await skopeoSequential(srcHost, dst.host, layout.images.map((i) => i.tag));
    const cpu = cpuSince(cpu0, srcReg, dst, m.cpuS, srcHost !== srcReg.host);
    // Request counts before the check below, whose HEADs would otherwise be counted too.
    const dstRequests = dst.stats();
    const srcRequests = srcReg.stats(srcOff);
    const bad = await verifyMirror(dst.url, layout, (tag) => `mirror/bench/${tag}`, 'v1');
    if (bad.length) throw new Error(`${tool} ${section}: destination incomplete: ${bad.slice(0, 3).join('; ')}`);
    record({ section, round, tool, ms: m.ms, bytes: layout.uniqueBytes, totals: m.totals, cpu, dstRequests, srcRequests });
    if (noop) {
      const dstOff = dst.logOffset();
      const srcOff2 = srcReg.logOffset();
      const cpu1 = { src: srcReg.cpu(), dst: dst.cpu(), self: process.cpuUsage() };
      const n = tool === 'airlock' ? await airlockMirror(listFile, dst.host, `${noopSection}-${round}`) : await skopeoSequential(srcHost, dst.host, layout.images.map((i) => i.tag));
      const cpuN = cpuSince(cpu1, srcReg, dst, n.cpuS, srcHost !== srcReg.host);
      record({ section: noopSection, round, tool, ms: n.ms, totals: n.totals, cpu: cpuN, dstRequests: dst.stats(dstOff), srcRequests: srcReg.stats(srcOff2) });
    }
  } finally {
    await dst.stop();
  }
}

/** CPU seconds used since `c0` by the tool, both registries and (latency runs) this process's proxy. */
function cpuSince(c0, srcReg, dst, toolCpu, proxied) {
  const self = process.cpuUsage(c0.self);
  return {
    tool: toolCpu,
    src: srcReg.cpu() - c0.src,
    dst: dst.cpu() - c0.dst,
    ...(proxied ? { proxy: (self.user + self.system) / 1e6 } : {}),
  };
}

async function measureCeiling(round, layoutDir, layout, src) {
  const dst = await startRegistry('dst-ceiling');
  try {
    await syncDisk();
    const c0 = { dst: dst.cpu(), self: process.cpuUsage() };
    const r = await pushBlobsRaw(layoutDir, layout, dst.url, { repoPrefix: 'mirror/bench', concurrency: opts.ceilingConcurrency });
    const self = process.cpuUsage(c0.self);
    const cpu = { tool: (self.user + self.system) / 1e6, dst: dst.cpu() - c0.dst };
    record({ section: 'ceiling', round, tool: 'raw-http', ms: r.ms, bytes: r.bytes, cpu, dstRequests: dst.stats() });
  } finally {
    await dst.stop();
  }
  // The relay ceiling: the same blobs GET from the source registry and PUT into a fresh one.
  const dst2 = await startRegistry('dst-relay');
  try {
    await syncDisk();
    const c0 = { src: src.cpu(), dst: dst2.cpu(), self: process.cpuUsage() };
    const r = await relayBlobs(src.url, layout, dst2.url, { concurrency: opts.ceilingConcurrency });
    const self = process.cpuUsage(c0.self);
    const cpu = { tool: (self.user + self.system) / 1e6, src: src.cpu() - c0.src, dst: dst2.cpu() - c0.dst };
    record({ section: 'relay', round, tool: 'raw-http', ms: r.ms, bytes: r.bytes, cpu, dstRequests: dst2.stats() });
  } finally {
    await dst2.stop();
  }
}

/**
 * CPU seconds that SHA-256 costs this machine for `bytes` (node:crypto, OpenSSL): the least any
 * tool that verifies every byte must add to a plain relay. Measured on a 64 MiB buffer, scaled.
 */
function hashCpuSeconds(bytes) {
  const buf = randomBytes(64 * MB);
  createHash('sha256').update(buf.subarray(0, MB)).digest(); // warm-up
  const c0 = process.cpuUsage();
  for (let i = 0; i < 4; i++) createHash('sha256').update(buf).digest();
  const c = process.cpuUsage(c0);
  return ((c.user + c.system) / 1e6) * (bytes / (4 * 64 * MB));
}

/** Peak RSS of `airlock copy` of an image made of one big layer (and skopeo's, for reference). */
async function measureRss(srcReg) {
  const dir = makeTempDir('big');
  const layoutDir = path.join(dir, 'layout');
  // mkimages.py holds payload, tar and gzip of a layer in memory at once, and Python's randbytes()
  // overflows at 256 MiB per call: bigger layers come from a streaming generator instead.
  const viaMkimages = opts.bigMb < 256;
  log(`${stamp()} rss: generating 1 image with one ${opts.bigMb} MB layer (${viaMkimages ? 'mkimages.py' : 'bench/lib/bigimage.mjs, streamed to disk'})...`);
  const gen = viaMkimages
    ? await mkimages(layoutDir, ['--images', '1', '--layers', '1', '--layer-mb', String(opts.bigMb), '--seed', '7'])
    : await writeBigImage(layoutDir, opts.bigMb);
  const layout = readLayout(layoutDir);
  const layerBytes = Math.max(...layout.blobs.map((b) => b.size));
  log(`${stamp()} rss: generated ${mb(layerBytes)} layer in ${sec(gen.ms)}${gen.peakRssMb ? ` (mkimages.py peak RSS ${gen.peakRssMb.toFixed(0)} MB: it builds the layer in memory)` : ''}`);
  await pushLayout(layoutDir, layout.images.map((i) => i.tag), srcReg.host, 'big');
  if (opts.tools.has('airlock')) await warmUp(['copy', `${srcReg.host}/big/img-0:v1`], (host) => `${host}/big/img-0:v1`);
  const out = { layerBytes, generatorPeakRssMb: gen.peakRssMb };
  for (const tool of ['airlock', 'skopeo'].filter((t) => opts.tools.has(t))) {
    const dst = await startRegistry(`dst-big-${tool}`);
    try {
      await syncDisk();
      const src = `${srcReg.host}/big/img-0:v1`;
      const dstRef = `${dst.host}/big/img-0:v1`;
      const argv =
        tool === 'airlock'
          ? [process.execPath, AIRLOCK, 'copy', src, dstRef, ...(opts.concurrency ? ['--concurrency', String(opts.concurrency)] : [])]
          : ['skopeo', '--insecure-policy', 'copy', '--all', '--src-tls-verify=false', '--dest-tls-verify=false', `docker://${src}`, `docker://${dstRef}`];
      const c0 = { src: srcReg.cpu(), dst: dst.cpu() };
      const { ms, peakRssMb, cpuS } = await runMeasuringRss(argv);
      const cpu = { tool: cpuS, src: srcReg.cpu() - c0.src, dst: dst.cpu() - c0.dst };
      const bad = await verifyMirror(dst.url, layout, () => 'big/img-0', 'v1');
      if (bad.length) throw new Error(`${tool} big copy incomplete: ${bad.join('; ')}`);
      out[tool] = { ms, peakRssMb, cpu };
      record({ section: 'rss', round: 1, tool, ms, bytes: layerBytes, peakRssMb, cpu });
      log(`            peak RSS ${tool}: ${peakRssMb.toFixed(1)} MB`);
    } finally {
      await dst.stop();
    }
  }
  return out;
}

/** Run argv under /usr/bin/time -v (or poll /proc/PID/status VmHWM); returns { ms, peakRssMb }. */
async function runMeasuringRss(argv) {
  if (TIME) {
    const r = await run(TIME, ['-v', ...argv], { env: toolEnv, timeoutMs: 1_800_000, allowFail: true });
    if (r.code !== 0) throw new Error(`${argv.join(' ')} failed:\n${r.stderr.slice(-3000)}`);
    const tv = parseTimeV(r.stderr);
    return { ms: r.ms, peakRssMb: tv.maxRssKb / 1024, cpuS: tv.cpuS, how: '/usr/bin/time -v' };
  }
  const { spawn } = await import('node:child_process');
  const started = performance.now();
  const child = spawn(argv[0], argv.slice(1), { env: toolEnv, stdio: ['ignore', 'ignore', 'pipe'] });
  let hwm = 0;
  const poll = setInterval(() => {
    try {
      const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
      if (m) hwm = Math.max(hwm, Number(m[1]));
    } catch {
      /* exited */
    }
  }, 20);
  const kill = setTimeout(() => child.kill('SIGKILL'), 1_800_000);
  const code = await new Promise((r) => child.on('close', r));
  clearInterval(poll);
  clearTimeout(kill);
  if (code !== 0) throw new Error(`${argv.join(' ')} failed (exit ${code})`);
  return { ms: performance.now() - started, peakRssMb: hwm / 1024, how: 'VmHWM polling' };
}

/**
 * One untimed run of an Airlock command into a throwaway registry, so that the timed runs start
 * with the command's code cache written (a new bench bundle path has none yet).
 */
async function warmUp(args, dstArg) {
  const dst = await startRegistry('warm-up');
  try {
    const r = await run(process.execPath, [AIRLOCK, ...args, dstArg(dst.host)], { env: toolEnv, timeoutMs: 1_200_000, allowFail: true });
    if (r.code !== 0) throw new Error(`airlock warm-up (${args[0]}) failed (exit ${r.code}):\n${r.stderr.slice(-2000)}`);
  } finally {
    await dst.stop();
  }
}

/**
 * Start-up: `airlock --version` against a bare `node -e 0`, alternated, medians of 15 (after a
 * warm-up of each). What every CI job pays before any work, on top of Node itself.
 */
async function measureStartup() {
  const argvs = { node: [process.execPath, '-e', '0'], airlock: [process.execPath, AIRLOCK, '--version'] };
  const times = { node: [], airlock: [] };
  for (const a of Object.values(argvs)) await run(a[0], a.slice(1), { env: toolEnv });
  for (let i = 0; i < 15; i++) {
    for (const [k, a] of Object.entries(argvs)) times[k].push((await run(a[0], a.slice(1), { env: toolEnv })).ms);
  }
  const out = { nodeMs: median(times.node), airlockMs: median(times.airlock) };
  out.ratio = out.airlockMs / out.nodeMs;
  // CPU of a bare Node start: any Node tool pays it, the in-process relay of the ceiling section not.
  const cpus = [];
  for (let i = 0; i < 5; i++) cpus.push((await runTimed(argvs.node[0], argvs.node.slice(1), { env: toolEnv })).cpuS);
  out.nodeCpuS = median(cpus);
  log(`${stamp()} startup: node -e 0 ${sec(out.nodeMs)}, airlock --version ${sec(out.airlockMs)} (medians of 15)`);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------------------------
function target(name, value, pass, goal) {
  const na = /n\/a/.test(String(value));
  results.targets.push({ name, value, goal, pass: na ? null : pass });
  log(`  ${(na ? 'n/a' : pass ? 'PASS' : 'MISS').padEnd(5)} ${name.padEnd(44)} ${String(value).padEnd(22)} (target: ${goal})`);
}

async function main() {
  preflight();
  work = makeTempDir('work');
  toolEnv = makeEnv();
  log(`Airlock mirror benchmark — ${opts.quick ? 'QUICK' : 'full'} run, ${opts.rounds} round(s), ${os.cpus().length} CPUs, load ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  const from = opts.airlock ?? DIST_AIRLOCK;
  const built = statSync(from).mtime;
  if (opts.airlock) AIRLOCK = opts.airlock;
  else {
    // The bundle is self-contained: a private copy keeps the whole run on one build. Its path is
    // named by its content and kept, so its V8 code caches (keyed by path and command) stay warm
    // from one bench run to the next, as on a runner that runs Airlock every day.
    const content = readFileSync(from);
    const keep = path.join(os.tmpdir(), 'airlock-bench-bundles');
    mkdirSync(keep, { recursive: true });
    AIRLOCK = path.join(keep, `airlock-${createHash('sha256').update(content).digest('hex').slice(0, 16)}.cjs`);
    if (!existsSync(AIRLOCK)) writeFileSync(AIRLOCK, content, { mode: 0o755 });
  }
  results.airlock = { file: from, builtAt: built.toISOString(), bytes: statSync(from).size };
  const ver = (await run(process.execPath, [AIRLOCK, '--version'], { env: toolEnv })).stdout.trim();
  log(`airlock ${ver}: ${from} (built ${built.toISOString()}, ${mb(statSync(from).size)}); ${(await run('skopeo', ['--version'])).stdout.trim()}; node ${process.version}`);

  const src = await startRegistry('src');
  const needSet = want('loopback') || want('ceiling') || want('latency');
  // --- setup ---------------------------------------------------------------------------------
  if (needSet) await mirrorSections(src);
  let rss;
  if (want('rss')) rss = await measureRss(src);
  await src.stop();
  const startup = want('startup') ? await measureStartup() : undefined;
  summarize(rss, startup);
}

let layout;
async function mirrorSections(src) {
  const { images, layers, layerMb, sharedBase, rounds } = opts;
  const layoutDir = path.join(work, 'layout');
  log(`${stamp()} setup: mkimages ${images} images x ${layers} layers x ${layerMb} MB + ${sharedBase} MB shared base...`);
  const gen = await mkimages(layoutDir, ['--images', String(images), '--layers', String(layers), '--layer-mb', String(layerMb), '--shared-base', String(sharedBase)]);
  layout = readLayout(layoutDir);
  results.setup = { generateMs: gen.ms, uniqueBlobs: layout.blobs.length, uniqueBytes: layout.uniqueBytes, referencedBytes: layout.referencedBytes };
  log(`${stamp()} setup: ${layout.images.length} images, ${layout.blobs.length} unique blobs, ${mb(layout.uniqueBytes)} unique (${mb(layout.referencedBytes)} referenced; the shared base is stored once)`);

  const pushStart = performance.now();
  await pushLayout(layoutDir, layout.images.map((i) => i.tag), src.host, 'bench');
  log(`${stamp()} setup: pushed to source ${src.host} in ${sec(performance.now() - pushStart)}`);
  const listFile = path.join(work, 'images.txt');
  writeFileSync(listFile, layout.images.map((i) => `${src.host}/bench/${i.tag}:v1`).join('\n') + '\n');
  if (opts.tools.has('airlock')) await warmUp(['mirror', '--file', listFile, '--to'], (host) => `${host}/mirror`);

  // --- loopback (+ no-op re-run) and ceiling, interleaved per round ------------------------------
  for (let round = 1; round <= rounds; round++) {
    const order = round % 2 ? ['airlock', 'skopeo', 'ceiling'] : ['ceiling', 'skopeo', 'airlock'];
    for (const what of order) {
      if (what === 'ceiling') {
        if (want('ceiling')) await measureCeiling(round, layoutDir, layout, src);
      } else if (want('loopback') && opts.tools.has(what)) {
        await measureMirror({ section: 'loopback', round, tool: what, srcHost: src.host, srcReg: src, listFile, layout, noop: true, noopSection: 'noop' });
      }
    }
  }

  // --- latency ------------------------------------------------------------------------------
  if (want('latency')) {
    const proxy = await startDelayProxy({ target: src.host, delayMs: opts.delay });
    onAsyncCleanup(() => proxy.close());
    log(`${stamp()} latency: delay proxy ${proxy.host} -> ${src.host}, +${opts.delay} ms per request`);
    const latList = path.join(work, 'images-latency.txt');
    writeFileSync(latList, layout.images.map((i) => `${proxy.host}/bench/${i.tag}:v1`).join('\n') + '\n');
    for (let round = 1; round <= rounds; round++) {
      const order = round % 2 ? ['airlock', 'skopeo'] : ['skopeo', 'airlock'];
      for (const tool of order.filter((t) => opts.tools.has(t))) {
        const before = proxy.stats().requests;
        await measureMirror({ section: 'latency', round, tool, srcHost: proxy.host, srcReg: src, listFile: latList, layout, noop: true, noopSection: 'noop-lat' });
        if (opts.verbose) log(`            proxy: ${proxy.stats().requests - before} requests forwarded (mirror + no-op)`);
      }
    }
    results.proxy = proxy.stats();
    await proxy.close();
  }

}

function summarize(rss, startup) {
  const rounds = opts.rounds;
  const med = (section, tool) => median(results.runs.filter((r) => r.section === section && r.tool === tool).map((r) => r.ms));
  const S = results.summary;
  const uniqueBytes = layout?.uniqueBytes ?? NaN;
  S.uniqueBytes = uniqueBytes;
  S.loopback = { airlockMs: med('loopback', 'airlock'), skopeoMs: med('loopback', 'skopeo') };
  S.loopback.ratio = S.loopback.skopeoMs / S.loopback.airlockMs;
  S.ceiling = { ms: med('ceiling', 'raw-http') };
  S.ceiling.mibPerS = uniqueBytes / MB / (S.ceiling.ms / 1000);
  S.ceiling.airlockMibPerS = uniqueBytes / MB / (S.loopback.airlockMs / 1000);
  S.ceiling.skopeoMibPerS = uniqueBytes / MB / (S.loopback.skopeoMs / 1000);
  S.ceiling.airlockShare = S.ceiling.ms / S.loopback.airlockMs;
  S.ceiling.skopeoShare = S.ceiling.ms / S.loopback.skopeoMs;
  S.relay = { ms: med('relay', 'raw-http') };
  S.relay.mibPerS = uniqueBytes / MB / (S.relay.ms / 1000);
  S.relay.airlockShare = S.relay.ms / S.loopback.airlockMs;
  S.relay.skopeoShare = S.relay.ms / S.loopback.skopeoMs;
  // What this machine can do at best: a copy between two registries on the same cores needs at
  // least the CPU the relay run used (source registry + destination registry + a relay that does
  // nothing else); spread perfectly over every core that still takes relayCpu / cores seconds.
  // Verifying every byte adds at least one SHA-256 pass.
  const cpuMed = (section, pick, tool) => median(results.runs.filter((r) => r.section === section && r.cpu && (!tool || r.tool === tool)).map((r) => pick(r.cpu)));
  const cores = os.cpus().length;
  const relayCpu = cpuMed('relay', (c) => c.tool + c.src + c.dst);
  const hashCpu = Number.isFinite(uniqueBytes) ? hashCpuSeconds(uniqueBytes) : NaN;
  S.budget = {
    cores,
    ceilingDstCpuS: cpuMed('ceiling', (c) => c.dst),
    relaySrcCpuS: cpuMed('relay', (c) => c.src),
    relayDstCpuS: cpuMed('relay', (c) => c.dst),
    relayToolCpuS: cpuMed('relay', (c) => c.tool),
    hashCpuS: hashCpu,
    airlockCpuS: cpuMed('loopback', (c) => c.tool, 'airlock'),
  };
  S.budget.relayFloorMs = (relayCpu / cores) * 1000;
  S.budget.verifyingFloorMs = ((relayCpu + hashCpu) / cores) * 1000;
  S.budget.maxRelayShare = S.ceiling.ms / S.budget.relayFloorMs;
  S.budget.maxVerifyingShare = S.ceiling.ms / S.budget.verifyingFloorMs;
  S.latency = { delayMs: opts.delay, airlockMs: med('latency', 'airlock'), skopeoMs: med('latency', 'skopeo') };
  S.latency.ratio = S.latency.skopeoMs / S.latency.airlockMs;
  S.noop = { airlockMs: med('noop', 'airlock'), skopeoMs: med('noop', 'skopeo') };
  S.noop.ratio = S.noop.skopeoMs / S.noop.airlockMs;
  S.noopLatency = { airlockMs: med('noop-lat', 'airlock'), skopeoMs: med('noop-lat', 'skopeo') };
  S.noopLatency.ratio = S.noopLatency.skopeoMs / S.noopLatency.airlockMs;
  if (rss) S.rss = rss;
  if (rss?.airlock && rss?.skopeo) rss.ratio = rss.skopeo.ms / rss.airlock.ms;
  if (startup) S.startup = startup;
  // Airlock's own CPU against the least a verifying relay needs for the same bytes.
  S.budget.airlockCpuRatio = S.budget.airlockCpuS / (S.budget.relayToolCpuS + S.budget.hashCpuS);
  S.budget.airlockCpuPerGiB = S.budget.airlockCpuS / (uniqueBytes / (1024 * MB));

  log('');
  log(`Summary (medians of ${rounds} round(s)${layout ? `; ${layout.images.length} images, ${mb(uniqueBytes)} unique blob bytes` : ''})`);
  const row = (label, a, b, r) => log(`  ${label.padEnd(34)} airlock ${sec(a).padStart(9)}   skopeo ${sec(b).padStart(9)}   skopeo/airlock ${ratio(r)}`);
  if (want('loopback')) row('loopback mirror (fresh dst)', S.loopback.airlockMs, S.loopback.skopeoMs, S.loopback.ratio);
  if (want('ceiling')) {
    log(`  ${`ingest ceiling (POST+PUT x${opts.ceilingConcurrency})`.padEnd(34)} ${sec(S.ceiling.ms)} = ${S.ceiling.mibPerS.toFixed(1)} MiB/s`);
    if (want('loopback')) {
      log(`  ${'airlock vs ceiling'.padEnd(34)} ${S.ceiling.airlockMibPerS.toFixed(1)} MiB/s, ${pct(S.ceiling.airlockShare)} of the ceiling (ceiling time / airlock time)`);
      log(`  ${'skopeo vs ceiling'.padEnd(34)} ${S.ceiling.skopeoMibPerS.toFixed(1)} MiB/s, ${pct(S.ceiling.skopeoShare)} of the ceiling`);
    }
    log(`  ${`relay bound (GET src -> PUT dst x${opts.ceilingConcurrency})`.padEnd(34)} ${sec(S.relay.ms)} = ${S.relay.mibPerS.toFixed(1)} MiB/s${want('loopback') ? `; airlock reaches ${pct(S.relay.airlockShare)} of it, skopeo ${pct(S.relay.skopeoShare)} (info)` : ''}`);
    const b = S.budget;
    const f = (x) => (Number.isFinite(x) ? `${x.toFixed(2)}` : '?');
    log(`  ${'CPU budget (CPU-seconds)'.padEnd(34)} ceiling: dst registry ${f(b.ceilingDstCpuS)}; relay: src ${f(b.relaySrcCpuS)} + dst ${f(b.relayDstCpuS)} + relay ${f(b.relayToolCpuS)}; SHA-256 of ${mb(uniqueBytes)}: ${f(b.hashCpuS)}${Number.isFinite(b.airlockCpuS) ? `; airlock process ${f(b.airlockCpuS)}` : ''}`);
    log(`  ${'best share reachable here'.padEnd(34)} ${pct(b.maxRelayShare)} for any registry-to-registry copy, ${pct(b.maxVerifyingShare)} verifying every byte (that CPU over ${b.cores} cores, every cycle used: ${sec(b.verifyingFloorMs)})`);
  }
  if (want('latency')) row(`+${opts.delay} ms source latency`, S.latency.airlockMs, S.latency.skopeoMs, S.latency.ratio);
  if (want('loopback')) row('no-op re-run (loopback)', S.noop.airlockMs, S.noop.skopeoMs, S.noop.ratio);
  if (want('latency')) row(`no-op re-run (+${opts.delay} ms)`, S.noopLatency.airlockMs, S.noopLatency.skopeoMs, S.noopLatency.ratio);
  if (rss) {
    const rate = (x) => `${(rss.layerBytes / MB / (x.ms / 1000)).toFixed(1)} MiB/s`;
    const one = (name) => (rss[name] ? `${name} ${rss[name].peakRssMb.toFixed(1)} MB (${sec(rss[name].ms)}, ${rate(rss[name])})` : '');
    log(`  ${`peak RSS, one ${mb(rss.layerBytes)} layer`.padEnd(34)} ${one('airlock')}   ${one('skopeo')}`);
    if (rss.airlock?.cpu && rss.skopeo?.cpu) {
      const c = (x) => `${x.cpu.tool.toFixed(2)} s (registries: src ${x.cpu.src.toFixed(2)}, dst ${x.cpu.dst.toFixed(2)})`;
      log(`  ${'CPU, one big layer'.padEnd(34)} airlock ${c(rss.airlock)}   skopeo ${c(rss.skopeo)}`);
    }
  }
  if (want('loopback') && want('ceiling')) {
    const b = S.budget;
    log(`  ${'airlock CPU per unique GiB'.padEnd(34)} ${b.airlockCpuPerGiB.toFixed(2)} s; ${b.airlockCpuS.toFixed(2)} s against relay ${b.relayToolCpuS.toFixed(2)} + SHA-256 ${b.hashCpuS.toFixed(2)} = ${ratio(b.airlockCpuRatio)}`);
    if (startup?.nodeCpuS) {
      S.budget.airlockCpuRatioWithNode = b.airlockCpuS / (b.relayToolCpuS + b.hashCpuS + startup.nodeCpuS);
      log(`  ${''.padEnd(34)} (the relay runs inside this process; with a bare node start added, ${startup.nodeCpuS.toFixed(2)} s: ${ratio(S.budget.airlockCpuRatioWithNode)})`);
    }
  }
  if (startup) log(`  ${'start-up (--version vs node -e 0)'.padEnd(34)} ${sec(startup.airlockMs)} vs ${sec(startup.nodeMs)} = ${ratio(startup.ratio)}`);

  log('');
  log('Targets (issue 13)');
  if (rss?.ratio !== undefined) target(`one ${mb(rss.layerBytes)} layer: faster than skopeo`, ratio(rss.ratio), rss.ratio >= 1.25, '>= 1.25x');
  if (rss?.airlock) target(`peak RSS copying a ${opts.bigMb} MB layer`, `${rss.airlock.peakRssMb.toFixed(1)} MB`, rss.airlock.peakRssMb <= 80, '<= 80 MB');
  if (want('loopback') && want('ceiling')) {
    target('batch: share of the relay bound', pct(S.relay.airlockShare), S.relay.airlockShare >= 0.85, '>= 85%');
    target('CPU / (relay + one SHA-256)', ratio(S.budget.airlockCpuRatio), S.budget.airlockCpuRatio <= 1.1, '<= 1.10x');
  }
  if (want('loopback')) target('batch: faster than skopeo', ratio(S.loopback.ratio), S.loopback.ratio >= 2, '>= 2.00x');
  if (want('latency')) target(`+${opts.delay} ms latency: faster than skopeo`, ratio(S.latency.ratio), S.latency.ratio >= 3, '>= 3.00x');
  if (want('loopback')) target('no-op re-run: faster than skopeo', ratio(S.noop.ratio), S.noop.ratio >= 5, '>= 5.00x');
  if (startup) target('start-up vs bare node', ratio(startup.ratio), startup.ratio <= 2, '<= 2.00x');
  if (opts.quick) log('  (quick run: sizes are too small for the targets to mean much)');
  log(`\nTotal ${sec(performance.now() - t0)}; load now ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  results.finishedAt = new Date().toISOString();
  results.machine.loadavgEnd = os.loadavg();
  if (opts.json) {
    writeFileSync(opts.json, `${JSON.stringify(results, null, 2)}\n`);
    log(`results written to ${opts.json}`);
  }
}

await runBench(main, opts.timeoutMin);
