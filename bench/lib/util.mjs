// Small plain-JS helpers for the benchmark: temp dirs, child processes with time limits, cleanup on
// exit, loopback HTTP. No dependencies beyond Node itself.
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

// ---------------------------------------------------------------------------------------------
// Cleanup: everything registered here runs once, on normal exit, on SIGINT/SIGTERM/SIGHUP, and on
// an uncaught error. Async cleanups get a bounded grace period; synchronous ones always run.
// ---------------------------------------------------------------------------------------------
const syncCleanups = new Set();
const asyncCleanups = new Set();
let cleaning;

/** Register a synchronous cleanup (runs even in process.on('exit')). Returns an unregister function. */
export function onCleanup(fn) {
  syncCleanups.add(fn);
  return () => syncCleanups.delete(fn);
}

/** Register an async cleanup, awaited (at most `graceMs`) by cleanupAll(). */
export function onAsyncCleanup(fn) {
  asyncCleanups.add(fn);
  return () => asyncCleanups.delete(fn);
}

function runSync() {
  for (const fn of [...syncCleanups].reverse()) {
    syncCleanups.delete(fn);
    try {
      fn();
    } catch {
      /* best effort */
    }
  }
}

/** Run every cleanup (async ones first, bounded), then the synchronous ones. */
export function cleanupAll(graceMs = 8000) {
  if (!cleaning) {
    cleaning = (async () => {
      const fns = [...asyncCleanups].reverse();
      asyncCleanups.clear();
      let timer;
      await Promise.race([
        Promise.allSettled(fns.map((f) => Promise.resolve().then(f))),
        new Promise((r) => {
          timer = setTimeout(r, graceMs);
        }),
      ]);
      clearTimeout(timer);
      runSync();
    })();
  }
  return cleaning;
}

process.once('exit', runSync);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.once(sig, () => {
    process.stderr.write(`\n${sig}: cleaning up...\n`);
    void cleanupAll(4000).finally(() => process.exit(128 + (os.constants.signals[sig] ?? 1)));
  });
}

// ---------------------------------------------------------------------------------------------
// Temp dirs: airlock-bench-PID-XXXXXX, removed at exit; dirs of dead benchmark processes are reaped.
// ---------------------------------------------------------------------------------------------
const NAME = /^airlock-bench-(\d+)-/;
let reaped = false;

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err.code === 'EPERM';
  }
}

export function makeTempDir(kind = 'tmp') {
  if (!reaped) {
    reaped = true;
    for (const name of readdirSync(os.tmpdir())) {
      const pid = Number(NAME.exec(name)?.[1]);
      if (pid && pid !== process.pid && !alive(pid)) rmSync(path.join(os.tmpdir(), name), { recursive: true, force: true });
    }
  }
  const dir = mkdtempSync(path.join(os.tmpdir(), `airlock-bench-${process.pid}-${kind}-`));
  onCleanup(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

// ---------------------------------------------------------------------------------------------
// Child processes: each in its own process group, killed (group-wide) on timeout or at exit.
// ---------------------------------------------------------------------------------------------
const liveGroups = new Set();
onCleanup(() => {
  for (const pid of liveGroups) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
});

/**
 * Run a command; resolves { code, signal, stdout, stderr, ms }. Rejects on timeout (after killing
 * the whole process group) and, unless allowFail, on a non-zero exit.
 */
export function run(cmd, args, opts = {}) {
  const { timeoutMs = 600_000, env, cwd, allowFail = false, keep = 256 * 1024 } = opts;
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(cmd, args, { env: env ?? process.env, cwd, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    liveGroups.add(child.pid);
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s) => {
      stdout = (stdout + s).slice(-keep);
    });
    child.stderr.setEncoding('utf8').on('data', (s) => {
      stderr = (stderr + s).slice(-keep);
    });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }, timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      liveGroups.delete(child.pid);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      liveGroups.delete(child.pid);
      const ms = performance.now() - started;
      const res = { code, signal, stdout, stderr, ms };
      if (timedOut) return reject(Object.assign(new Error(`${cmd} ${args.join(' ')}: timed out after ${timeoutMs} ms\n${stderr.slice(-2000)}`), res));
      if (code !== 0 && !allowFail) {
        return reject(Object.assign(new Error(`${cmd} ${args.join(' ')}: exit ${code ?? signal}\n${stderr.slice(-4000)}`), res));
      }
      resolve(res);
    });
  });
}

/** Map with at most n in flight; rejects on the first failure (after the running ones settle). */
export async function pool(items, n, fn) {
  const out = new Array(items.length);
  let next = 0;
  let failure;
  const worker = async () => {
    while (failure === undefined && next < items.length) {
      const i = next++;
      try {
        out[i] = await fn(items[i], i);
      } catch (e) {
        failure ??= e;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker));
  if (failure !== undefined) throw failure;
  return out;
}

// ---------------------------------------------------------------------------------------------
// Network
// ---------------------------------------------------------------------------------------------
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** One HTTP request on loopback; body is a Buffer, string or Readable. Resolves { status, headers, body }. */
export function request(url, { method = 'GET', headers = {}, body, agent = false, timeoutMs = 30_000 } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers, agent, timeout: timeoutMs }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${url}: timed out`)));
    req.on('error', reject);
    if (body && typeof body.pipe === 'function') {
      body.on('error', (e) => req.destroy(e));
      body.pipe(req);
    } else req.end(body);
  });
}

// ---------------------------------------------------------------------------------------------
// Numbers
// ---------------------------------------------------------------------------------------------
export const MB = 1024 * 1024;
export const sec = (ms) => (Number.isFinite(ms) ? `${(ms / 1000).toFixed(2)} s` : 'n/a');
export const mb = (bytes) => `${(bytes / MB).toFixed(1)} MiB`;
export const ratio = (x) => (Number.isFinite(x) ? `${x.toFixed(2)}x` : 'n/a');
export const pct = (x) => (Number.isFinite(x) ? `${(x * 100).toFixed(0)}%` : 'n/a');

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  if (!s.length) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * Run a benchmark's main: cleanup always (registries, proxies, temp dirs), exit 1 on failure,
 * and give up after `timeoutMin` minutes (exit 3) so a stuck peer never holds the machine.
 */
export async function runBench(main, timeoutMin) {
  const deadline = setTimeout(() => {
    process.stderr.write(`\nbench: gave up after ${timeoutMin} min\n`);
    void cleanupAll().finally(() => process.exit(3));
  }, timeoutMin * 60_000);
  try {
    await main();
    clearTimeout(deadline);
    await cleanupAll();
  } catch (e) {
    clearTimeout(deadline);
    process.stderr.write(`\nbench failed: ${e?.stack ?? e}\n`);
    await cleanupAll();
    process.exitCode = 1;
  }
}
