import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, readdir } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { Readable } from 'node:stream';
import { AirlockError, EMPTY_CONFIG, type Digest, type Descriptor, parseManifest, MediaType, verifiedStream } from '@airlock/oci';
import { FILE_ARTIFACT_TYPE, TITLE_ANNOTATION, type BundleWriter, type FileEntry } from '@airlock/oci/archive';

/**
 * `files:` entries as OCI artifacts (as oras pushes files): an empty config, one layer per file
 * titled with its path (relative to the directory for a directory entry), sorted by path. Each file
 * is hashed now and re-read (and re-verified) when the bundle is written: a file changed in between
 * fails the write instead of producing a bundle that lies.
 */

interface FoundFile {
  abs: string;
  path: string;
}

async function walk(dir: string, root: string, where: string, out: FoundFile[]): Promise<void> {
  const names = (await readdir(dir)).sort();
  for (const n of names) {
    const abs = join(dir, n);
    const st = await lstat(abs);
    if (st.isSymbolicLink()) throw new AirlockError('BAD_INPUT', `${where}: ${abs} is a symbolic link`, { hint: 'bundles store regular files only; copy the link target into the directory instead' });
    if (st.isDirectory()) await walk(abs, root, where, out);
    else if (st.isFile()) out.push({ abs, path: relative(root, abs).split(sep).join('/') });
    else throw new AirlockError('BAD_INPUT', `${where}: ${abs} is not a regular file`);
  }
}

async function hashFile(abs: string): Promise<{ digest: Digest; size: number }> {
  const h = createHash('sha256');
  let size = 0;
  for await (const c of createReadStream(abs)) {
    h.update(c as Buffer);
    size += (c as Buffer).length;
  }
  return { digest: `sha256:${h.digest('hex')}`, size };
}

/** Store one files: entry in the bundle; returns its inventory entry. */
export async function addFiles(writer: BundleWriter, spec: { path: string; name: string; where: string }): Promise<FileEntry> {
  let st;
  try {
    st = await lstat(spec.path);
  } catch {
    throw new AirlockError('BAD_INPUT', `${spec.where}: cannot read ${spec.path}`, { hint: 'paths in files: are relative to airlock.yaml' });
  }
  const found: FoundFile[] = [];
  if (st.isDirectory()) await walk(spec.path, spec.path, spec.where, found);
  else if (st.isFile()) found.push({ abs: spec.path, path: spec.name.split('/').pop()! });
  else throw new AirlockError('BAD_INPUT', `${spec.where}: ${spec.path} is not a regular file or directory`);
  const layers: Descriptor[] = [];
  const files: FileEntry['files'] = [];
  for (const f of found) {
    const { digest, size } = await hashFile(f.abs);
    const desc: Descriptor = { mediaType: 'application/octet-stream', digest, size, annotations: { [TITLE_ANNOTATION]: f.path } };
    layers.push(desc);
    files.push({ path: f.path, digest, size });
    writer.addBlob(desc, async () => verifiedStream(createReadStream(f.abs), desc, `${spec.where}: ${f.abs}`, (e) => new AirlockError('BAD_INPUT', `${spec.where}: reading ${f.abs} failed: ${(e as Error).message}`)));
  }
  writer.addBlob(EMPTY_CONFIG, async () => Readable.from([Buffer.from('{}')]));
  const body = {
    schemaVersion: 2,
    mediaType: MediaType.OciManifest,
    artifactType: FILE_ARTIFACT_TYPE,
    config: EMPTY_CONFIG,
    layers,
    annotations: { [TITLE_ANNOTATION]: spec.name },
  };
  const m = parseManifest(Buffer.from(JSON.stringify(body)), MediaType.OciManifest, spec.where);
  writer.addManifest(m);
  writer.setRef(`files/${refSafe(spec.name)}`, { mediaType: m.mediaType, digest: m.digest, size: m.bytes.length });
  return { kind: 'file', name: spec.name, digest: m.digest, size: files.reduce((a, f) => a + f.size, 0), directory: st.isDirectory(), files };
}

/** A ref name (org.opencontainers.image.ref.name) from any file name: other characters become _. */
export function refSafe(name: string): string {
  return name.replace(/[^A-Za-z0-9._\-/]/g, '_').replace(/\/+/g, '/').replace(/^[/._-]+/, '') || 'file';
}
