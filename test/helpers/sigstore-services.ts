/**
 * Fulcio and Rekor for keyless tests: @sigstore/mock's handlers served by real HTTP servers on
 * loopback, so the product's own bundles (separate processes) talk to them as to real instances.
 * Never the public-good services.
 */
import { createHash, generateKeyPairSync } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fulcioHandler, initializeCA, initializeCTLog, initializeTLog, rekorHandler } from '@sigstore/mock';

export interface SigstoreServices {
  fulcioURL: string;
  rekorURL: string;
  trustedRoot: object;
  /** A token Fulcio (mock) accepts, for this identity and issuer. */
  token: string;
  subject: string;
  issuer: string;
  close(): Promise<void>;
}

function listen(handler: (path: string, body: string) => Promise<{ statusCode: number; response: string; contentType?: string } | undefined>): Promise<{ server: Server; url: string }> {
  return new Promise((resolve) => {
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', async () => {
        const r = await handler(req.url ?? '/', body).catch((e: Error) => ({ statusCode: 500, response: String(e.message) }));
        if (!r) {
          res.writeHead(404).end();
          return;
        }
        res.writeHead(r.statusCode, { 'content-type': (r as { contentType?: string }).contentType ?? 'application/json' }).end(r.response);
      });
    });
    server.listen(0, '127.0.0.1', () => resolve({ server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }));
  });
}

export const SIGSTORE_TEST_SUBJECT = 'builder@airlock.test';
export const SIGSTORE_TEST_ISSUER = 'https://oidc.airlock.test';

export async function startSigstoreServices(): Promise<SigstoreServices> {
  const subject = SIGSTORE_TEST_SUBJECT;
  const issuer = SIGSTORE_TEST_ISSUER;
  const keyPair = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const ctlog = await initializeCTLog(keyPair);
  const ca = await initializeCA(keyPair, ctlog);
  // The Rekor URL is part of its entries; start the server first, then make the log for that URL.
  let rekorFn: ((body: string) => Promise<{ statusCode: number; response: string }>) | undefined;
  let rekorPath = '';
  const rekor = await listen(async (path, body) => (rekorFn && path.startsWith(rekorPath) ? rekorFn(rekordLike(body)) : undefined));
  const tlog = await initializeTLog(rekor.url, keyPair);
  const rh = rekorHandler(tlog, { strict: true });
  rekorFn = rh.fn as never;
  rekorPath = rh.path;
  const fh = fulcioHandler(ca, { strict: true });
  const fulcio = await listen(async (path, body) => (path.startsWith(fh.path) ? (fh.fn(body) as never) : undefined));

  const spki = keyPair.publicKey.export({ format: 'der', type: 'spki' });
  const keyId = createHash('sha256').update(spki).digest('base64');
  const start = new Date(Date.now() - 3600_000).toISOString();
  const trustedRoot = {
    mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
    tlogs: [{ baseUrl: rekor.url, hashAlgorithm: 'SHA2_256', publicKey: { rawBytes: spki.toString('base64'), keyDetails: 'PKIX_ECDSA_P256_SHA_256', validFor: { start } }, logId: { keyId } }],
    certificateAuthorities: [{ subject: { organization: 'mock', commonName: 'mock' }, uri: fulcio.url, certChain: { certificates: [{ rawBytes: Buffer.from(ca.rootCertificate as Uint8Array).toString('base64') }] }, validFor: { start } }],
    ctlogs: [{ baseUrl: 'https://ctlog.airlock.test', hashAlgorithm: 'SHA2_256', publicKey: { rawBytes: spki.toString('base64'), keyDetails: 'PKIX_ECDSA_P256_SHA_256', validFor: { start } }, logId: { keyId: Buffer.from(ctlog.logID as Uint8Array).toString('base64') } }],
    timestampAuthorities: [],
  };
  const b64url = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const token = `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url({ iss: issuer, sub: subject, aud: 'sigstore', exp: Math.floor(Date.now() / 1000) + 600 })}.c2ln`;
  return {
    fulcioURL: fulcio.url,
    rekorURL: rekor.url,
    trustedRoot,
    token,
    subject,
    issuer,
    close: async () => {
      await Promise.all([fulcio.server, rekor.server].map((s) => new Promise<void>((r) => s.close(() => r()))));
    },
  };
}

/** Real Rekor canonicalises a proposed `dsse` entry; the mock logs it verbatim. Do what Rekor does. */
export function rekordLike(body: string): string {
  const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
  const entry = JSON.parse(body);
  if (entry.kind === 'dsse' && entry.spec?.proposedContent) {
    const env = JSON.parse(entry.spec.proposedContent.envelope);
    entry.spec = {
      envelopeHash: { algorithm: 'sha256', value: sha256(entry.spec.proposedContent.envelope) },
      payloadHash: { algorithm: 'sha256', value: sha256(Buffer.from(env.payload, 'base64')) },
      signatures: env.signatures.map((s: { sig: string }) => ({ signature: s.sig, verifier: entry.spec.proposedContent.verifiers[0] })),
    };
  }
  return JSON.stringify(entry);
}
