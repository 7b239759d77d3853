import { createServer, request as httpRequest, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { makeImages, pushLayoutToRegistry, type ImageLayout } from '../helpers/images.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';

/** A forward proxy (absolute-form HTTP and CONNECT tunnels) that records what went through it. */
function startProxy(): Promise<{ url: string; seen: string[]; server: Server }> {
  const seen: string[] = [];
  const server = createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    const u = new URL(req.url!);
    const up = httpRequest({ host: u.hostname, port: u.port, path: u.pathname + u.search, method: req.method, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode!, r.headers);
      r.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  server.on('connect', (req, socket, head) => {
    seen.push(`CONNECT ${req.url}`);
    const [host, port] = req.url!.split(':');
    const up = connect(Number(port), host!, () => {
      socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      up.write(head);
      up.pipe(socket);
      socket.pipe(up);
    });
    up.on('error', () => socket.destroy());
    socket.on('error', () => up.destroy());
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen, server })));
}

describe('proxies from the environment', () => {
  let reg: TestRegistry;
  let images: ImageLayout;
  let proxy: Awaited<ReturnType<typeof startProxy>>;

  beforeAll(async () => {
    reg = await startRegistry();
    images = await makeImages({ images: 1, layers: 1, layerMb: 0.05, seed: 31 });
    await pushLayoutToRegistry(images.layoutDir, 'img-0', reg, 'p/src', 'v1');
    proxy = await startProxy();
  });
  afterAll(async () => {
    proxy?.server.close();
    await Promise.all([reg?.stop(), images?.remove()]);
  });

  it('HTTP_PROXY/HTTPS_PROXY carry the traffic; NO_PROXY bypasses them', async () => {
    const via = await runCli(['copy', `${reg.host}/p/src:v1`, `${reg.host}/p/dst:v1`], { env: { HTTP_PROXY: proxy.url, HTTPS_PROXY: proxy.url } });
    expect(via.code, via.stderr).toBe(0);
    // undici tunnels through the proxy with CONNECT (also for plain-HTTP registries)
    expect(proxy.seen.some((s) => s === `CONNECT ${reg.host}` || s.includes(`${reg.host}/v2/`)), proxy.seen.join('\n')).toBe(true);
    const before = proxy.seen.length;
    const direct = await runCli(['copy', `${reg.host}/p/src:v1`, `${reg.host}/p/dst2:v1`], { env: { HTTP_PROXY: proxy.url, HTTPS_PROXY: proxy.url, NO_PROXY: '127.0.0.1' } });
    expect(direct.code, direct.stderr).toBe(0);
    expect(proxy.seen.length).toBe(before);
  });
});
