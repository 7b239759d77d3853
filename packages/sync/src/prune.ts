import { toAirlockError, type Digest, type Registries } from '@airlock/oci';
import { headManifest } from './check.js';
import type { ManagedRepository } from './resolve.js';
import { ATTACHMENT_TAG } from './select.js';

export interface PruneEntry {
  /** `registry/repository:tag`. */
  reference: string;
  digest?: string;
  status: 'deleted' | 'would delete' | 'kept' | 'failed';
  /** Why it was kept or failed. */
  note?: string;
}

/**
 * `--prune`: in each destination repository a repository entry manages, the tags that left the
 * selection. Listed first (dry run: listed only), then deleted by manifest digest. A digest that a
 * kept tag also points at is never deleted (deleting a manifest removes every tag on it). The image's
 * cosign tags go with it. Repositories whose selection could not be worked out are left alone.
 */
export async function prune(repos: ManagedRepository[], registries: Registries, opts: { dryRun: boolean; log: (line: string) => void }): Promise<PruneEntry[]> {
  const out: PruneEntry[] = [];
  for (const repo of repos) {
    const name = `${repo.registry}/${repo.repository}`;
    if (!repo.complete) {
      opts.log(`prune: ${name} left alone (its selection in ${repo.where} could not be worked out)`);
      continue;
    }
    const client = registries.client(repo.registry);
    let tags: string[];
    try {
      tags = await client.listTags(repo.repository);
    } catch (e) {
      out.push({ reference: name, status: 'failed', note: `listing tags failed: ${toAirlockError(e).message}` });
      continue;
    }
    const images = tags.filter((t) => !ATTACHMENT_TAG.test(t));
    const gone = images.filter((t) => !repo.keep.has(t)).sort();
    if (!gone.length) continue;
    const heads = new Map<string, Digest | undefined>();
    await Promise.all(
      images.map(async (t) => {
        const h = await headManifest(client, repo.repository, t, false).catch(() => undefined);
        heads.set(t, h?.found ? h.digest : undefined);
      }),
    );
    const digest = (t: string) => heads.get(t);
    const keptDigests = new Map<string, string>();
    for (const t of images) if (repo.keep.has(t) && digest(t)) keptDigests.set(digest(t)!, t);
    const doomed = new Map<Digest, string[]>();
    for (const t of gone) {
      const d = digest(t);
      if (!d) {
        out.push({ reference: `${name}:${t}`, status: 'kept', note: 'its digest could not be read' });
        continue;
      }
      const keeper = keptDigests.get(d);
      if (keeper) {
        out.push({ reference: `${name}:${t}`, digest: d, status: 'kept', note: `same manifest as the selected tag ${keeper}` });
        continue;
      }
      doomed.set(d, [...(doomed.get(d) ?? []), t]);
    }
    for (const [d, ts] of doomed) {
      opts.log(`prune: ${ts.map((t) => `${name}:${t}`).join(', ')} (${d}) left the selection${opts.dryRun ? ': would delete' : ': deleting'}`);
    }
    for (const [d, ts] of doomed) {
      // The image's cosign signatures, attestations and SBOMs go with it.
      const attached = tags.filter((t) => t.startsWith(`sha256-${d.slice(7)}.`));
      if (opts.dryRun) {
        for (const t of [...ts, ...attached]) out.push({ reference: `${name}:${t}`, digest: d, status: 'would delete' });
        continue;
      }
      try {
        for (const t of attached) {
          const h = await headManifest(client, repo.repository, t, true);
          if (h.found && h.digest) await client.deleteManifest(repo.repository, h.digest);
          out.push({ reference: `${name}:${t}`, ...(h.found && h.digest ? { digest: h.digest } : {}), status: 'deleted' });
        }
        await client.deleteManifest(repo.repository, d);
        for (const t of ts) out.push({ reference: `${name}:${t}`, digest: d, status: 'deleted' });
      } catch (e) {
        const err = toAirlockError(e);
        for (const t of ts) out.push({ reference: `${name}:${t}`, digest: d, status: 'failed', note: err.hint ? `${err.message} (${err.hint})` : err.message });
      }
    }
  }
  return out;
}
