import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { AirlockError } from '../errors.js';
import type { Location } from '../ref/location.js';
import type { Registries } from '../registry/client.js';
import type { UploadOptions } from '../registry/upload.js';
import { DockerArchiveSink } from './docker-archive-sink.js';
import { DockerArchiveSource } from './docker-archive-source.js';
import { LayoutRepo } from './layout-repo.js';
import { RegistryRepo } from './registry-repo.js';
import type { ContentSink, ContentSource, Repository } from './types.js';

/**
 * The one place that knows which kind of endpoint a location is. A new transport (an archive, a
 * bundle) adds a `Location` kind and a case here; the engine and the steps do not change.
 */

export interface OpenOptions {
  registries: Registries;
  upload?: Omit<UploadOptions, 'mountFrom'>;
  /** Cancels writes to a layout sink (SIGINT/SIGTERM); registry requests are cancelled by their transport. */
  signal?: AbortSignal;
}

/** The reference to read at a location: its tag or digest ('' for a layout's only image). */
export function referenceOf(loc: Location): string {
  if (loc.kind === 'layout') return loc.tag ?? '';
  if (loc.kind === 'docker-archive') return loc.ref ?? '';
  return loc.ref.digest ?? loc.ref.tag ?? 'latest';
}

/** A stable key for a location's endpoint (one repository, one layout directory, one archive file). */
export function endpointKey(loc: Location): string {
  if (loc.kind === 'layout') return `layout:${resolve(loc.dir)}`;
  if (loc.kind === 'docker-archive') return `docker-archive:${resolve(loc.file)}`;
  return `registry:${loc.ref.registry}/${loc.ref.repository}`;
}

export async function openSource(loc: Location, opts: OpenOptions): Promise<ContentSource> {
  switch (loc.kind) {
    case 'layout':
      return LayoutRepo.source(loc.dir);
    case 'docker-archive':
      return DockerArchiveSource.open(loc.file);
    case 'registry':
      return new RegistryRepo(opts.registries.client(loc.ref.registry), loc.ref.repository, opts.upload);
  }
}

export async function openSink(loc: Location, opts: OpenOptions): Promise<ContentSink> {
  switch (loc.kind) {
    case 'layout':
      return LayoutRepo.sink(loc.dir, opts.signal ? { signal: opts.signal } : {});
    case 'docker-archive':
      return new DockerArchiveSink(loc.file);
    case 'registry':
      return new RegistryRepo(opts.registries.client(loc.ref.registry), loc.ref.repository, opts.upload);
  }
}

/**
 * Open the repository a location names, for reading and writing attachments (signatures, bundles):
 * a registry repository, or an OCI layout (which must already exist).
 */
export async function openRepository(loc: Location, registries: Registries): Promise<{ repo: Repository; reference: string }> {
  const reference = referenceOf(loc);
  switch (loc.kind) {
    case 'layout': {
      const repo = existsSync(join(loc.dir, 'oci-layout')) ? await LayoutRepo.sink(loc.dir) : await LayoutRepo.source(loc.dir);
      return { repo, reference };
    }
    case 'docker-archive':
      throw new AirlockError('USAGE', `${loc.input}: signatures and attachments cannot be stored in a docker archive`, {
        hint: 'sign the image in a registry or an OCI layout (oci:DIR:TAG)',
      });
    case 'registry':
      return { repo: new RegistryRepo(registries.client(loc.ref.registry), loc.ref.repository), reference };
  }
}
