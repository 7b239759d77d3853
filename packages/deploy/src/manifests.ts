/**
 * Target 2: pin every image reference in Kubernetes YAML that names a mapped image — Pod templates
 * (containers, initContainers, ephemeralContainers) of Deployment, StatefulSet, DaemonSet,
 * ReplicaSet, Job, CronJob, Pod and friends, multi-document files, `List` objects, and
 * kustomization.yaml `images:` — to `host/repo:tag@sha256:…`.
 *
 * The `yaml` document API finds the nodes and their source ranges; only those bytes are replaced, so
 * comments, key order, quoting and formatting stay exactly as they were. A second run changes
 * nothing.
 */
import { randomBytes } from 'node:crypto';
import { lstat, mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { AirlockError, parseReference, repositoryName } from '@airlock/oci';
import { isMap, isScalar, isSeq, parseAllDocuments, Scalar, type Node, type YAMLMap } from 'yaml';
import { namesOf, type PinnedImage } from './images.js';

export interface Replacement {
  file: string;
  line: number;
  /** `Deployment/web containers[app]` or `kustomization images[nginx]`. */
  where: string;
  from: string;
  to: string;
}

export interface Unmapped {
  file: string;
  line: number;
  where: string;
  image: string;
}

export interface RewriteResult {
  text: string;
  replacements: Replacement[];
  unmapped: Unmapped[];
}

/** The pod spec path of each kind that has one. */
const POD_SPEC: Record<string, string[]> = {
  Pod: ['spec'],
  PodTemplate: ['template', 'spec'],
  Deployment: ['spec', 'template', 'spec'],
  StatefulSet: ['spec', 'template', 'spec'],
  DaemonSet: ['spec', 'template', 'spec'],
  ReplicaSet: ['spec', 'template', 'spec'],
  ReplicationController: ['spec', 'template', 'spec'],
  Job: ['spec', 'template', 'spec'],
  CronJob: ['spec', 'jobTemplate', 'spec', 'template', 'spec'],
};
const CONTAINER_LISTS = ['initContainers', 'containers', 'ephemeralContainers'];

/** Which pinned image a reference in a manifest stands for, if any. */
export class ImageMatcher {
  readonly #pinned: Set<string>;
  constructor(readonly images: PinnedImage[]) {
    this.#pinned = new Set(images.map((i) => i.pinned));
  }

  isPinned(ref: string): boolean {
    return this.#pinned.has(ref);
  }

  /** The pinned reference for `ref` (same repository by source or private name, same tag or digest). */
  match(ref: string): PinnedImage | undefined {
    let r;
    try {
      r = parseReference(ref, { defaultTag: false });
    } catch {
      return undefined;
    }
    const repo = repositoryName(r);
    const candidates = this.images.filter((i) => namesOf(i).includes(repo));
    if (r.digest) return candidates.find((i) => i.digest === r.digest);
    const tag = r.tag ?? 'latest';
    return candidates.find((i) => (i.destination.tag ?? i.source.tag) === tag || i.source.tag === tag);
  }

  /** By repository alone (kustomize entries without a tag): only when exactly one image has it. */
  matchRepository(name: string): PinnedImage | undefined {
    let repo: string;
    try {
      repo = repositoryName(parseReference(name, { defaultTag: false }));
    } catch {
      return undefined;
    }
    const c = this.images.filter((i) => namesOf(i).includes(repo));
    return c.length === 1 ? c[0] : undefined;
  }
}

interface Edit {
  start: number;
  end: number;
  text: string;
}

function lineOf(text: string, offset: number): number {
  let n = 1;
  for (let i = text.indexOf('\n'); i >= 0 && i < offset; i = text.indexOf('\n', i + 1)) n++;
  return n;
}

/** The text for a scalar's new value, in the scalar's own quoting style. */
function scalarText(node: Scalar, value: string): string | undefined {
  switch (node.type) {
    case Scalar.QUOTE_DOUBLE:
      return JSON.stringify(value);
    case Scalar.QUOTE_SINGLE:
      return `'${value.replace(/'/g, "''")}'`;
    case Scalar.PLAIN:
    case undefined:
      return /^[^\s#:'"{}[\],&*!|>%@`][^\s#]*$/.test(value) && !/:$/.test(value) ? value : JSON.stringify(value);
    default:
      return undefined;
  }
}

function strValue(map: YAMLMap, key: string): string | undefined {
  const v = map.get(key, true);
  return isScalar(v) && typeof v.value === 'string' ? v.value : isScalar(v) && v.value !== null && v.value !== undefined ? String(v.value) : undefined;
}

function getPath(node: unknown, path: string[]): unknown {
  let cur = node;
  for (const k of path) {
    if (!isMap(cur)) return undefined;
    cur = cur.get(k, true);
  }
  return cur;
}

/** Rewrite one YAML file's text. `file` is only for messages. */
export function rewriteYaml(text: string, file: string, matcher: ImageMatcher): RewriteResult {
  const docs = parseAllDocuments(text, { prettyErrors: false, uniqueKeys: false });
  const list = Array.isArray(docs) ? docs : [docs];
  for (const d of list) {
    const err = d.errors[0];
    if (err) throw new AirlockError('BAD_INPUT', `${file}: not valid YAML at line ${lineOf(text, err.pos[0])}: ${err.message.split('\n')[0]}`, { hint: 'only rendered Kubernetes YAML can be rewritten (render Helm charts with helm template first)' });
  }
  const edits: Edit[] = [];
  const replacements: Replacement[] = [];
  const unmapped: Unmapped[] = [];
  const kustomization = /^kustomization\.ya?ml$|^Kustomization$/.test(basename(file));

  const image = (node: unknown, where: string) => {
    if (!isScalar(node) || typeof node.value !== 'string' || !node.range) return;
    const from = node.value;
    const line = lineOf(text, node.range[0]);
    if (matcher.isPinned(from)) return;
    const img = matcher.match(from);
    if (!img) {
      unmapped.push({ file, line, where, image: from });
      return;
    }
    const t = scalarText(node, img.pinned);
    if (t === undefined) {
      unmapped.push({ file, line, where: `${where} (a block scalar: not rewritten)`, image: from });
      return;
    }
    edits.push({ start: node.range[0], end: node.range[1], text: t });
    replacements.push({ file, line, where, from, to: img.pinned });
  };

  const kustomizeImages = (map: YAMLMap) => {
    const seq = map.get('images', true);
    if (!isSeq(seq)) return;
    for (const item of seq.items) {
      if (!isMap(item) || !item.range) continue;
      const name = strValue(item, 'name');
      if (!name) continue;
      const newName = strValue(item, 'newName');
      const newTag = strValue(item, 'newTag');
      const digest = strValue(item, 'digest');
      const effective = `${newName ?? name}${newTag ? `:${newTag}` : ''}${digest ? `@${digest}` : ''}`;
      const where = `kustomization images[${name}]`;
      const line = lineOf(text, item.range[0]);
      const img = newTag || digest ? matcher.match(effective) : matcher.matchRepository(newName ?? name);
      if (!img) {
        if (!matcher.isPinned(effective)) unmapped.push({ file, line, where, image: effective });
        continue;
      }
      const want: Array<[string, string]> = [['newName', repositoryName(img.destination)], ...(img.destination.tag ? [['newTag', img.destination.tag] as [string, string]] : []), ['digest', img.digest]];
      const before = effective;
      const missing: Array<[string, string]> = [];
      for (const [k, v] of want) {
        const node = item.get(k, true);
        if (isScalar(node) && node.range) {
          if (String(node.value) === v) continue;
          const t = scalarText(node, v);
          if (t !== undefined) edits.push({ start: node.range[0], end: node.range[1], text: t });
        } else missing.push([k, v]);
      }
      if (missing.length) edits.push(insertPairs(text, item, missing));
      const after = `${img.destination.registry}/${img.destination.repository}${img.destination.tag ? `:${img.destination.tag}` : ''}@${img.digest}`;
      if (missing.length || after !== before) replacements.push({ file, line, where, from: before, to: after });
    }
  };

  const object = (node: unknown) => {
    if (!isMap(node)) return;
    const kind = strValue(node, 'kind');
    const apiVersion = strValue(node, 'apiVersion') ?? '';
    const items = node.get('items', true);
    if (kind && /List$/.test(kind) && isSeq(items)) {
      for (const it of items.items) object(it);
      return;
    }
    if (((kind === 'Kustomization' || kind === 'Component') && apiVersion.startsWith('kustomize.config.k8s.io')) || (kustomization && !kind)) {
      kustomizeImages(node);
      return;
    }
    const path = kind ? POD_SPEC[kind] : undefined;
    if (!path) return;
    const podSpec = getPath(node, path);
    if (!isMap(podSpec)) return;
    const meta: unknown = node.get('metadata', true);
    const name = (isMap(meta) ? strValue(meta, 'name') : undefined) ?? '?';
    for (const listName of CONTAINER_LISTS) {
      const seq = podSpec.get(listName, true);
      if (!isSeq(seq)) continue;
      seq.items.forEach((c, i) => {
        if (!isMap(c)) return;
        image(c.get('image', true), `${kind}/${name} ${listName}[${strValue(c, 'name') ?? i}]`);
      });
    }
  };

  for (const d of list) object(d.contents as Node | null);
  edits.sort((a, b) => b.start - a.start);
  let out = text;
  for (const e of edits) out = out.slice(0, e.start) + e.text + out.slice(e.end);
  return { text: out, replacements, unmapped };
}

/** Add `key: value` pairs to a map, in its style: new lines at its indentation, or inside `{...}`. */
function insertPairs(text: string, map: YAMLMap, pairs: Array<[string, string]>): Edit {
  const [start, end] = map.range!;
  const plain = (v: string) => scalarText(new Scalar(v), v)!;
  if (map.flow) {
    const close = text.lastIndexOf('}', end);
    let at = close;
    while (at > start && /\s/.test(text[at - 1]!)) at--;
    return { start: at, end: at, text: pairs.map(([k, v]) => `, ${k}: ${plain(v)}`).join('') };
  }
  const firstKey = (map.items[0]?.key as Node | undefined)?.range?.[0] ?? start;
  const indent = firstKey - (text.lastIndexOf('\n', firstKey - 1) + 1);
  const last = map.items[map.items.length - 1];
  const lastEnd = ((last?.value as Node | undefined)?.range ?? (last?.key as Node | undefined)?.range ?? [end, end])[1];
  const nl = text.indexOf('\n', lastEnd);
  const lines = pairs.map(([k, v]) => `${' '.repeat(indent)}${k}: ${plain(v)}\n`).join('');
  if (nl < 0) return { start: text.length, end: text.length, text: `\n${lines.replace(/\n$/, '')}` };
  return { start: nl + 1, end: nl + 1, text: lines };
}

/** Temp file + rename, as step-kit's writeFileAtomic, for bytes too. */
async function writeAtomic(path: string, data: string | Buffer, mode?: number): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${randomBytes(4).toString('hex')}`;
  await writeFile(tmp, data, mode === undefined ? {} : { mode });
  await rename(tmp, path);
}

export interface ManifestFile {
  /** Absolute path read. */
  path: string;
  /** Relative to the --manifests root (its basename for a single file). */
  rel: string;
}

const YAML_FILE = /\.ya?ml$/i;

/** Regular files under DIR, sorted by name at each level as filepath.Walk does; symlinks skipped. */
export async function walkFiles(root: string): Promise<string[]> {
  const out: string[] = [];
  const visit = async (dir: string) => {
    const names = (await readdir(dir)).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    for (const n of names) {
      const p = join(dir, n);
      const st = await lstat(p);
      if (st.isDirectory()) await visit(p);
      else if (st.isFile()) out.push(p);
    }
  };
  await visit(root);
  return out;
}

export interface ManifestsResult {
  /** Where the rewritten manifests are (the --out directory, else the input). */
  root: string;
  single: boolean;
  files: Array<{ file: string; changed: boolean }>;
  replacements: Replacement[];
  unmapped: Unmapped[];
}

/** Rewrite a file or a directory tree, in place or into `out` (which then holds a full copy). */
export async function rewriteManifests(input: string, matcher: ImageMatcher, o: { out?: string; dryRun: boolean }): Promise<ManifestsResult> {
  let st;
  try {
    st = await lstat(input);
  } catch {
    throw new AirlockError('BAD_INPUT', `--manifests ${input} does not exist`, { hint: 'give a directory of Kubernetes YAML or one YAML file' });
  }
  const single = !st.isDirectory();
  const root = single ? dirname(resolve(input)) : resolve(input);
  const paths = single ? [resolve(input)] : await walkFiles(root);
  const out = o.out ? resolve(o.out) : undefined;
  if (out && !single && (out === root || out.startsWith(`${root}/`))) {
    if (out !== root) throw new AirlockError('USAGE', `--out ${o.out} is inside --manifests ${input}`, { hint: 'write to a directory outside the manifests' });
  }
  const result: ManifestsResult = { root: out ?? (single ? resolve(input) : root), single, files: [], replacements: [], unmapped: [] };
  const writes: Array<[string, string | Buffer, number]> = [];
  for (const p of paths) {
    const rel = relative(root, p);
    const bytes = await readFile(p);
    const mode = (await lstat(p)).mode & 0o777;
    if (!YAML_FILE.test(p) && !/^Kustomization$/.test(basename(p))) {
      if (out) writes.push([join(out, rel), bytes, mode]);
      continue;
    }
    const text = bytes.toString('utf8');
    const r = rewriteYaml(text, rel, matcher);
    result.replacements.push(...r.replacements);
    result.unmapped.push(...r.unmapped);
    const changed = r.text !== text;
    result.files.push({ file: rel, changed });
    if (out) writes.push([join(out, rel), r.text, mode]);
    else if (changed) writes.push([p, r.text, mode]);
  }
  if (single && out) result.root = join(out, relative(root, paths[0]!));
  if (!o.dryRun) {
    for (const [p, data, mode] of writes) {
      await writeAtomic(p, data, mode);
    }
  }
  return result;
}
