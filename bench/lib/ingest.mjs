// The "ceiling": how fast the destination registry itself ingests the blobs, pushed straight from the
// OCI layout on disk with plain HTTP monolithic uploads (POST, then one PUT with the whole body),
// many in parallel, keep-alive. No source registry, no verification, no manifests: an upper bound
// for any tool that writes the same bytes into the same kind of registry on the same machine.
import { createReadStream, readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { pool, request } from './util.mjs';

function blobPath(layoutDir, digest) {
  const [alg, hex] = digest.split(':');
  return path.join(layoutDir, 'blobs', alg, hex);
}

/**
 * Read an OCI layout written by mkimages.py: tags, per-image manifest digests, and the unique blobs
 * (config + layers) in first-use order, each with the repository suffix (image index) of its
 * first use. Handles image indexes (multiarch) one level deep.
 */
export function readLayout(layoutDir) {
  const index = JSON.parse(readFileSync(path.join(layoutDir, 'index.json'), 'utf8'));
  const images = [];
  const blobs = new Map(); // digest -> { digest, size, image }
  let totalRefBytes = 0;
  const addBlob = (d, image) => {
    totalRefBytes += d.size;
    if (!blobs.has(d.digest)) blobs.set(d.digest, { digest: d.digest, size: d.size, image });
  };
  const walk = (desc, image) => {
    const m = JSON.parse(readFileSync(blobPath(layoutDir, desc.digest), 'utf8'));
    if (m.manifests) for (const c of m.manifests) walk(c, image);
    else {
      addBlob(m.config, image);
      for (const l of m.layers) addBlob(l, image);
    }
  };
  for (const desc of index.manifests) {
    const tag = desc.annotations?.['org.opencontainers.image.ref.name'];
    images.push({ tag, digest: desc.digest });
    walk(desc, tag);
  }
  const unique = [...blobs.values()];
  return {
    images,
    blobs: unique,
    uniqueBytes: unique.reduce((a, b) => a + b.size, 0),
    referencedBytes: totalRefBytes,
  };
}

/** POST an upload session, then PUT the whole blob with ?digest= (a monolithic upload). */
async function uploadMonolithic(registryUrl, repo, blob, openBody, agent) {
  const start = await request(`${registryUrl}/v2/${repo}/blobs/uploads/`, { method: 'POST', headers: { 'content-length': '0' }, agent });
  if (start.status !== 202) throw new Error(`POST upload ${repo}: HTTP ${start.status} ${start.body}`);
  const loc = new URL(start.headers.location, registryUrl);
  loc.searchParams.set('digest', blob.digest);
  const put = await request(loc.toString(), {
    method: 'PUT',
    headers: { 'content-type': 'application/octet-stream', 'content-length': String(blob.size) },
    body: await openBody(),
    agent,
    timeoutMs: 600_000,
  });
  if (put.status !== 201) throw new Error(`PUT ${blob.digest} to ${repo}: HTTP ${put.status} ${put.body}`);
}

/**
 * Push every unique blob of the layout into `registryUrl`, repository `${repoPrefix}/${image}`,
 * with `concurrency` parallel POST+PUT uploads. Returns { ms, bytes, blobs }.
 */
export async function pushBlobsRaw(layoutDir, layout, registryUrl, { repoPrefix = 'ceiling', concurrency = 8 } = {}) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency * 2 });
  // Largest first: the long uploads start early and the tail is made of small ones.
  const todo = [...layout.blobs].sort((a, b) => b.size - a.size);
  const started = performance.now();
  try {
    await pool(todo, concurrency, async (b) => {
      const body = () => createReadStream(blobPath(layoutDir, b.digest), { highWaterMark: 1024 * 1024 });
      await uploadMonolithic(registryUrl, `${repoPrefix}/${b.image}`, b, body, agent);
    });
  } finally {
    agent.destroy();
  }
  return { ms: performance.now() - started, bytes: layout.uniqueBytes, blobs: layout.blobs.length };
}

/** HEAD each tag's manifest at `registryUrl/${repoPrefix}/TAG_REPO:tag` and compare digests. */
export async function verifyMirror(registryUrl, layout, repoFor, tag) {
  const bad = [];
  await pool(layout.images, 8, async (img) => {
    const res = await request(`${registryUrl}/v2/${repoFor(img.tag)}/manifests/${tag}`, {
      method: 'HEAD',
      headers: { accept: 'application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json' },
    });
    const got = res.headers['docker-content-digest'];
    if (res.status !== 200 || got !== img.digest) bad.push(`${img.tag}: HTTP ${res.status} ${got ?? ''}`);
  });
  return bad;
}

/**
 * The "relay ceiling": every unique blob streamed straight from the source registry into a fresh
 * destination (GET from `srcUrl/${srcPrefix}/IMAGE`, POST + monolithic PUT into
 * `dstUrl/${dstPrefix}/IMAGE`), `concurrency` at a time, no verification, no manifests, no HEADs.
 * The bound for any registry-to-registry copy on this machine: it pays for the source registry and a
 * user-space relay, which the plain ceiling does not. Returns { ms, bytes, blobs }.
 */
export async function relayBlobs(srcUrl, layout, dstUrl, { srcPrefix = 'bench', dstPrefix = 'mirror/bench', concurrency = 8 } = {}) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency * 2 });
  const todo = [...layout.blobs].sort((a, b) => b.size - a.size);
  const started = performance.now();
  try {
    await pool(todo, concurrency, async (b) => {
      const body = () =>
        new Promise((resolve, reject) => {
          const req = http.get(`${srcUrl}/v2/${srcPrefix}/${b.image}/blobs/${b.digest}`, { agent }, (res) => {
            if (res.statusCode !== 200) {
              res.resume();
              reject(new Error(`GET ${b.digest}: HTTP ${res.statusCode}`));
            } else resolve(res);
          });
          req.on('error', reject);
        });
      await uploadMonolithic(dstUrl, `${dstPrefix}/${b.image}`, b, body, agent);
    });
  } finally {
    agent.destroy();
  }
  return { ms: performance.now() - started, bytes: layout.uniqueBytes, blobs: layout.blobs.length };
}
