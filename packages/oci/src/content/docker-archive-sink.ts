import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, rm, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { DeterministicTar } from '../archive/tar-write.js';
import { type Digest, hexOf, isDigest } from '../digest/digest.js';
import { AirlockError } from '../errors.js';
import { OciLayout, REF_NAME } from '../layout/layout.js';
import { MediaType, isForeignLayer } from '../manifest/mediatypes.js';
import type { Manifest } from '../manifest/parse.js';
import type { Descriptor } from '../manifest/schema.js';
import { DOCKER_HUB, parseReference } from '../ref/reference.js';
import type { BlobOpener, UploadOutcome } from '../registry/upload.js';
import type { ContentSink } from './types.js';
import { DockerArchiveMediaType } from './docker-archive-source.js';

/**
 * A `docker save` archive as a destination: what `docker load` (and skopeo's docker-archive:)
 * reads. One platform per image, several images per archive (a mirror into one file).
 *
 * Blobs are collected, verified, in a staging directory beside the output; `close()` writes the
 * tar once, deterministically (images sorted by name, each blob once, mode 0644, mtime 0, uid/gid
 * 0), deleting each staged blob as soon as it is in the tar, so the disk holds about one copy. The
 * archive is written to a temp name and renamed. It is docker's own >= 25 layout: `blobs/sha256/…`
 * with the exact manifests (digests preserved for a later `docker-archive:` read), `oci-layout`,
 * `index.json`, `repositories`, and `manifest.json` last.
 */

const IMAGE_CONFIG_TYPES: ReadonlySet<string> = new Set([DockerArchiveMediaType.Config, 'application/vnd.oci.image.config.v1+json']);

interface StagedImage {
  manifest: Manifest & { kind: 'image' };
  /** Canonical names (`host/repo:tag`) given to this image. */
  names: Set<string>;
}

/** `docker.io/library/nginx:1` → `nginx:1`, as docker writes RepoTags. */
export function familiarName(name: string): string {
  const r = parseReference(name);
  let repo = r.registry === DOCKER_HUB ? r.repository : `${r.registry}/${r.repository}`;
  if (r.registry === DOCKER_HUB && /^library\/[^/]+$/.test(repo)) repo = repo.slice('library/'.length);
  return `${repo}:${r.tag ?? 'latest'}`;
}

/** Docker's chain ID of a layer stack (its top layer's ID in `repositories`). */
function chainId(diffIds: string[]): string {
  let chain = '';
  for (const d of diffIds) chain = chain === '' ? d : `sha256:${createHash('sha256').update(`${chain} ${d}`).digest('hex')}`;
  return chain.slice('sha256:'.length);
}

export class DockerArchiveSink implements ContentSink {
  readonly name: string;
  /** A docker archive holds one platform per image: the engine narrows an index to one manifest. */
  readonly onePlatform = true;
  /** Nor can it hold signatures or referrers: the engine does not send them. */
  readonly acceptsReferrers = false;
  readonly #images = new Map<Digest, StagedImage>();
  #staging: Promise<OciLayout> | undefined;
  readonly #stagingDir: string;

  constructor(readonly file: string) {
    this.name = `docker-archive:${file}`;
    this.#stagingDir = join(dirname(file), `.${basename(file)}.airlock-${randomBytes(6).toString('hex')}`);
  }

  #stage(): Promise<OciLayout> {
    this.#staging ??= OciLayout.openForWrite(this.#stagingDir);
    return this.#staging;
  }

  async resolve(reference: string): Promise<Digest | undefined> {
    if (isDigest(reference)) return this.#images.has(reference) ? reference : undefined;
    for (const [d, img] of this.#images) if (img.names.has(reference)) return d;
    return undefined;
  }

  async findManifest(reference: string): Promise<Manifest | undefined> {
    const d = await this.resolve(reference);
    return d ? this.#images.get(d)?.manifest : undefined;
  }

  async hasBlob(desc: Descriptor): Promise<boolean> {
    if (!this.#staging) return false;
    return (await this.#staging).hasBlob(desc.digest);
  }

  async pushBlob(desc: Descriptor, open: BlobOpener): Promise<UploadOutcome> {
    await (await this.#stage()).writeBlob(desc, await open());
    return 'uploaded';
  }

  async pushManifest(m: Manifest, reference: string): Promise<{ subjectProcessed: boolean }> {
    if (m.kind === 'index') {
      throw new AirlockError('USAGE', `${this.name} holds one platform per image; ${m.digest} is a multi-platform index`, { hint: 'choose one with --platform OS/ARCH' });
    }
    if (!IMAGE_CONFIG_TYPES.has(m.image.config.mediaType)) {
      throw new AirlockError('UNSUPPORTED_MEDIA_TYPE', `${this.name}: ${m.digest} is not a container image (config ${m.image.config.mediaType})`, {
        hint: 'docker load reads container images only; copy artifacts such as charts or signatures to a registry or an OCI layout',
      });
    }
    const foreign = m.image.layers.find((l) => isForeignLayer(l.mediaType));
    if (foreign) {
      throw new AirlockError('UNSUPPORTED_MEDIA_TYPE', `${this.name}: ${m.digest} has a non-distributable layer ${foreign.digest}`, {
        hint: 'such layers (Windows base layers) are never copied, so a docker archive of this image would be incomplete',
      });
    }
    let img = this.#images.get(m.digest);
    if (!img) {
      img = { manifest: m, names: new Set() };
      this.#images.set(m.digest, img);
    }
    if (!isDigest(reference)) {
      const r = parseReference(reference);
      if (r.digest || !r.tag) throw new AirlockError('USAGE', `${this.name}: "${reference}" is not an image name with a tag`, { hint: 'write docker-archive:FILE:NAME:TAG' });
      // A name points at one image: the last one written wins, as with docker tag.
      for (const other of this.#images.values()) other.names.delete(reference);
      img.names.add(reference);
    }
    return { subjectProcessed: false };
  }

  /** Write the archive from what was staged, then remove the staging directory. */
  async close(): Promise<void> {
    if (!this.#staging) return;
    const staging = await this.#staging.catch(() => undefined);
    try {
      if (staging && this.#images.size) await this.#write(staging);
    } finally {
      await rm(this.#stagingDir, { recursive: true, force: true });
    }
  }

  async #write(staging: OciLayout): Promise<void> {
    const sortKey = (i: StagedImage) => [...i.names].sort()[0] ?? `~${i.manifest.digest}`;
    const images = [...this.#images.values()].sort((a, b) => (sortKey(a) < sortKey(b) ? -1 : sortKey(a) > sortKey(b) ? 1 : 0));
    const tar = DeterministicTar.create(this.file);
    const written = new Set<string>();
    const blobName = (d: string) => `blobs/sha256/${hexOf(d as Digest)}`;
    const addBlob = async (desc: Descriptor) => {
      if (written.has(desc.digest)) return;
      const path = await staging.blobPath(desc.digest);
      let size: number;
      try {
        size = (await stat(path)).size;
      } catch {
        throw new AirlockError('NOT_FOUND', `${this.name}: blob ${desc.digest} was never written`, { hint: 'an image sent to the archive is incomplete' });
      }
      if (size !== desc.size) throw new AirlockError('DIGEST_MISMATCH', `${this.name}: staged blob ${desc.digest} has ${size} bytes, not ${desc.size}`);
      await tar.addStream(blobName(desc.digest), size, createReadStream(path));
      written.add(desc.digest);
      // The tar holds it now: keep the disk at about one copy.
      await unlink(path).catch(() => undefined);
    };
    const manifestJson: { Config: string; RepoTags: string[]; Layers: string[] }[] = [];
    const repositories: Record<string, Record<string, string>> = {};
    const indexEntries: Descriptor[] = [];
    const diffIdsOf = new Map<string, string[]>();
    try {
      for (const img of images) {
        const { config, layers } = img.manifest.image;
        if (!diffIdsOf.has(config.digest)) {
          const bytes = await readFile(await staging.blobPath(config.digest)).catch(() => undefined);
          let ids: unknown;
          try {
            ids = bytes ? (JSON.parse(bytes.toString('utf8')) as { rootfs?: { diff_ids?: unknown } }).rootfs?.diff_ids : undefined;
          } catch {
            ids = undefined;
          }
          diffIdsOf.set(config.digest, Array.isArray(ids) ? ids.filter((x): x is string => typeof x === 'string') : []);
        }
        const diffIds = diffIdsOf.get(config.digest)!;
        for (const l of layers) await addBlob(l);
        await addBlob(config);
        const names = [...img.names].sort();
        const tags = names.map(familiarName);
        manifestJson.push({ Config: blobName(config.digest), RepoTags: tags, Layers: layers.map((l) => blobName(l.digest)) });
        const top = diffIds.length ? chainId(diffIds) : undefined;
        for (const t of tags) {
          const colon = t.lastIndexOf(':');
          if (top) (repositories[t.slice(0, colon)] ??= {})[t.slice(colon + 1)] = top;
        }
        const desc = { mediaType: img.manifest.mediaType, digest: img.manifest.digest, size: img.manifest.bytes.length };
        if (names.length === 0) indexEntries.push(desc);
        for (const n of names) indexEntries.push({ ...desc, annotations: { 'io.containerd.image.name': n, [REF_NAME]: parseReference(n).tag ?? 'latest' } });
      }
      for (const img of images) {
        if (written.has(img.manifest.digest)) continue;
        await tar.addBytes(blobName(img.manifest.digest), img.manifest.bytes);
        written.add(img.manifest.digest);
      }
      await tar.addBytes('oci-layout', Buffer.from(JSON.stringify({ imageLayoutVersion: '1.0.0' })));
      await tar.addBytes('index.json', Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: indexEntries })));
      await tar.addBytes('repositories', Buffer.from(JSON.stringify(repositories)));
      await tar.addBytes('manifest.json', Buffer.from(JSON.stringify(manifestJson)));
      await tar.finish();
    } catch (e) {
      await tar.abort();
      throw e;
    }
  }
}
