import { writeFileAtomic } from './files.js';

/**
 * GitLab `artifacts:reports:dotenv`: `KEY=value` lines, keys `[A-Za-z0-9_]`, no quotes, no blank
 * lines, no multi-line values, at most 5 KB. Later jobs that `needs:` this one get the variables.
 */
export const DOTENV_MAX_BYTES = 5 * 1024;

/** What a step run produced: named outputs, and the digest of each image under a variable-safe name. */
export interface StepOutputs {
  /** output name (StepDef.outputs) → value; values may be JSON (the action), see dotenvLines. */
  values: Record<string, string>;
  /** Per image: a key suffix (`ACME_APP_V1`) and the digest. */
  digests: { name: string; reference: string; digest: string }[];
}

/** `acme/app` → `AIRLOCK_ACME_APP`. */
export function outputEnvName(name: string): string {
  return `AIRLOCK_${name.toUpperCase().replace(/[^A-Z0-9]+/g, '_')}`;
}

/**
 * A variable-safe name for an image reference: the repository path and tag without the registry
 * host, upper-cased, other characters as `_` (`127.0.0.1:5000/acme/app:v1` → `ACME_APP_V1`).
 */
export function imageKey(reference: string): string {
  let r = reference.replace(/^docker:\/\//, '').replace(/@sha256:[a-f0-9]+$/, '');
  if (r.startsWith('oci:')) {
    r = r.slice(4);
    r = r.slice(r.lastIndexOf('/') + 1);
  } else {
    const slash = r.indexOf('/');
    const first = slash < 0 ? '' : r.slice(0, slash);
    if (first.includes('.') || first.includes(':') || first === 'localhost') r = r.slice(slash + 1);
  }
  const key = r.toUpperCase().replace(/[^A-Z0-9]+/g, '_').replace(/^_+|_+$/g, '').slice(0, 120);
  return key || 'IMAGE';
}

/** Unique keys, in order: a repeated name gets `_2`, `_3`, … */
export function uniqueKeys(names: string[]): string[] {
  const seen = new Map<string, number>();
  return names.map((n) => {
    const count = (seen.get(n) ?? 0) + 1;
    seen.set(n, count);
    return count === 1 ? n : `${n}_${count}`;
  });
}

/**
 * The dotenv lines for outputs: the named values first (those that fit the format: no quotes, no
 * line breaks), then one `AIRLOCK_DIGEST_<IMAGE>` per image while the 5 KB limit allows.
 * Returns the lines and how many image digests did not fit.
 */
export function dotenvLines(out: StepOutputs): { lines: string[]; dropped: number } {
  const lines: string[] = [];
  let size = 0;
  const add = (key: string, value: string): boolean => {
    if (!/^[A-Za-z0-9_]+$/.test(key) || /["'\r\n]/.test(value)) return true;
    const line = `${key}=${value}`;
    if (size + Buffer.byteLength(line) + 1 > DOTENV_MAX_BYTES) return false;
    lines.push(line);
    size += Buffer.byteLength(line) + 1;
    return true;
  };
  for (const [name, value] of Object.entries(out.values)) add(outputEnvName(name), value);
  let dropped = 0;
  const keys = uniqueKeys(out.digests.map((d) => d.name));
  out.digests.forEach((d, i) => {
    if (!add(`AIRLOCK_DIGEST_${keys[i]}`, d.digest)) dropped++;
  });
  return { lines, dropped };
}

/** Write a dotenv report; returns how many image digests were left out for the 5 KB limit. */
export async function writeDotenv(file: string, out: StepOutputs): Promise<number> {
  const { lines, dropped } = dotenvLines(out);
  await writeFileAtomic(file, lines.length ? `${lines.join('\n')}\n` : '');
  return dropped;
}
