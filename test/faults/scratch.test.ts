import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseLocation, runTransfers, type Registries } from '@airlock/oci';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';
import { registriesFor } from '../helpers/lib.js';
import { startOciServer, buildImage, buildArtifact, pushRaw, headRaw, listTagsRaw, type OciServer, hex } from '../helpers/oci-server.js';

describe('scratch', () => {
  let dst: TestRegistry; let src: OciServer; let mem2: OciServer; let regs: Registries;
  beforeAll(async () => { dst = await startRegistry(); src = await startOciServer(); mem2 = await startOciServer(); regs = registriesFor([dst]); });
  afterAll(async () => { await regs.close(); await dst.stop(); await src.close(); await mem2.close(); });

  for (const [label, upload] of [[process.env.L ?? "mono", JSON.parse(process.env.U ?? "{}")]] as const) {
    it(`corrupt ${label}`, async () => {
      const img = buildImage('c' + label, { layerSize: 300000 });
      for (const b of img.blobs) src.seedBlob('c/' + label, b.bytes);
      const bad = img.blobs[1]!;
      const flipped = Buffer.from(bad.bytes); flipped[1000] ^= 0xff;
      src.seedBlob('c/' + label, flipped, bad.desc.digest);
      src.seedManifest('c/' + label, img.bytes, img.mediaType, 'v1');
      const r = await runTransfers([{ source: parseLocation(`${src.host}/c/${label}:v1`), destination: parseLocation(`${dst.host}/c/${label}:v1`) }], { registries: regs, upload });
      console.log(label, JSON.stringify(r[0]!.error));
      console.log(await headRaw(dst.url, 'c/' + label, 'blobs', bad.desc.digest));
    });
    it(`truncated ${label}`, async () => {
      const img = buildImage('t' + label, { layerSize: 300000 });
      for (const b of img.blobs) src.seedBlob('t/' + label, b.bytes);
      const bad = img.blobs[1]!;
      src.seedManifest('t/' + label, img.bytes, img.mediaType, 'v1');
      src.hook = (req, res, url) => {
        if (req.method === 'GET' && url.pathname.endsWith(bad.desc.digest)) {
          res.writeHead(200, { 'content-length': bad.bytes.length });
          res.write(bad.bytes.subarray(0, 100000), () => res.socket?.destroy());
          return true;
        }
        return false;
      };
      const r = process.env.SINK === 'layout' ? [{error: 'skipped'}] : await runTransfers([{ source: parseLocation(`${src.host}/t/${label}:v1`), destination: parseLocation(`${dst.host}/t/${label}:v1`) }], { registries: regs, upload });
 await new Promise(r => setTimeout(r, 300)); console.log('---- after registry sink');
      src.hook = undefined;
      console.log('trunc', label, JSON.stringify(r[0]!.error));
      const dir = mkdtempSync(path.join(os.tmpdir(), 'x-'));
      src.hook = (req, res, url) => {
        if (req.method === 'GET' && url.pathname.endsWith(bad.desc.digest)) {
          res.writeHead(200, { 'content-length': bad.bytes.length });
          res.write(bad.bytes.subarray(0, 100000), () => res.socket?.destroy());
          return true;
        }
        return false;
      };
      const r2 = process.env.SINK === 'reg' ? [{error: 'skipped'}] as any : await runTransfers([{ source: parseLocation(`${src.host}/t/${label}:v1`), destination: parseLocation(`oci:${dir}:v1`) }], { registries: regs, upload });
      src.hook = undefined;
      console.log('trunc layout', label, JSON.stringify(r2[0]!.error), readdirSync(path.join(dir, 'blobs/sha256'))); await new Promise(r => setTimeout(r, 300));
    });
  }

  it('referrers rerun', async () => {
    const img = buildImage('r');
    await pushRaw(src.url, 'r/app', img, 'v1');
    const sbom = buildArtifact(img.desc, 'application/spdx+json', 'sbom');
    console.log(await pushRaw(src.url, 'r/app', sbom));
    console.log(src.referrers('r/app', img.digest));
    for (let i = 0; i < 2; i++) {
      const r = await runTransfers([{ source: parseLocation(`${src.host}/r/app:v1`), destination: parseLocation(`${mem2.host}/r/app:v1`) }], { registries: regs });
      console.log(JSON.stringify(r[0]));
      console.log(mem2.tags('r/app'), mem2.referrers('r/app', img.digest));
    }
    const r = await runTransfers([{ source: parseLocation(`${src.host}/r/app:v1`), destination: parseLocation(`${dst.host}/r/app:v1`) }], { registries: regs });
    console.log(JSON.stringify(r[0]), await listTagsRaw(dst.url, 'r/app'), hex(img.digest));
  });
});
