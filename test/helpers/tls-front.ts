import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { Agent, request as httpRequest } from 'node:http';
import { createServer, type Server } from 'node:https';
import { connect, createServer as createTcpServer, type AddressInfo, type Server as TcpServer, type Socket } from 'node:net';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { run } from './tools.js';

// Certificates with chosen names and lifetimes (expired ones too), and an HTTPS reverse proxy that
// puts any of them in front of a plain docker-registry, as nginx does in docker's own guide
// (X-Forwarded-Proto: https, so the registry's upload URLs stay https).

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
const serial = () => `0x1${randomBytes(7).toString('hex')}`;

export interface TestCa {
  certFile: string;
  keyFile: string;
}

/** A throw-away CA named `cn` in `dir` (CN.crt, CN.key). */
export async function makeCa(dir: string, cn: string): Promise<TestCa> {
  const base = path.join(dir, cn.replace(/\W+/g, '-'));
  await run('openssl', [
    'req', '-x509', ...EC, '-days', '30', '-keyout', `${base}.key`, '-out', `${base}.crt`, '-subj', `/CN=${cn}`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  return { certFile: `${base}.crt`, keyFile: `${base}.key` };
}

/**
 * A server certificate signed by `ca` for `san` (e.g. `IP:127.0.0.1,DNS:localhost`), valid for
 * `days` from now; `days: -1` makes one that expired a day ago.
 */
export async function makeServerCert(dir: string, ca: TestCa, name: string, opts: { san: string; days: number }): Promise<{ certFile: string; keyFile: string }> {
  const f = (ext: string) => path.join(dir, `${name}.${ext}`);
  await run('openssl', ['req', '-new', ...EC, '-keyout', f('key'), '-out', f('csr'), '-subj', `/CN=${name}`]);
  await writeFile(f('ext'), ['basicConstraints=critical,CA:FALSE', 'keyUsage=critical,digitalSignature', 'extendedKeyUsage=serverAuth', `subjectAltName=${opts.san}`, ''].join('\n'));
  await run('openssl', ['x509', '-req', '-in', f('csr'), '-CA', ca.certFile, '-CAkey', ca.keyFile, '-set_serial', serial(), '-days', String(opts.days), '-sha256', '-extfile', f('ext'), '-out', f('crt')]);
  return { certFile: f('crt'), keyFile: f('key') };
}

export interface TlsFront {
  /** 127.0.0.1:PORT */
  host: string;
  stop(): Promise<void>;
}

/**
 * HTTPS on a loopback port, forwarding every request to the plain-HTTP registry at `backend`.
 * `forwardedProto: false` leaves out X-Forwarded-Proto, as a misconfigured proxy does.
 */
export function startTlsFront(backend: string, cert: { certFile: string; keyFile: string }, opts: { forwardedProto?: boolean } = {}): Promise<TlsFront> {
  const [bhost, bport] = [backend.replace(/:\d+$/, ''), Number(backend.split(':').pop())];
  const agent = new Agent({ keepAlive: true });
  const server: Server = createServer({ cert: readFileSync(cert.certFile), key: readFileSync(cert.keyFile) }, (req, res) => {
    const up = httpRequest(
      { host: bhost, port: bport, method: req.method, path: req.url, agent, headers: { ...req.headers, ...(opts.forwardedProto === false ? {} : { 'x-forwarded-proto': 'https' }) } },
      (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      },
    );
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  server.on('tlsClientError', () => undefined);
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({
        host: `127.0.0.1:${(server.address() as AddressInfo).port}`,
        stop: () =>
          new Promise<void>((r) => {
            agent.destroy();
            server.closeAllConnections();
            server.close(() => r());
          }),
      }),
    ),
  );
}

export interface ConnectProxy {
  url: string;
  /** CONNECT targets seen, in order. */
  seen: string[];
  stop(): Promise<void>;
}

/** A forward proxy that only tunnels (HTTP CONNECT), recording each target. */
export function startConnectProxy(): Promise<ConnectProxy> {
  const seen: string[] = [];
  const sockets = new Set<Socket>();
  const server: TcpServer = createTcpServer((client) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    let head = '';
    const onData = (d: Buffer) => {
      head += d.toString('latin1');
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      client.off('data', onData);
      const target = /^CONNECT (\S+) HTTP/.exec(head)?.[1];
      if (!target) return client.end('HTTP/1.1 405 Method Not Allowed\r\n\r\n');
      seen.push(target);
      const i = target.lastIndexOf(':');
      const up = connect(Number(target.slice(i + 1)), target.slice(0, i).replace(/^\[|\]$/g, ''), () => {
        client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
        const rest = Buffer.from(head.slice(end + 4), 'latin1');
        if (rest.length) up.write(rest);
        up.pipe(client);
        client.pipe(up);
      });
      up.on('error', () => client.destroy());
      client.on('error', () => up.destroy());
    };
    client.on('data', onData);
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({
        url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        seen,
        stop: () =>
          new Promise<void>((r) => {
            for (const s of sockets) s.destroy();
            server.close(() => r());
          }),
      }),
    ),
  );
}
