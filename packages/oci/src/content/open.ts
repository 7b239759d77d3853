import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Location } from '../ref/location.js';
import type { Registries } from '../registry/client.js';
import { LayoutRepo } from './layout-repo.js';
import { RegistryRepo } from './registry-repo.js';

export type Repository = RegistryRepo | LayoutRepo;

/**
 * Open the repository a location names, for reading and writing attachments (signatures, bundles):
 * a registry repository, or an OCI layout (which must already exist).
 */
export async function openRepository(loc: Location, registries: Registries): Promise<{ repo: Repository; reference: string }> {
  if (loc.kind === 'layout') {
    const repo = existsSync(join(loc.dir, 'oci-layout')) ? await LayoutRepo.sink(loc.dir) : await LayoutRepo.source(loc.dir);
    return { repo, reference: loc.tag ?? '' };
  }
  return {
    repo: new RegistryRepo(registries.client(loc.ref.registry), loc.ref.repository),
    reference: loc.ref.digest ?? loc.ref.tag ?? 'latest',
  };
}
