/**
 * An independent check of cosign's signature format, written straight from cosign's spec with
 * node:crypto only. It shares no code with the product, so a bug in Airlock's signing cannot be
 * hidden by the same bug in its verification.
 */
import { createHash, createPublicKey, verify } from 'node:crypto';
import { rawRequest } from './net.js';

interface Layer {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
}

async function get(url: string, accept?: string): Promise<Buffer> {
  const r = await rawRequest(url, { headers: accept ? { accept } : {} });
  if (r.status !== 200) throw new Error(`GET ${url}: HTTP ${r.status}`);
  return r.body;
}

/** The layers of cosign's `sha256-<hex>.SUFFIX` tag, each blob fetched and sha256-checked. */
export async function cosignLayers(registryUrl: string, repo: string, digest: string, suffix: 'sig' | 'att' | 'sbom'): Promise<Array<{ layer: Layer; blob: Buffer }>> {
  const tag = `sha256-${digest.slice('sha256:'.length)}.${suffix}`;
  const manifest = JSON.parse((await get(`${registryUrl}/v2/${repo}/manifests/${tag}`, 'application/vnd.oci.image.manifest.v1+json')).toString()) as { layers: Layer[] };
  return Promise.all(
    manifest.layers.map(async (layer) => {
      const blob = await get(`${registryUrl}/v2/${repo}/blobs/${layer.digest}`);
      if (`sha256:${createHash('sha256').update(blob).digest('hex')}` !== layer.digest) throw new Error('blob digest mismatch');
      return { layer, blob };
    }),
  );
}

/** cosign's simple-signing check: ECDSA-SHA256 over the payload bytes, payload names the digest. */
export function checkSimpleSigning(blob: Buffer, layer: Layer, publicKeyPem: string, expectedDigest: string): { dockerReference: string; optional: unknown } {
  if (layer.mediaType !== 'application/vnd.dev.cosign.simplesigning.v1+json') throw new Error(`unexpected media type ${layer.mediaType}`);
  const sigB64 = layer.annotations?.['dev.cosignproject.cosign/signature'];
  if (!sigB64) throw new Error('no dev.cosignproject.cosign/signature annotation');
  if (!verify('sha256', blob, createPublicKey(publicKeyPem), Buffer.from(sigB64, 'base64'))) throw new Error('signature does not verify');
  const payload = JSON.parse(blob.toString()) as {
    critical: { identity: { 'docker-reference': string }; image: { 'docker-manifest-digest': string }; type: string };
    optional: unknown;
  };
  if (payload.critical.type !== 'cosign container image signature') throw new Error(`wrong type ${payload.critical.type}`);
  if (payload.critical.image['docker-manifest-digest'] !== expectedDigest) throw new Error('payload names another digest');
  return { dockerReference: payload.critical.identity['docker-reference'], optional: payload.optional };
}

/** DSSE (in-toto) envelope check: ECDSA-SHA256 over PAE(payloadType, payload). */
export function checkDsse(envelopeJson: Buffer, publicKeyPem: string): { payloadType: string; statement: { subject: Array<{ digest: Record<string, string> }>; predicateType: string; predicate: unknown } } {
  const env = JSON.parse(envelopeJson.toString()) as { payloadType: string; payload: string; signatures: Array<{ sig: string }> };
  const body = Buffer.from(env.payload, 'base64');
  const pae = Buffer.concat([
    Buffer.from(`DSSEv1 ${Buffer.byteLength(env.payloadType)} ${env.payloadType} ${body.length} `),
    body,
  ]);
  const ok = env.signatures.some((s) => verify('sha256', pae, createPublicKey(publicKeyPem), Buffer.from(s.sig, 'base64')));
  if (!ok) throw new Error('no DSSE signature verifies');
  return { payloadType: env.payloadType, statement: JSON.parse(body.toString()) };
}
