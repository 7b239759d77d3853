import { lstatSync, readdirSync, rmSync } from 'node:fs';
import { lstat, readdir, rm } from 'node:fs/promises';
import { createHash, randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { join } from 'node:path';

/**
 * Temporary files and directories: named `NAME.tmp-PID-HOST-HEX` (HOST: 4 hex digits of the host
 * name's hash) so that a later writer can tell a stale one (written on this host by a process that
 * is gone, before this run started) from another live writer's. Those this process is writing are
 * tracked, so that an exit (a second Ctrl-C) removes them.
 */

const live = new Set<string>();
const HOST = createHash('sha256').update(hostname()).digest('hex').slice(0, 4);

/** A temp name beside `path`: `path.tmp-PID-HOST-HEX`. */
export function tempPathFor(path: string): string {
  return `${path}.tmp-${process.pid}-${HOST}-${randomBytes(6).toString('hex')}`;
}

/** Track a temp path this process is writing (removed at exit if still there). */
export function trackTemp(path: string): void {
  live.add(path);
}

export function untrackTemp(path: string): void {
  live.delete(path);
}

/** Remove every tracked temp path now (synchronous: for exit handlers). */
export function removeLiveTempFilesSync(): void {
  for (const p of live) {
    try {
      rmSync(p, { recursive: true, force: true });
    } catch {
      // best effort: a later writer reclaims it
    }
  }
  live.clear();
}

const TEMP_RE = /\.tmp-(?:(\d+)-([0-9a-f]{4})-)?[0-9a-f]{8,}$/;
/** When this process started: anything of ours older than that is a previous process's. */
const RUN_START = Math.floor(performance.timeOrigin);
/** Temp names without a PID (older Airlock) or from another host count as stale only after this long. */
const UNOWNED_STALE_MS = 60 * 60 * 1000;

function alive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Whether a temp entry may be removed: it is older than this run, and the process that wrote it is
 * gone (a PID reused by us, as in containers, counts as gone for entries older than our start).
 */
export function isStaleTemp(name: string, mtimeMs: number, now = Date.now()): boolean {
  const m = TEMP_RE.exec(name);
  if (!m) return false;
  if (mtimeMs >= RUN_START) return false;
  // Written elsewhere (an older Airlock, another host sharing the directory): its process cannot be asked.
  if (m[1] === undefined || m[2] !== HOST) return now - mtimeMs > UNOWNED_STALE_MS;
  const pid = Number(m[1]);
  if (pid === process.pid) return true;
  return !alive(pid);
}

/** Remove stale temp entries directly in `dir` (optionally only those whose name starts with `prefix`). */
export async function reclaimStaleTemps(dir: string, prefix = ''): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    if (!name.startsWith(prefix) || !TEMP_RE.test(name)) continue;
    const p = join(dir, name);
    try {
      const st = await lstat(p);
      if (!isStaleTemp(name, st.mtimeMs)) continue;
      await rm(p, { recursive: true, force: true });
      removed.push(p);
    } catch {
      // gone already, or not ours to remove
    }
  }
  return removed;
}

/** Synchronous check for tests and tools: stale temp names directly in `dir`. */
export function staleTempsIn(dir: string): string[] {
  try {
    return readdirSync(dir).filter((n) => {
      try {
        return isStaleTemp(n, lstatSync(join(dir, n)).mtimeMs);
      } catch {
        return false;
      }
    });
  } catch {
    return [];
  }
}

