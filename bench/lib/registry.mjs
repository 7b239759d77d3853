// Start private CNCF distribution (docker-registry 2.8) instances on 127.0.0.1 for the benchmark.
// Same idea as test/helpers/registry.ts, in plain JS: a tiny sh watchdog holds our end of a pipe, so
// the registry dies (and its dir is removed) whenever this process goes away, even on SIGKILL.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { freePort, makeTempDir, onAsyncCleanup, onCleanup, request, sleep } from './util.mjs';

const WATCHDOG = [
  'exec 3<&0',
  // The access log (Apache combined format, one line per request) goes to stdout: keep it in a file.
  '"$1" serve "$2" </dev/null >"$3/access.log" 2>>"$3/registry.log" 3<&- & reg=$!',
  '(cat <&3 >/dev/null; kill "$reg" 2>/dev/null) & watch=$!',
  'exec 3<&- 2>/dev/null',
  'wait "$reg"; status=$?',
  'kill "$watch" 2>/dev/null',
  'rm -rf "$3"',
  'exit "$status"',
].join('\n');

function findRegistryBin() {
  for (const p of ['/usr/bin/docker-registry', '/usr/local/bin/docker-registry', '/usr/bin/registry']) if (existsSync(p)) return p;
  throw new Error('docker-registry not found (apt-get install docker-registry)');
}

/**
 * Start a registry. Returns { host, url, dir, stats(fromOffset), logOffset(), stop() }.
 * `name` only labels the temp dir.
 */
export async function startRegistry(name = 'registry') {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(name);
    } catch (e) {
      if (attempt >= 3 || !/address already in use|not ready/.test(String(e))) throw e;
    }
  }
}

async function startOnce(name) {
  const bin = findRegistryBin();
  const dir = makeTempDir(name);
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  const config = {
    version: '0.1',
    log: { level: 'error', accesslog: { disabled: false } },
    storage: {
      filesystem: { rootdirectory: path.join(dir, 'data') },
      // As in the stock /etc/docker/registry/config.yml.
      cache: { blobdescriptor: 'inmemory' },
      delete: { enabled: false },
      maintenance: { uploadpurging: { enabled: false } },
    },
    http: { addr: host, secret: randomBytes(16).toString('hex'), headers: { 'X-Content-Type-Options': ['nosniff'] } },
    health: { storagedriver: { enabled: false } },
  };
  const configFile = path.join(dir, 'config.yml');
  writeFileSync(configFile, JSON.stringify(config, null, 2)); // YAML is a superset of JSON
  const child = spawn('/bin/sh', ['-c', WATCHDOG, 'airlock-bench-registry', bin, configFile, dir], { stdio: ['pipe', 'ignore', 'ignore'] });
  const exited = new Promise((r) => child.once('exit', r));
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    unSync();
    unAsync();
    if (child.exitCode === null && child.signalCode === null) {
      child.stdin.end();
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(t);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  // At exit: closing the pipe is enough (the watchdog kills the registry and removes the dir).
  const unSync = onCleanup(() => {
    child.stdin.destroy();
    rmSync(dir, { recursive: true, force: true });
  });
  const unAsync = onAsyncCleanup(stop);

  const url = `http://${host}`;
  const deadline = Date.now() + 15_000;
  let died = false;
  void exited.then(() => {
    died = true;
  });
  for (;;) {
    if (died) {
      const log = safeRead(path.join(dir, 'registry.log'));
      await stop();
      throw new Error(`docker-registry exited before answering: ${log}`);
    }
    try {
      const res = await request(`${url}/v2/`, { timeoutMs: 2000 });
      if (res.status === 200) break;
    } catch {
      /* not yet */
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`docker-registry at ${url} not ready after 15 s`);
    }
    await sleep(30);
  }
  const accessLog = path.join(dir, 'access.log');
  const regPid = findRegistryPid(child.pid);
  return {
    /** CPU seconds (user+system) the registry process has used so far; NaN if unknown. */
    cpu: () => cpuSeconds(regPid),
    host,
    url,
    dir,
    /** Bytes of access log so far: pass to stats() to count only later requests. */
    logOffset: () => (existsSync(accessLog) ? statSync(accessLog).size : 0),
    /** Request counts by kind from the access log (from a byte offset). */
    stats: (from = 0) => requestStats(safeRead(accessLog).slice(from)),
    /** The raw access log lines (from a byte offset). */
    log: (from = 0) => safeRead(accessLog).slice(from),
    stop,
  };
}

function safeRead(f) {
  try {
    return readFileSync(f, 'latin1');
  } catch {
    return '';
  }
}

/**
 * Classify access-log lines: `127.0.0.1 - - [date] "METHOD /path HTTP/1.1" status size "ref" "ua"`.
 * Returns { total, byKind: { 'HEAD blob 404': n, ... }, bytesIn?: n/a }.
 */
export function requestStats(text) {
  const byKind = {};
  let total = 0;
  for (const line of text.split('\n')) {
    const m = /"([A-Z]+) (\S+) HTTP\/[\d.]+" (\d{3})/.exec(line);
    if (!m) continue;
    total++;
    const [, method, p, status] = m;
    let what = 'other';
    if (p === '/v2/' || p === '/v2') what = 'ping';
    else if (/\/blobs\/uploads\/?\?.*mount=/.test(p)) what = 'upload-start(mount)';
    else if (/\/blobs\/uploads\/?(\?|$)/.test(p)) what = 'upload-start';
    else if (/\/blobs\/uploads\/[^/?]+/.test(p)) what = 'upload';
    else if (/\/blobs\/sha/.test(p)) what = 'blob';
    else if (/\/manifests\//.test(p)) what = 'manifest';
    else if (/\/tags\/list/.test(p)) what = 'tags';
    else if (/\/referrers\//.test(p)) what = 'referrers';
    const k = `${method} ${what} ${status}`;
    byKind[k] = (byKind[k] ?? 0) + 1;
  }
  return { total, byKind };
}

const CLK_TCK = 100; // getconf CLK_TCK on Linux

/** The docker-registry process under the sh watchdog (its child). */
function findRegistryPid(shPid) {
  try {
    const kids = readFileSync(`/proc/${shPid}/task/${shPid}/children`, 'utf8').trim().split(/\s+/).map(Number);
    for (const k of kids) {
      const cmd = readFileSync(`/proc/${k}/cmdline`, 'utf8');
      if (/registry/.test(cmd.split('\0')[0] ?? '')) return k;
    }
  } catch {
    /* not Linux, or gone */
  }
  return undefined;
}

/** utime+stime of a process in seconds, from /proc/PID/stat. */
export function cpuSeconds(pid) {
  if (!pid) return NaN;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / CLK_TCK; // fields 14 and 15 of stat(5)
  } catch {
    return NaN;
  }
}
