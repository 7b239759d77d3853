import { mkdir, rename, unlink, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { AirlockError, existingAncestor, shorten, statOf, tempPathFor, trackTemp, untrackTemp, writable } from '@airlock/oci';

/** Write a report atomically (temp + rename), creating its directory; the temp file never stays. */
export async function writeFileAtomic(path: string, data: string): Promise<void> {
  const tmp = tempPathFor(path);
  trackTemp(tmp);
  try {
    await mkdir(dirname(path), { recursive: true });
    await writeFile(tmp, data);
    await rename(tmp, path);
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    const code = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
    throw new AirlockError('IO', `cannot write ${shorten(path)}: ${code}`, { hint: 'check the path, its permissions and free space', cause: e });
  } finally {
    untrackTemp(tmp);
  }
}

export interface OutputCheck {
  /** How the user named it: `--report`, `--output-key-prefix`. */
  flag: string;
  /** Create missing parent directories when writing (reports); else the directory must exist. */
  createParents?: boolean;
}

/**
 * Check, before any work starts, that a file can be written at `path`: not a directory, its
 * directory exists (or can be created) and is writable. Problems are input errors (exit 2), so a
 * run never fails at the end, after the work, over where its report goes.
 */
export function checkOutputFile(path: string, o: OutputCheck): void {
  const shown = shorten(path);
  const bad = (msg: string, hint: string) => new AirlockError('BAD_INPUT', `${o.flag} ${shown}: ${msg}`, { hint });
  if (path.trim() === '') throw new AirlockError('USAGE', `${o.flag} is empty`, { hint: `give ${o.flag} a file name` });
  const st = statOf(path);
  if (st?.isDirectory()) throw bad('is a directory', `give ${o.flag} a file name, e.g. ${shorten(path.replace(/\/+$/, ''), 100)}/result.${o.flag === '--junit' ? 'xml' : 'json'}`);
  if (st && !st.isFile()) throw bad('is not a regular file', `give ${o.flag} the name of a file to write`);
  if (st && !writable(path)) throw bad('is not writable', 'check its permissions, or choose another file');
  const parent = dirname(resolve(path));
  const pst = statOf(parent);
  if (pst) {
    if (!pst.isDirectory()) throw bad(`${shorten(parent)} is not a directory`, `choose a path for ${o.flag} in an existing directory`);
    if (!writable(parent)) throw bad(`cannot write in ${shorten(parent)} (permission denied)`, 'choose a directory you can write to');
    return;
  }
  if (!o.createParents) throw bad(`the directory ${shorten(parent)} does not exist`, `create it first, or choose another ${o.flag}`);
  const anc = existingAncestor(path);
  if (!anc.stats.isDirectory()) throw bad(`${shorten(anc.dir)} is not a directory`, `choose a path for ${o.flag} in an existing directory`);
  if (!writable(anc.dir)) throw bad(`cannot create ${shorten(parent)} (permission denied in ${shorten(anc.dir)})`, 'choose a directory you can write to');
}

/** Check several outputs at once; two flags naming the same file is refused too. */
export function checkOutputFiles(outputs: Array<{ path: string | undefined } & OutputCheck>): void {
  const seen = new Map<string, string>();
  for (const o of outputs) {
    if (o.path === undefined) continue;
    checkOutputFile(o.path, o);
    const key = resolve(o.path);
    const other = seen.get(key);
    if (other) throw new AirlockError('USAGE', `${other} and ${o.flag} name the same file ${shorten(o.path)}`, { hint: 'give each output its own file' });
    seen.set(key, o.flag);
  }
}
