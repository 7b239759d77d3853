import { readFile } from 'node:fs/promises';
import { resolve as resolvePath } from 'node:path';
import { z } from 'zod';
import { AirlockError, describeLocation, destinationFor, endpointKey, imageNameOfLocation, tagOfLocation, parseLocation, parsePlatform, shorten, type Location, type PlatformSpec, type Rewrite, type TransferJob } from '@airlock/oci';
import { parseYamlDocument } from './yaml.js';

/**
 * Image lists (`--file`): the text and YAML forms every list-reading step shares (mirror, verify,
 * bundle, sync, deploy-image), and the jobs they become. Its own entry point (`./image-list`), so
 * steps that never read lists do not carry the YAML parser.
 */

/** One line or entry of a mirror list, before destinations are worked out. */
export interface ImageListEntry {
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
export const imageListYamlSchema = z.object({ images: z.array(yamlEntrySchema).min(1) }).strict();
export type ImageListYaml = z.infer<typeof imageListYamlSchema>;

function listError(file: string, msg: string, hint?: string): AirlockError {
  return new AirlockError('BAD_INPUT', `${file}: ${msg}`, { hint: hint ?? 'see airlock mirror --help for the list format' });
}

/** Parse a text list (`SOURCE [DESTINATION]` lines, `#` comments) or a YAML list. */
export function parseImageList(text: string, file: string): ImageListEntry[] {
  const looksYaml = /^\s*images\s*:/m.test(text) || /\.ya?ml$/i.test(file);
  if (looksYaml) {
    const list = parseYamlDocument(text, imageListYamlSchema, 'list', (msg) => listError(file, msg));
    return list.images.map((e, n) => (typeof e === 'string' ? { source: e, where: `${file} entry ${n + 1}` } : { ...e, where: `${file} entry ${n + 1}` }));
  }
  const out: ImageListEntry[] = [];
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

export async function readImageList(file: string): Promise<ImageListEntry[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'it does not exist' : code === 'EISDIR' ? 'it is a directory' : (code ?? 'unreadable');
    throw new AirlockError('BAD_INPUT', `cannot read image list ${shorten(file)}: ${why}`, { hint: 'check the path given to --file' });
  }
  return parseImageList(text, shorten(file));
}

/** Where a job's tag lands (one key per destination tag), as the engine decides it; undefined: by digest only. */
function destinationKey(source: Location, destination: Location): { key: string; name: string } | undefined {
  let tag: string | undefined;
  if (destination.kind === 'docker-archive') tag = imageNameOfLocation(destination) ?? imageNameOfLocation(source);
  else if (destination.kind === 'registry' && destination.ref.digest && !destination.ref.tag) tag = undefined;
  else tag = tagOfLocation(destination) ?? tagOfLocation(source);
  return tag ? { key: `${endpointKey(destination)}:${tag}`, name: destination.kind === 'layout' ? `oci:${resolvePath(destination.dir)}:${tag}` : describeLocation(destination, tag) } : undefined;
}

/**
 * Turn entries into jobs, checking every reference before anything is copied. Destinations:
 * the entry's own, else the first `--rewrite` whose OLD matches the source name, else `--to`
 * (rewrite first, --to as the fallback for names no rewrite matches). Two entries writing the same
 * destination tag would race for it: refused, naming both.
 */
export function planTransfers(entries: ImageListEntry[], opts: { to?: string; rewrites: Rewrite[]; platforms?: PlatformSpec[] }): TransferJob[] {
  const byDestination = new Map<string, ImageListEntry>();
  return entries.map((e) => {
    let source: Location;
    let destination: Location;
    try {
      source = parseLocation(e.source);
      const dst = e.destination ?? defaultDestination(source, e.source, opts, e.where);
      if (!dst) throw new AirlockError('USAGE', `${e.where}: a ${source.kind === 'layout' ? 'layout' : 'docker archive'} source without an image name needs an explicit destination`, { hint: 'add a DESTINATION to the line (it has no name for --to or --rewrite to map)' });
      destination = parseLocation(dst, { defaultTag: false });
    } catch (err) {
      // Messages that already say where (destinationFor's) are not prefixed twice.
      if (err instanceof AirlockError) throw err.message.startsWith(`${e.where}:`) ? err : new AirlockError(err.code, `${e.where}: ${err.message}`, { hint: err.hint });
      throw err;
    }
    const dest = destinationKey(source, destination);
    if (dest) {
      const { key, name } = dest;
      const other = byDestination.get(key);
      if (other) {
        throw new AirlockError('USAGE', `${other.where} and ${e.where.replace(/^.* (line|entry) /, '$1 ')} both write ${shorten(name)}`, {
          hint: 'two images would race for one tag: give one of them another destination, or remove the duplicate',
        });
      }
      byDestination.set(key, e);
    }
    let platforms: PlatformSpec[] | undefined;
    try {
      platforms = e.platforms ? e.platforms.map(parsePlatform) : opts.platforms;
    } catch (err) {
      if (err instanceof AirlockError) throw new AirlockError(err.code, `${e.where}: ${err.message}`, { hint: err.hint });
      throw err;
    }
    return { source, destination, ...(platforms?.length ? { platforms } : {}) };
  });
}

/**
 * Where an entry goes without a destination of its own: `--to docker-archive:FILE` gathers every
 * image into one archive under its own name; otherwise `--to`/`--rewrite` map the name (a docker
 * archive source named by NAME:TAG maps like that name).
 */
function defaultDestination(source: Location, input: string, opts: { to?: string; rewrites: Rewrite[] }, where: string): string | undefined {
  if (opts.to?.startsWith('docker-archive:') && !opts.rewrites.length) return opts.to;
  if (source.kind === 'registry') return destinationFor(input, opts, where);
  const name = imageNameOfLocation(source);
  return name ? destinationFor(name, opts, where) : undefined;
}
