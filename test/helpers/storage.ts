import { createHash } from 'node:crypto';
import { createReadStream, existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { getManifestRaw, headRaw } from './oci-server.js';
import type { TestRegistry } from './registry.js';

/**
 * Checks on what a real docker-registry holds, independent of the code under test: its storage
 * directory re-hashed, and images read back over plain HTTP.
 */

/** Where docker-registry's filesystem driver keeps blob data: .../blobs/sha256/xx/<hex>/data. */
export function blobStore(reg: TestRegistry): string {
  return path.join(reg.dir, 'data', 'docker', 'registry', 'v2', 'blobs', 'sha256');
}

async function sha256File(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const c of createReadStream(file)) h.update(c as Buffer);
  return h.digest('hex');
}

/**
 * Re-hash every blob the registry has committed. Returns how many there are and the ones whose
 * content does not hash to their name (a corrupt blob committed), which must be none.
 */
export async function rehashStorage(reg: TestRegistry): Promise<{ blobs: number; corrupt: string[] }> {
  const root = blobStore(reg);
  const corrupt: string[] = [];
  let blobs = 0;
  if (!existsSync(root)) return { blobs, corrupt };
  for (const prefix of readdirSync(root)) {
    for (const hex of readdirSync(path.join(root, prefix))) {
      const data = path.join(root, prefix, hex, 'data');
      if (!existsSync(data)) continue;
      blobs++;
      if ((await sha256File(data)) !== hex) corrupt.push(`sha256:${hex}`);
    }
  }
  return { blobs, corrupt };
}

/**
 * Whether `repo:tag` at `reg` is exactly the image `digest`, with every blob its manifest names
 * present in that repository. Returns what is wrong, or undefined when it is complete.
 */
export async function imageProblem(reg: TestRegistry, repo: string, tag: string, digest: string): Promise<string | undefined> {
  const m = await getManifestRaw(reg.url, repo, tag);
  if (!m) return `${repo}:${tag} is missing`;
  if (m.digest !== digest) return `${repo}:${tag} is ${m.digest}, expected ${digest}`;
  const json = JSON.parse(m.bytes.toString('utf8')) as { config?: { digest: string }; layers?: { digest: string }[]; manifests?: { digest: string }[] };
  for (const child of json.manifests ?? []) {
    const p = await imageProblem(reg, repo, child.digest, child.digest);
    if (p) return p;
  }
  for (const b of [...(json.config ? [json.config] : []), ...(json.layers ?? [])]) {
    const h = await headRaw(reg.url, repo, 'blobs', b.digest);
    if (h.status !== 200) return `${repo}: blob ${b.digest} is missing (HEAD ${h.status})`;
  }
  return undefined;
}
