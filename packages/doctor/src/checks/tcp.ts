import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { type CheckResult, fail, pass } from '../model.js';
import type { ProxyRoute } from './proxy.js';

/** A connection that could not be made: the socket error code, or the proxy's answer to CONNECT. */
export class ConnectError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly proxyStatus?: number,
  ) {
    super(message);
  }
}

function connected(socket: Socket, event: 'connect' | 'secureConnect', timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new ConnectError('TIMEOUT', `no answer within ${Math.round(timeoutMs / 1000)} s`));
    }, timeoutMs);
    socket.once(event, () => {
      clearTimeout(timer);
      socket.removeAllListeners('error');
      resolve(socket);
    });
    socket.once('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      socket.destroy();
      reject(new ConnectError(e.code ?? 'ERROR', e.message));
    });
  });
}

/** Ask the proxy for a tunnel (HTTP CONNECT, as undici's ProxyAgent does, for https and http registries alike). */
function connectThrough(socket: Socket, via: ProxyRoute, host: string, timeoutMs: number): Promise<Socket> {
  const auth = via.url.username
    ? `Proxy-Authorization: Basic ${Buffer.from(`${decodeURIComponent(via.url.username)}:${decodeURIComponent(via.url.password)}`).toString('base64')}\r\n`
    : '';
  socket.write(`CONNECT ${host} HTTP/1.1\r\nHost: ${host}\r\n${auth}\r\n`);
  return new Promise((resolve, reject) => {
    let head = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new ConnectError('TIMEOUT', `the proxy did not answer CONNECT within ${Math.round(timeoutMs / 1000)} s`));
    }, timeoutMs);
    const onData = (d: Buffer) => {
      head += d.toString('latin1');
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      clearTimeout(timer);
      socket.off('data', onData);
      const status = Number(/^HTTP\/\d(?:\.\d)? (\d{3})/.exec(head)?.[1] ?? 0);
      if (status === 200) return resolve(socket);
      socket.destroy();
      reject(new ConnectError('PROXY_REFUSED', `the proxy answered CONNECT ${host} with HTTP ${status || '?'}`, status));
    };
    socket.on('data', onData);
    socket.once('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(new ConnectError(e.code ?? 'ERROR', e.message));
    });
    socket.once('end', () => {
      clearTimeout(timer);
      reject(new ConnectError('ECONNRESET', 'the proxy closed the connection'));
    });
  });
}

/** A TCP connection to host:port, directly or tunnelled through the proxy. The caller ends it. */
export async function openSocket(hostname: string, port: number, timeoutMs: number, via?: ProxyRoute): Promise<Socket> {
  if (!via) return connected(netConnect({ host: hostname, port }), 'connect', timeoutMs);
  const pport = Number(via.url.port) || (via.url.protocol === 'https:' ? 443 : 80);
  const phost = via.url.hostname.replace(/^\[|\]$/g, '');
  const socket =
    via.url.protocol === 'https:'
      ? await connected(tlsConnect({ host: phost, port: pport, servername: phost }), 'secureConnect', timeoutMs)
      : await connected(netConnect({ host: phost, port: pport }), 'connect', timeoutMs);
  const target = hostname.includes(':') ? `[${hostname}]:${port}` : `${hostname}:${port}`;
  return connectThrough(socket, via, target, timeoutMs);
}

export type Reach = { ok: true; remote?: string } | { ok: false; error: ConnectError };

export async function probeTcp(hostname: string, port: number, timeoutMs: number, via?: ProxyRoute): Promise<Reach> {
  try {
    const s = await openSocket(hostname, port, timeoutMs, via);
    const remote = s.remoteAddress ? `${s.remoteAddress}:${s.remotePort}` : undefined;
    s.destroy();
    return { ok: true, ...(remote ? { remote } : {}) };
  } catch (e) {
    return { ok: false, error: e instanceof ConnectError ? e : new ConnectError('ERROR', (e as Error).message) };
  }
}

const ID = 'tcp';
const TITLE = 'TCP';

export function tcpCheck(hostname: string, port: number, r: Reach, via?: ProxyRoute): CheckResult {
  const where = `${hostname.includes(':') ? `[${hostname}]` : hostname}:${port}`;
  if (r.ok) return pass(ID, TITLE, via ? `${where} reached through the proxy (${via.variable}, CONNECT tunnel)` : `${where} accepts connections${r.remote && !r.remote.startsWith(hostname) ? ` (${r.remote})` : ''}`);
  const e = r.error;
  const proxyName = via ? `the proxy ${via.url.host} (${via.variable})` : '';
  if (e.code === 'PROXY_REFUSED') {
    const fix =
      e.proxyStatus === 407
        ? `the proxy wants credentials: put them in ${via!.variable} (http://USER:PASSWORD@${via!.url.host})`
        : `the proxy cannot or will not reach ${where}: if the registry is internal, add it to NO_PROXY; otherwise ask the proxy's administrators to allow it`;
    return fail(ID, TITLE, `${e.message}`, fix);
  }
  const subject = via && !/CONNECT/.test(e.message) ? proxyName : where;
  switch (e.code) {
    case 'ECONNREFUSED':
      return fail(ID, TITLE, `${subject}: connection refused (nothing listens there)`, via ? `check the proxy address in ${via.variable}` : `is the registry running, and on this port? (no port means 443; docker-registry listens on 5000 by default)`);
    case 'TIMEOUT':
    case 'ETIMEDOUT':
      return fail(ID, TITLE, `${subject}: ${e.message}`, `a firewall is dropping the traffic, or the host is down: check the route and firewall rules to ${subject} (nc -vz ${where.replace(/:(\d+)$/, ' $1')})`);
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return fail(ID, TITLE, `${subject}: no route to the host (${e.code})`, 'check the network route from this machine (ip route; a VPN or another network may be needed)');
    default:
      return fail(ID, TITLE, `${subject}: ${e.code} ${e.message}`, 'check that the host is up and reachable from this machine');
  }
}
