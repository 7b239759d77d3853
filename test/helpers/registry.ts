import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { makeClientCert, makeServerTls, makeSigningCert } from './certs.js';
import { freePort, rawRequest } from './net.js';
import { startTokenServer, type TokenServer, type TokenServerInfo } from './token-server.js';
import { makeTempDir } from './tmp.js';
import { requireTool, run } from './tools.js';

export type RegistryAuth = 'none' | 'htpasswd' | 'token';

export interface RegistryOptions {
  auth?: RegistryAuth;
  tls?: boolean;
  /** With tls: require a client certificate signed by the test CA (http.tls.clientcas). */
  clientAuth?: boolean;
  deleteEnabled?: boolean;
  /** Address to listen on; default 127.0.0.1 (a non-loopback one tests --insecure-registry). */
  bindAddress?: string;
  /** Milliseconds to wait for GET /v2/ to answer; default 15 s. */
  startTimeoutMs?: number;
}

export interface TestRegistry {
  /** "127.0.0.1:PORT" (or bindAddress:PORT) */
  host: string;
  /** "http(s)://127.0.0.1:PORT" */
  url: string;
  auth: RegistryAuth;
  tls: boolean;
  /** Temp dir holding config, storage (data/), certs; removed by stop(). */
  dir: string;
  /** Set for htpasswd and token modes. */
  username?: string;
  password?: string;
  /** PEM file and text of the CA that signed the server cert (tls only). */
  caFile?: string;
  caPem?: string;
  /** Dir laid out like /etc/docker/certs.d/HOST/ with ca.crt (tls only): skopeo --*-cert-dir. */
  certsDir?: string;
  /** With clientAuth: a client certificate and key the registry accepts (PEM files). */
  clientCertFile?: string;
  clientKeyFile?: string;
  /** The token issuer's live counters (token mode only). */
  tokenServer?: TokenServerInfo;
  /** What the registry has written on stderr so far (last 64 KiB). */
  stderr(): string;
  /** Kills the registry (and token issuer) and removes `dir`. Safe to call twice. */
  stop(): Promise<void>;
}

const SERVICE = 'airlock-test-registry';
const ISSUER = 'airlock-test-issuer';
const STDERR_KEEP = 64 * 1024;

/**
 * sh -c WATCHDOG NAME REGISTRY_BIN CONFIG DIR: runs the registry; a background reader kills it
 * once stdin reaches EOF. Exits with the registry's status and removes DIR.
 */
const WATCHDOG = [
  // sh gives background jobs /dev/null as stdin, so the pipe is kept on fd 3 for the reader.
  'exec 3<&0',
  '"$1" serve "$2" </dev/null 3<&- & reg=$!',
  '(cat <&3 >/dev/null; kill "$reg" 2>/dev/null) & watch=$!',
  // Our own stderr may be a dead pipe by now: writing to it would kill us before the cleanup.
  'exec 3<&- 2>/dev/null',
  'wait "$reg"; status=$?',
  'kill "$watch" 2>/dev/null',
  'rm -rf "$3"',
  'exit "$status"',
].join('\n');

// Registries still running when the test process exits are killed and their dirs removed.
const live = new Map<ChildProcess, string>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const [child, dir] of live) {
      child.stdin?.destroy();
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

interface Extras {
  config: Record<string, unknown>;
  username?: string;
  password?: string;
  caFile?: string;
  certsDir?: string;
  clientCertFile?: string;
  clientKeyFile?: string;
  token?: TokenServer;
}

async function setUpAuth(mode: RegistryAuth, dir: string, x: Extras): Promise<void> {
  if (mode === 'none') return;
  x.username = 'airlock';
  x.password = randomBytes(12).toString('hex');
  if (mode === 'htpasswd') {
    const { stdout } = await run('htpasswd', ['-Bbn', x.username, x.password]);
    const file = path.join(dir, 'htpasswd');
    writeFileSync(file, `${stdout.trim()}\n`);
    x.config.auth = { htpasswd: { realm: 'airlock-test', path: file } };
    return;
  }
  const tokenDir = path.join(dir, 'token');
  mkdirSync(tokenDir);
  const { certFile, keyFile } = await makeSigningCert(tokenDir);
  x.token = await startTokenServer({
    service: SERVICE,
    issuer: ISSUER,
    username: x.username,
    password: x.password,
    certFile,
    keyFile,
  });
  x.config.auth = {
    token: { realm: x.token.info.realm, service: SERVICE, issuer: ISSUER, rootcertbundle: certFile },
  };
}

async function setUpTls(dir: string, host: string, x: Extras, clientAuth = false): Promise<void> {
  const tlsDir = path.join(dir, 'tls');
  mkdirSync(tlsDir);
  const { caFile, certFile, keyFile } = await makeServerTls(tlsDir);
  x.caFile = caFile;
  // Only the CA goes here: skopeo reads *.cert/*.key in a cert dir as a client key pair.
  x.certsDir = path.join(dir, 'certs.d', host);
  mkdirSync(x.certsDir, { recursive: true });
  copyFileSync(caFile, path.join(x.certsDir, 'ca.crt'));
  (x.config.http as Record<string, unknown>).tls = { certificate: certFile, key: keyFile };
  if (clientAuth) {
    const client = await makeClientCert(tlsDir);
    x.clientCertFile = client.certFile;
    x.clientKeyFile = client.keyFile;
    (x.config.http as Record<string, { clientcas?: string[] }>).tls!.clientcas = [caFile];
  }
}

/**
 * Starts a private CNCF distribution (docker-registry) on a free loopback port. Several may run
 * at once. Retries on a fresh port if another process took the chosen one first.
 */
export async function startRegistry(opts: RegistryOptions = {}): Promise<TestRegistry> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(opts);
    } catch (err) {
      if (attempt >= 3 || !/address already in use/.test(String(err))) throw err;
    }
  }
}

async function startOnce(opts: RegistryOptions): Promise<TestRegistry> {
  const bin = requireTool('docker-registry');
  const auth = opts.auth ?? 'none';
  const tls = opts.tls ?? false;
  const dir = makeTempDir('registry');
  let token: TokenServer | undefined;
  let cleanup = async (): Promise<void> => {
    await token?.close();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const port = await freePort();
    const host = `${opts.bindAddress ?? '127.0.0.1'}:${port}`;
    const x: Extras = {
      config: {
        version: '0.1',
        log: { level: 'error', accesslog: { disabled: true } },
        storage: {
          filesystem: { rootdirectory: path.join(dir, 'data') },
          delete: { enabled: opts.deleteEnabled ?? false },
          maintenance: { uploadpurging: { enabled: false } },
        },
        // No http.debug: distribution only opens the debug server when debug.addr is set.
        http: { addr: host, secret: randomBytes(16).toString('hex'), headers: { 'X-Content-Type-Options': ['nosniff'] } },
        health: { storagedriver: { enabled: false } },
      },
    };
    await setUpAuth(auth, dir, x);
    token = x.token;
    if (tls) await setUpTls(dir, host, x, opts.clientAuth ?? false);
    // YAML is a superset of JSON, so the config is written as JSON.
    const configFile = path.join(dir, 'config.yml');
    writeFileSync(configFile, JSON.stringify(x.config, null, 2));

    // The registry runs under a tiny sh watchdog holding our end of a pipe: when this process
    // goes away for any reason (even SIGKILL), or stop() closes the pipe, the watchdog kills the
    // registry and removes its dir.
    const child = spawn('/bin/sh', ['-c', WATCHDOG, 'airlock-registry', bin, configFile, dir], {
      stdio: ['pipe', 'ignore', 'pipe'],
    });
    installExitHook();
    live.set(child, dir);
    let stderr = '';
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (s: string) => {
      stderr = (stderr + s).slice(-STDERR_KEEP);
    });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

    const caPem = x.caFile ? readFileSync(x.caFile, 'utf8') : undefined;
    const url = `${tls ? 'https' : 'http'}://${host}`;
    let stopped = false;
    const stop = async (): Promise<void> => {
      if (stopped) return;
      stopped = true;
      if (child.exitCode === null && child.signalCode === null) {
        child.stdin?.end();
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }
      live.delete(child);
      await token?.close();
      rmSync(dir, { recursive: true, force: true });
    };

    cleanup = stop;
    await waitReady(url, caPem, x.clientCertFile ? { cert: readFileSync(x.clientCertFile, 'utf8'), key: readFileSync(x.clientKeyFile!, 'utf8') } : {}, child, exited, () => stderr, opts.startTimeoutMs ?? 15_000);
    return {
      host,
      url,
      auth,
      tls,
      dir,
      username: x.username,
      password: x.password,
      caFile: x.caFile,
      caPem,
      certsDir: x.certsDir,
      clientCertFile: x.clientCertFile,
      clientKeyFile: x.clientKeyFile,
      tokenServer: token?.info,
      stderr: () => stderr,
      stop,
    };
  } catch (err) {
    await cleanup();
    throw err;
  }
}

/** Polls GET /v2/ until it answers 200 or 401; fails early if the registry exits. */
async function waitReady(
  url: string,
  ca: string | undefined,
  client: { cert?: string; key?: string },
  child: ChildProcess,
  exited: Promise<void>,
  stderr: () => string,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let died = false;
  void exited.then(() => {
    died = true;
  });
  let lastError = '';
  while (Date.now() < deadline) {
    if (died) {
      throw new Error(`docker-registry exited (${String(child.exitCode ?? child.signalCode)}) before answering:\n${stderr()}`);
    }
    try {
      const res = await rawRequest(`${url}/v2/`, { ca, ...client, timeoutMs: 2000 });
      if (res.status === 200 || res.status === 401) return;
      lastError = `GET /v2/ answered ${res.status}`;
    } catch (err) {
      lastError = err instanceof Error ? err.message : String(err);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`docker-registry at ${url} not ready after ${timeoutMs} ms (${lastError}); stderr:\n${stderr()}`);
}
