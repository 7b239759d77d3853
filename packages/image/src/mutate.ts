import { AirlockError, MediaType, type Descriptor } from '@airlock/oci';

/**
 * Appending one layer to an image, as `crane append` / go-containerregistry's mutate.AppendLayers
 * do: pure functions from the base's documents to the new ones (JSON in, bytes out, deterministic).
 */

export interface LayerInfo {
  /** The compressed layer as the manifest lists it (media type chosen per manifest kind). */
  digest: Descriptor['digest'];
  size: number;
  /** sha256 of the uncompressed tar, for the config's rootfs.diff_ids. */
  diffId: string;
}

export interface ConfigChanges {
  /** `created` of the history entry (fixed, so a rebuild gives the same digest). */
  created: string;
  createdBy: string;
  comment?: string;
  /** KEY=VALUE entries set (replacing a same-named one). */
  env: Record<string, string>;
  /** A directory that must be on PATH (prepended when missing). */
  path?: string;
  labels: Record<string, string>;
  /** Remove the base's Entrypoint (CI runners start their own shell). */
  unsetEntrypoint: boolean;
}

type Json = Record<string, unknown>;

function parseJson(bytes: Buffer, what: string): Json {
  try {
    const v = JSON.parse(bytes.toString('utf8')) as unknown;
    if (v && typeof v === 'object' && !Array.isArray(v)) return v as Json;
  } catch {
    // reported below
  }
  throw new AirlockError('BAD_INPUT', `${what} is not a JSON object`, { hint: 'the base image is damaged or not a container image' });
}

/** The base config with the layer appended and the runtime settings changed. */
export function appendToConfig(configBytes: Buffer, layer: LayerInfo, ch: ConfigChanges, what = 'base image config'): Buffer {
  const cfg = parseJson(configBytes, what);
  const rootfs = (cfg.rootfs ?? { type: 'layers', diff_ids: [] }) as { type: string; diff_ids: string[] };
  if (!Array.isArray(rootfs.diff_ids)) throw new AirlockError('BAD_INPUT', `${what} has no rootfs.diff_ids`, { hint: 'the base is not a runnable image (an artifact?)' });
  cfg.rootfs = { ...rootfs, diff_ids: [...rootfs.diff_ids, layer.diffId] };
  const history = Array.isArray(cfg.history) ? (cfg.history as Json[]) : [];
  cfg.history = [...history, { created: ch.created, created_by: ch.createdBy, ...(ch.comment ? { comment: ch.comment } : {}) }];
  const c = { ...((cfg.config ?? {}) as Json) };
  let env = Array.isArray(c.Env) ? (c.Env as string[]).slice() : [];
  for (const [k, v] of Object.entries(ch.env)) env = [...env.filter((e) => !e.startsWith(`${k}=`)), `${k}=${v}`];
  if (ch.path) {
    const i = env.findIndex((e) => e.startsWith('PATH='));
    if (i < 0) env.push(`PATH=${ch.path}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`);
    else if (!env[i]!.slice(5).split(':').includes(ch.path)) env[i] = `PATH=${ch.path}:${env[i]!.slice(5)}`;
  }
  c.Env = env;
  if (ch.unsetEntrypoint) delete c.Entrypoint;
  c.Labels = { ...((c.Labels ?? {}) as Record<string, string>), ...ch.labels };
  cfg.config = c;
  return Buffer.from(JSON.stringify(cfg));
}

/** The layer media type that matches the manifest's family (Docker v2 or OCI). */
export function layerMediaType(manifestMediaType: string): string {
  return manifestMediaType === MediaType.DockerManifest ? 'application/vnd.docker.image.rootfs.diff.tar.gzip' : 'application/vnd.oci.image.layer.v1.tar+gzip';
}

/** The base manifest pointing at the new config, with the layer appended and base annotations. */
export function appendToManifest(manifestBytes: Buffer, mediaType: string, config: Descriptor, layer: LayerInfo, annotations: Record<string, string>): Buffer {
  const m = parseJson(manifestBytes, 'base manifest');
  const layers = (m.layers ?? []) as Descriptor[];
  const isOci = mediaType !== MediaType.DockerManifest;
  m.config = { ...(m.config as Json), digest: config.digest, size: config.size };
  m.layers = [...layers, { mediaType: layerMediaType(mediaType), digest: layer.digest, size: layer.size }];
  // Docker v2 manifests have no annotations field.
  if (isOci && Object.keys(annotations).length) m.annotations = { ...((m.annotations ?? {}) as Record<string, string>), ...annotations };
  return Buffer.from(JSON.stringify(m));
}

/** The base index listing the new platform manifests in place of the old ones (others dropped). */
export function replaceInIndex(indexBytes: Buffer, replaced: Map<string, Descriptor>, annotations: Record<string, string>): Buffer {
  const idx = parseJson(indexBytes, 'base index');
  const manifests = ((idx.manifests ?? []) as Descriptor[]).flatMap((d) => {
    const n = replaced.get(d.digest);
    return n ? [{ ...d, digest: n.digest, size: n.size }] : [];
  });
  idx.manifests = manifests;
  if (idx.mediaType !== MediaType.DockerManifestList && Object.keys(annotations).length) idx.annotations = { ...((idx.annotations ?? {}) as Record<string, string>), ...annotations };
  return Buffer.from(JSON.stringify(idx));
}
