import { accessSync, constants, statSync, type Stats } from 'node:fs';
import { dirname, resolve } from 'node:path';

/** Small synchronous file-system checks made before any work starts (inputs and outputs). */

/** The stats of `p`, or undefined when it does not exist (or cannot be seen). */
export function statOf(p: string): Stats | undefined {
  try {
    return statSync(p);
  } catch {
    return undefined;
  }
}

/** Whether this process may write `p`. */
export function writable(p: string): boolean {
  try {
    accessSync(p, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * The nearest existing ancestor of `path` (itself excluded) and its stats: where a file or
 * directory at `path` would be created.
 */
export function existingAncestor(path: string): { dir: string; stats: Stats } {
  let cur = dirname(resolve(path));
  for (;;) {
    const st = statOf(cur);
    if (st) return { dir: cur, stats: st };
    const up = dirname(cur);
    if (up === cur) return { dir: cur, stats: statSync(cur) };
    cur = up;
  }
}
