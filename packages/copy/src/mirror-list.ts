import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { AirlockError, parseLocation, parsePlatform, parseReference, repositoryName, type Location, type PlatformSpec, type TransferJob } from '@airlock/oci';
// Deep import: the barrel would pull the YAML parser into bundles that never read YAML (sign).
import { parseYamlDocument } from '@airlock/step-kit/src/yaml.js';

/** One line or entry of a mirror list, before destinations are worked out. */
export interface MirrorEntry {
  source: string;
  destination?: string;
  platforms?: string[];
  /** 1-based line (text) or entry (YAML) number, for error messages. */
  where: string;
}

const yamlEntrySchema = z.union([
  z.string(),
  z.object({
    source: z.string(),
    destination: z.string().optional(),
    platforms: z.array(z.string()).optional(),
  }).strict(),
]);
export const mirrorYamlSchema = z.object({ images: z.array(yamlEntrySchema).min(1) }).strict();
export type MirrorYaml = z.infer<typeof mirrorYamlSchema>;

function listError(file: string, msg: string, hint?: string): AirlockError {
  return new AirlockError('BAD_INPUT', `${file}: ${msg}`, { hint: hint ?? 'see airlock mirror --help for the list format' });
}

/** Parse a text list (`SOURCE [DESTINATION]` lines, `#` comments) or a YAML list. */
export function parseMirrorList(text: string, file: string): MirrorEntry[] {
  const looksYaml = /^\s*images\s*:/m.test(text) || /\.ya?ml$/i.test(file);
  if (looksYaml) {
    const list = parseYamlDocument(text, mirrorYamlSchema, 'list', (msg) => listError(file, msg));
    return list.images.map((e, n) => (typeof e === 'string' ? { source: e, where: `${file} entry ${n + 1}` } : { ...e, where: `${file} entry ${n + 1}` }));
  }
  const out: MirrorEntry[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.replace(/(^|\s)#.*$/, '').trim();
    if (!line) return;
    const parts = line.split(/\s+/);
    if (parts.length > 2) throw listError(file, `line ${i + 1}: expected "SOURCE [DESTINATION]", found ${parts.length} fields`);
    out.push({ source: parts[0]!, ...(parts[1] ? { destination: parts[1] } : {}), where: `${file} line ${i + 1}` });
  });
  if (!out.length) throw listError(file, 'the list names no images');
  return out;
}

export async function readMirrorList(file: string): Promise<MirrorEntry[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    throw new AirlockError('BAD_INPUT', `cannot read image list ${file}`, { hint: 'check the path given to --file' });
  }
  return parseMirrorList(text, file);
}

export interface Rewrite {
  from: string;
  to: string;
}

export function parseRewrite(s: string): Rewrite {
  const i = s.indexOf('=');
  if (i <= 0 || i === s.length - 1) throw new AirlockError('USAGE', `invalid --rewrite "${s}": expected OLD=NEW`, { hint: 'write OLD=NEW, e.g. gcr.io/acme=registry.local/acme' });
  return { from: s.slice(0, i).replace(/\/+$/, ''), to: s.slice(i + 1).replace(/\/+$/, '') };
}

/**
 * Work out a destination for a source name:
 * - `--rewrite OLD=NEW`: replace a leading OLD (at a path boundary) of the normalised name;
 * - `--to PREFIX`: drop the source registry host and put the repository under PREFIX.
 * The tag (or digest) of the source is kept.
 */
export function destinationFor(source: string, opts: { to?: string; rewrites: Rewrite[] }, where: string): string {
  const ref = parseReference(source);
  const name = repositoryName(ref);
  const suffix = ref.tag ? `:${ref.tag}` : '';
  const digestSuffix = ref.digest && !ref.tag ? `@${ref.digest}` : '';
  for (const rw of opts.rewrites) {
    const from = normaliseName(rw.from);
    if (name === from || name.startsWith(`${from}/`)) return `${rw.to}${name.slice(from.length)}${suffix}${digestSuffix}`;
  }
  if (opts.to) return `${opts.to.replace(/\/+$/, '')}/${ref.repository}${suffix}${digestSuffix}`;
  throw new AirlockError('USAGE', `${where}: no destination for ${source}`, {
    hint: 'give a DESTINATION on the line, or --to PREFIX, or a --rewrite that matches it',
  });
}

/**
 * Normalise the OLD side of a rewrite: a prefix with a host is used as written (index.docker.io →
 * docker.io); one without a host is on Docker Hub (bitnami → docker.io/bitnami).
 */
export function normaliseName(prefix: string): string {
  const slash = prefix.indexOf('/');
  const first = slash < 0 ? prefix : prefix.slice(0, slash);
  const hasHost = first.includes('.') || first.includes(':') || first === 'localhost';
  if (!hasHost) return `docker.io/${prefix}`;
  return prefix.replace(/^(index\.docker\.io|registry-1\.docker\.io)(?=\/|$)/, 'docker.io');
}

/** Turn entries into jobs, checking every reference before anything is copied. */
export function planMirror(entries: MirrorEntry[], opts: { to?: string; rewrites: Rewrite[]; platforms?: PlatformSpec[] }): TransferJob[] {
  return entries.map((e) => {
    let source: Location;
    let destination: Location;
    try {
      source = parseLocation(e.source);
      const dst = e.destination ?? (source.kind === 'registry' ? destinationFor(e.source, opts, e.where) : undefined);
      if (!dst) throw new AirlockError('USAGE', `${e.where}: a layout source needs an explicit destination`);
      destination = parseLocation(dst, { defaultTag: false });
    } catch (err) {
      if (err instanceof AirlockError) throw new AirlockError(err.code, `${e.where}: ${err.message}`, { hint: err.hint });
      throw err;
    }
    const platforms = e.platforms ? e.platforms.map(parsePlatform) : opts.platforms;
    return { source, destination, ...(platforms?.length ? { platforms } : {}) };
  });
}
