import { formatReference, type ImageReference, type Manifest, platformString, type Registries, toAirlockError } from '@airlock/oci';
import { type CheckResult, fail, pass } from '../model.js';
import { readSmall } from '../io.js';

export type ImageObservation =
  | { ok: true; manifest: Manifest; platforms: string[]; extra: number }
  | { ok: false; code: string; message: string; hint?: string; tags?: string[] };

const short = (d: string) => `${d.slice(0, 19)}…`;

/** os/arch of a single-platform image, from its config blob. */
async function configPlatform(registries: Registries, ref: ImageReference, m: Extract<Manifest, { kind: 'image' }>): Promise<string | undefined> {
  if (!/config\.v1\+json$|container\.image\.v1\+json$/.test(m.image.config.mediaType)) return undefined;
  try {
    const body = await readSmall(await registries.client(ref.registry).getBlob(ref.repository, m.image.config));
    const c = JSON.parse(body.toString('utf8')) as { os?: string; architecture?: string; variant?: string };
    return c.os && c.architecture ? platformString({ os: c.os, architecture: c.architecture, ...(c.variant ? { variant: c.variant } : {}) }) : undefined;
  } catch {
    return undefined;
  }
}

export async function probeImage(registries: Registries, ref: ImageReference): Promise<ImageObservation> {
  const client = registries.client(ref.registry);
  try {
    const manifest = await client.getManifest(ref.repository, ref.digest ?? ref.tag ?? 'latest');
    if (manifest.kind === 'index') {
      const all = manifest.index.manifests.map((d) => (d.platform ? platformString(d.platform) : 'unknown'));
      // BuildKit stores attestation manifests in the index as platform unknown/unknown.
      const platforms = all.filter((p) => p !== 'unknown/unknown' && p !== 'unknown');
      return { ok: true, manifest, platforms, extra: all.length - platforms.length };
    }
    const p = await configPlatform(registries, ref, manifest);
    return { ok: true, manifest, platforms: p ? [p] : [], extra: 0 };
  } catch (e) {
    const err = toAirlockError(e);
    let tags: string[] | undefined;
    if (err.code === 'NOT_FOUND') tags = await client.listTags(ref.repository).catch(() => undefined);
    return { ok: false, code: err.code, message: err.message, ...(err.hint ? { hint: err.hint } : {}), ...(tags ? { tags } : {}) };
  }
}

const KIND: Record<string, string> = {
  'application/vnd.oci.image.index.v1+json': 'OCI index',
  'application/vnd.docker.distribution.manifest.list.v2+json': 'Docker manifest list',
  'application/vnd.oci.image.manifest.v1+json': 'OCI manifest',
  'application/vnd.docker.distribution.manifest.v2+json': 'Docker manifest',
};

export function imageCheck(o: ImageObservation, ref: ImageReference): CheckResult {
  const id = 'image';
  const title = 'Image';
  const name = formatReference(ref);
  if (o.ok) {
    const m = o.manifest;
    const kind = KIND[m.mediaType] ?? m.mediaType;
    const plats = o.platforms.length ? `${o.platforms.length} platform${o.platforms.length === 1 ? '' : 's'}: ${o.platforms.join(', ')}` : 'platform not stated';
    const extra = o.extra ? `, +${o.extra} attestation manifest${o.extra === 1 ? '' : 's'}` : '';
    return pass(id, title, `${name} → ${m.digest} (${kind}, ${plats}${extra})`);
  }
  if (o.code === 'NOT_FOUND') {
    // cosign's and the referrers fallback tags are not images anyone asks for by name.
    const tags = (o.tags ?? []).filter((t) => !/^sha256-[a-f0-9]{64}(\.\w+)?$/.test(t));
    const copyIn = `copy the image in first (airlock copy SRC ${ref.registry}/${ref.repository}:${ref.tag ?? 'TAG'})`;
    const fix = tags.length
      ? `${ref.repository} has ${tags.length === 1 ? 'tag' : `${tags.length} tags:`} ${tags.slice(0, 8).join(', ')}${tags.length > 8 ? ', …' : ''}: check the tag or digest, or ${copyIn}`
      : `${ref.repository} has no image tags: check the repository name, or ${copyIn}`;
    return fail(id, title, `${name}: not found${ref.digest ? ` (digest ${short(ref.digest)})` : ''}`, fix);
  }
  return fail(id, title, `${name}: ${o.message}`, o.hint ?? 'see the message');
}
