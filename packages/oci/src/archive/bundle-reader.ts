import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { z, type ZodType } from 'zod';
import { type Digest, hexOf, isDigest, verifiedStream, verifyBytes } from '../digest/digest.js';
import { AirlockError } from '../errors.js';
import { REF_NAME } from '../layout/layout.js';
import { isForeignLayer, MAX_MANIFEST_BYTES } from '../manifest/mediatypes.js';
import { childrenOf, type Manifest, parseManifest } from '../manifest/parse.js';
import type { Descriptor } from '../manifest/schema.js';
import type { ContentSource } from '../content/types.js';
import { BUNDLE_FILES, type Inventory, inventorySchema, layoutIndexSchema, MAX_JSON_BYTES, type PartsFile, partsFileSchema } from './format.js';
import { partName } from './output.js';
import { PartsReader, type PartFile } from './random-access.js';
import { indexTar, type TarIndexEntry } from './tar.js';

/**
 * Reading a bundle: find its file or parts, check the structure (every header, every name, sizes,
 * the inventory's checksum) before anything is used, then serve images as a ContentSource whose
 * every manifest and blob is digest-checked as it is read. Nothing here writes anywhere.
 */

function damaged(msg: string, hint = 'the bundle is damaged or was altered; copy it again from the source medium'): AirlockError {
  return new AirlockError('LAYOUT', msg, { hint });
}

const PART_RE = /\.(\d{3,})$/;
const PARTS_SUFFIX = '.parts.json';

async function sizeOf(path: string): Promise<number | undefined> {
  try {
    const s = await stat(path);
    return s.isFile() ? s.size : undefined;
  } catch {
    return undefined;
  }
}

async function readJsonFile<T>(path: string, schema: ZodType<T>, limit: number, what: string): Promise<{ doc: T; bytes: Buffer }> {
  const size = await sizeOf(path);
  if (size === undefined) throw new AirlockError('BAD_INPUT', `cannot read ${path}`, { hint: `check the path of the ${what}` });
  if (size > limit) throw damaged(`${path}: ${size} bytes is too large for a ${what} (at most ${limit})`);
  const bytes = await readFile(path);
  return { doc: parseJson(bytes, schema, `${path}`), bytes };
}

function parseJson<T>(bytes: Buffer, schema: ZodType<T>, what: string): T {
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw damaged(`${what}: not valid JSON`);
  }
  const r = schema.safeParse(json);
  if (!r.success) {
    const i = r.error.issues[0];
    throw damaged(`${what}: invalid${i?.path.length ? ` at ${i.path.map(String).join('.')}` : ''}: ${i?.message ?? 'invalid'}`);
  }
  return r.data;
}

export interface BundleLocation {
  /** What to call the bundle in messages: the file, or the parts file. */
  display: string;
  parts: PartFile[];
  partsFile?: { path: string; doc: PartsFile };
}

/**
 * Where a bundle's bytes are: one file; or, split, its FILE.parts.json and parts. Accepts the file,
 * the parts file, the first (any) part, or the whole set of parts.
 */
export async function locateBundle(paths: string[]): Promise<BundleLocation> {
  if (!paths.length) throw new AirlockError('USAGE', 'no bundle given', { hint: 'pass the bundle FILE, its FILE.parts.json, or its parts' });
  const baseOf = (p: string) => (p.endsWith(PARTS_SUFFIX) ? p.slice(0, -PARTS_SUFFIX.length) : PART_RE.test(p) ? p.replace(PART_RE, '') : p);
  let partsPath: string | undefined;
  if (paths.length === 1) {
    const p = paths[0]!;
    if (p.endsWith(PARTS_SUFFIX)) partsPath = p;
    else if (PART_RE.test(p) && (await sizeOf(`${baseOf(p)}${PARTS_SUFFIX}`)) !== undefined) partsPath = `${baseOf(p)}${PARTS_SUFFIX}`;
    else {
      const size = await sizeOf(p);
      if (size !== undefined) return { display: p, parts: [{ path: p, size }] };
      if ((await sizeOf(`${p}${PARTS_SUFFIX}`)) !== undefined) partsPath = `${p}${PARTS_SUFFIX}`;
      else throw new AirlockError('BAD_INPUT', `cannot read bundle ${p}`, { hint: 'check the path: give the bundle file, its FILE.parts.json, or its first part FILE.001' });
    }
  } else {
    const bases = new Set(paths.map((p) => resolve(baseOf(p))));
    if (bases.size !== 1) throw new AirlockError('USAGE', `${paths.join(' ')} are not the parts of one bundle`, { hint: 'give one bundle: its file, its FILE.parts.json, or its parts FILE.001 FILE.002 …' });
    partsPath = `${baseOf(paths[0]!)}${PARTS_SUFFIX}`;
  }
  const { doc } = await readJsonFile(partsPath, partsFileSchema, MAX_JSON_BYTES.parts, 'parts file');
  const base = basename(partsPath.slice(0, -PARTS_SUFFIX.length));
  if (doc.bundle !== base) throw damaged(`${partsPath}: describes the parts of "${doc.bundle}", not of "${base}"`, 'keep FILE.parts.json beside the parts it was written with');
  doc.parts.forEach((p, i) => {
    const expected = partName(base, i + 1);
    if (p.name !== expected) throw damaged(`${partsPath}: part ${i + 1} is "${p.name}", expected "${expected}": the parts are listed in the wrong order`);
  });
  const dir = dirname(partsPath);
  if (paths.length > 1) {
    const listed = new Set(doc.parts.map((p) => resolve(join(dir, p.name))));
    for (const p of paths) if (!p.endsWith(PARTS_SUFFIX) && !listed.has(resolve(p))) throw damaged(`${p} is not a part listed in ${partsPath}`);
  }
  const parts: PartFile[] = [];
  let total = 0;
  for (const p of doc.parts) {
    const path = join(dir, p.name);
    const size = await sizeOf(path);
    if (size === undefined) throw damaged(`part ${p.name} is missing (${partsPath} lists ${doc.parts.length} parts)`, `copy every part ${base}.001 … ${partName(base, doc.parts.length).slice(base.length + 1)} into ${dir}`);
    if (size !== p.size) throw damaged(`part ${p.name} is ${size} bytes, ${basename(partsPath)} says ${p.size}: it is truncated or from another bundle`, `copy ${p.name} again`);
    parts.push({ path, size });
    total += size;
  }
  if (total !== doc.size) throw damaged(`${partsPath}: the parts add up to ${total} bytes, not the ${doc.size} it declares`);
  return { display: partsPath, parts, partsFile: { path: partsPath, doc } };
}

const layoutFileSchema = z.object({ imageLayoutVersion: z.string() });
/** Hash every part against FILE.parts.json: which part is damaged, or holds another part's bytes. */
export async function verifyParts(location: BundleLocation): Promise<VerifyProblem[]> {
  const declared = location.partsFile?.doc.parts;
  if (!declared) return [];
  const problems: VerifyProblem[] = [];
  for (const [i, part] of location.parts.entries()) {
    const h = createHash('sha256');
    for await (const c of createReadStream(part.path, { highWaterMark: 1 << 20 })) h.update(c as Buffer);
    const p = partProblem(h.digest('hex'), declared, i, location.partsFile!.path);
    if (p) problems.push(p);
  }
  return problems;
}

function partProblem(got: string, declared: PartsFile['parts'], i: number, partsPath: string): VerifyProblem | undefined {
  const d = declared[i]!;
  if (got === d.sha256) return undefined;
  const other = declared.find((o) => o.sha256 === got);
  return {
    where: d.name,
    message: `SHA-256 ${got} does not match ${basename(partsPath)} (${d.sha256})${other ? `: it holds what ${other.name} should, so the parts were swapped or renamed` : ': the part is damaged'}`,
  };
}

const BLOB_RE = /^blobs\/sha256\/([a-f0-9]{64})$/;
const LAYOUT_DIRS = new Set(['blobs', 'blobs/sha256']);
const META = new Set<string>(Object.values(BUNDLE_FILES));

export interface VerifyProblem {
  /** A part, an entry or a blob. */
  where: string;
  message: string;
}

export class BundleArchive {
  readonly ra: PartsReader;
  readonly entries = new Map<string, TarIndexEntry>();
  readonly blobs = new Map<Digest, TarIndexEntry>();
  inventory!: Inventory;
  inventoryBytes!: Buffer;
  inventoryDigest!: Digest;
  signature?: Buffer;
  refs = new Map<string, Descriptor>();

  private constructor(readonly location: BundleLocation) {
    this.ra = new PartsReader(location.parts);
  }

  get display(): string {
    return this.location.display;
  }

  /** Open and check the structure; refuses (throws) before anything from the bundle is used. */
  static async open(paths: string[]): Promise<BundleArchive> {
    const a = new BundleArchive(await locateBundle(paths));
    try {
      await a.#load();
    } catch (e) {
      await a.close();
      throw e;
    }
    return a;
  }

  async #load(): Promise<void> {
    for (const e of await indexTar(this.ra)) {
      const blob = BLOB_RE.exec(e.name);
      if (e.type === 'directory') {
        if (!LAYOUT_DIRS.has(e.name)) throw this.#outside(e);
      } else if (blob) {
        this.blobs.set(`sha256:${blob[1]}`, e);
      } else if (!META.has(e.name)) {
        throw this.#outside(e);
      }
      this.entries.set(e.name, e);
    }
    const layout = parseJson(await this.#json(BUNDLE_FILES.layout, MAX_JSON_BYTES.layout), layoutFileSchema, this.#what(BUNDLE_FILES.layout));
    if (layout.imageLayoutVersion !== '1.0.0') throw damaged(`${this.#what(BUNDLE_FILES.layout)}: unsupported imageLayoutVersion ${layout.imageLayoutVersion}`);
    const index = parseJson(await this.#json(BUNDLE_FILES.index, MAX_JSON_BYTES.index), layoutIndexSchema, this.#what(BUNDLE_FILES.index));
    this.inventoryBytes = await this.#json(BUNDLE_FILES.inventory, MAX_JSON_BYTES.inventory);
    this.inventoryDigest = `sha256:${createHash('sha256').update(this.inventoryBytes).digest('hex')}`;
    const sum = (await this.#json(BUNDLE_FILES.checksum, MAX_JSON_BYTES.checksum)).toString('utf8');
    const m = /^([a-f0-9]{64}) {2}airlock-inventory\.json\n?$/.exec(sum);
    if (!m) throw damaged(`${this.#what(BUNDLE_FILES.checksum)}: not a "HEX  airlock-inventory.json" line`);
    if (`sha256:${m[1]}` !== this.inventoryDigest) throw damaged(`${this.#what(BUNDLE_FILES.inventory)}: its SHA-256 ${hexOf(this.inventoryDigest)} does not match ${BUNDLE_FILES.checksum} (${m[1]})`);
    const pf = this.location.partsFile;
    if (pf && pf.doc.inventory !== this.inventoryDigest) throw damaged(`${pf.path} was written for inventory ${pf.doc.inventory}, the parts hold ${this.inventoryDigest}`, 'the parts come from different bundles');
    this.inventory = parseJson(this.inventoryBytes, inventorySchema, this.#what(BUNDLE_FILES.inventory));
    if (this.entries.has(BUNDLE_FILES.signature)) this.signature = await this.#json(BUNDLE_FILES.signature, MAX_JSON_BYTES.signature);
    // What the inventory says is stored must be exactly what the tar holds.
    const listed = new Map(this.inventory.blobs.map((b) => [b.digest, b.size]));
    for (const [d, e] of this.blobs) {
      const size = listed.get(d);
      if (size === undefined) throw damaged(`${this.#what(e.name)}: blob ${d} is not listed in the inventory`);
      if (size !== e.size) throw damaged(`${this.#what(e.name)}: blob ${d} is ${e.size} bytes, the inventory says ${size}`);
    }
    for (const d of listed.keys()) if (!this.blobs.has(d)) throw damaged(`${this.display}: blob ${d} listed in the inventory is missing from the archive`);
    for (const d of index.manifests) {
      const name = d.annotations?.[REF_NAME];
      if (!name) continue;
      if (!this.blobs.has(d.digest)) throw damaged(`${this.#what(BUNDLE_FILES.index)}: ${name} points at ${d.digest}, which the bundle does not hold`);
      this.refs.set(name, d);
    }
    // Each entry of the inventory must be what index.json names (the signature covers the inventory).
    for (const e of this.inventory.entries) {
      const ref = e.kind === 'image' ? e.name : e.kind === 'chart' ? `charts/${e.name}:${e.version.replace(/\+/g, '_')}` : undefined;
      if (ref !== undefined && this.refs.get(ref)?.digest !== e.digest) throw damaged(`${this.#what(BUNDLE_FILES.index)}: ${ref} does not point at ${e.digest} as the inventory says`);
      if (!this.blobs.has(e.digest)) throw damaged(`${this.display}: the inventory's ${e.kind} ${e.name} (${e.digest}) is not in the archive`);
    }
  }

  #outside(e: TarIndexEntry): AirlockError {
    return damaged(`${this.ra.where(e.headerOffset)}: entry "${e.name}" is outside the bundle layout (only oci-layout, index.json, the inventory files and blobs/sha256/<hex> belong there)`);
  }

  #what(name: string): string {
    const e = this.entries.get(name);
    return e ? `${this.display}: ${name} (${this.ra.where(e.headerOffset)})` : `${this.display}: ${name}`;
  }

  async #json(name: string, limit: number): Promise<Buffer> {
    const e = this.entries.get(name);
    if (!e || e.type !== 'file') throw damaged(`${this.display}: ${name} is missing: not an Airlock bundle`, 'give a bundle written by airlock bundle create');
    if (e.size > limit) throw damaged(`${this.#what(name)}: ${e.size} bytes is larger than the ${limit} bytes allowed`);
    return this.ra.read(e.offset, e.size);
  }

  /** The previous bundle's blobs this one relies on. */
  isExternal(d: Digest): boolean {
    return this.inventory.external.some((b) => b.digest === d);
  }

  async readManifest(desc: Pick<Descriptor, 'digest' | 'mediaType'>, label = this.display): Promise<Manifest> {
    const e = this.blobs.get(desc.digest);
    const what = `${label}@${desc.digest}`;
    if (!e) throw new AirlockError('NOT_FOUND', `${what}: manifest not in the bundle`, this.isExternal(desc.digest) ? { hint: 'an earlier bundle carried it: load that bundle first' } : {});
    if (e.size > MAX_MANIFEST_BYTES) throw new AirlockError('MANIFEST_TOO_LARGE', `${what}: manifest of ${e.size} bytes exceeds 4 MiB`);
    const bytes = await this.ra.read(e.offset, e.size);
    verifyBytes(bytes, desc.digest, `${what} (${this.ra.where(e.offset)})`);
    return parseManifest(bytes, desc.mediaType || undefined, what, desc.digest);
  }

  /** A blob's content, verified as it streams; a mismatch names the part and offset. */
  openBlob(desc: Descriptor, opts: { onProgress?: (n: number) => void } = {}, label = this.display): Readable {
    const e = this.blobs.get(desc.digest);
    const what = `${label} blob ${desc.digest}`;
    if (!e) {
      throw new AirlockError('NOT_FOUND', `${what} is not in the bundle`, {
        hint: this.isExternal(desc.digest) ? `an earlier bundle carried it (inventory ${this.inventory.previous?.inventory ?? '?'}): load that bundle into the same destination first` : 'the bundle is incomplete',
      });
    }
    if (e.size !== desc.size) throw new AirlockError('DIGEST_MISMATCH', `${what}: ${e.size} bytes in the bundle, the manifest says ${desc.size}`);
    const readError = (err: unknown) => new AirlockError('LAYOUT', `${what}: reading failed: ${(err as Error).message}`, { cause: err });
    return verifiedStream(this.ra.stream(e.offset, e.size), desc, `${what} (${this.ra.where(e.offset)})`, readError, opts.onProgress);
  }

  /** One repository of the bundle as a source for the transfer engine. */
  source(repository: string): ContentSource {
    return new BundleSource(this, repository);
  }

  /**
   * Read every byte once: each part against FILE.parts.json, each blob against its digest; then
   * every manifest's children must be present (or carried by the earlier bundle). Problems are
   * returned, each naming its part, entry or blob; nothing stops at the first.
   */
  async verifyAll(onProgress?: (bytes: number) => void): Promise<VerifyProblem[]> {
    const problems: VerifyProblem[] = [];
    const sorted = [...this.blobs.entries()].sort((a, b) => a[1].offset - b[1].offset);
    let k = 0;
    let current: { digest: Digest; e: TarIndexEntry; hash: Hash } | undefined;
    let global = 0;
    const declared = this.location.partsFile?.doc.parts;
    for (const [i, part] of this.location.parts.entries()) {
      const partHash = createHash('sha256');
      for await (const raw of createReadStream(part.path, { highWaterMark: 1 << 20 })) {
        const chunk = raw as Buffer;
        partHash.update(chunk);
        let off = 0;
        while (off < chunk.length) {
          const pos = global + off;
          if (current) {
            const end = current.e.offset + current.e.size;
            const take = Math.min(chunk.length - off, end - pos);
            current.hash.update(chunk.subarray(off, off + take));
            off += take;
            if (pos + take === end) {
              this.#check(current.digest, current.e, current.hash, problems);
              current = undefined;
            }
            continue;
          }
          const next = sorted[k];
          if (!next) break;
          if (next[1].size === 0) {
            this.#check(next[0], next[1], createHash('sha256'), problems);
            k++;
            continue;
          }
          if (next[1].offset >= global + chunk.length) break;
          off = Math.max(off, next[1].offset - global);
          current = { digest: next[0], e: next[1], hash: createHash('sha256') };
          k++;
        }
        global += chunk.length;
        onProgress?.(chunk.length);
      }
      if (declared?.[i]) {
        const p = partProblem(partHash.digest('hex'), declared, i, this.location.partsFile!.path);
        if (p) problems.push(p);
      }
    }
    for (; k < sorted.length; k++) {
      const [d, e] = sorted[k]!;
      if (e.size === 0) this.#check(d, e, createHash('sha256'), problems);
      else problems.push({ where: `blob ${d}`, message: 'not read: the archive ended before it' });
    }
    if (!problems.length) problems.push(...(await this.#checkGraph()));
    return problems;
  }

  #check(digest: Digest, e: TarIndexEntry, hash: Hash, problems: VerifyProblem[]): void {
    const got = `sha256:${hash.digest('hex')}`;
    if (got !== digest) problems.push({ where: `blob ${digest} (${this.ra.where(e.offset)})`, message: `content digest ${got} does not match: the blob is damaged` });
  }

  async #checkGraph(): Promise<VerifyProblem[]> {
    const problems: VerifyProblem[] = [];
    const external = new Set<string>(this.inventory.external.map((b) => b.digest));
    const have = (d: string) => this.blobs.has(d as Digest) || external.has(d);
    const seen = new Set<string>();
    const walk = async (d: Descriptor, from: string): Promise<void> => {
      if (seen.has(d.digest)) return;
      seen.add(d.digest);
      if (!have(d.digest)) {
        problems.push({ where: from, message: `refers to ${d.digest}, which is neither in the bundle nor carried by an earlier one` });
        return;
      }
      if (!this.blobs.has(d.digest)) return;
      let m: Manifest;
      try {
        m = await this.readManifest(d);
      } catch (e) {
        problems.push({ where: `manifest ${d.digest}`, message: (e as Error).message });
        return;
      }
      for (const c of childrenOf(m)) {
        if (isForeignLayer(c.mediaType)) continue;
        if (m.kind === 'index') await walk(c, `index ${m.digest}`);
        else if (!have(c.digest)) problems.push({ where: `manifest ${m.digest}`, message: `refers to blob ${c.digest}, which is neither in the bundle nor carried by an earlier one` });
      }
    };
    for (const [name, d] of this.refs) await walk(d, `index.json ${name}`);
    for (const e of this.inventory.entries) if (!this.blobs.has(e.digest)) problems.push({ where: `inventory ${e.kind} ${e.name}`, message: `its manifest ${e.digest} is not in the bundle` });
    return problems;
  }

  async close(): Promise<void> {
    await this.ra.close();
  }
}


/** One repository of a bundle (its `REPO:TAG` ref names) as a ContentSource. */
class BundleSource implements ContentSource {
  readonly name: string;
  readonly #prefix: string;

  constructor(
    readonly archive: BundleArchive,
    readonly repository: string,
  ) {
    this.name = `${archive.display}:${repository}`;
    this.#prefix = `${repository}:`;
  }

  async getManifest(reference: string): Promise<Manifest> {
    if (isDigest(reference)) return this.archive.readManifest({ digest: reference, mediaType: '' }, this.name);
    const d = this.archive.refs.get(`${this.#prefix}${reference}`);
    if (!d) throw new AirlockError('NOT_FOUND', `${this.name}:${reference}: no such image in the bundle`, { hint: 'airlock bundle list shows what it holds' });
    return this.archive.readManifest(d, this.name);
  }

  async openBlob(desc: Descriptor, opts?: { onProgress?: (bytes: number) => void }): Promise<Readable> {
    return this.archive.openBlob(desc, opts, this.name);
  }

  async listTags(): Promise<string[]> {
    return [...this.archive.refs.keys()].filter((n) => n.startsWith(this.#prefix)).map((n) => n.slice(this.#prefix.length));
  }

  async referrers(_digest: Digest): Promise<Descriptor[] | undefined> {
    return undefined;
  }
}
