import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

// Temp dirs are named airlock-KIND-PID-XXXXXX. Test workers are often killed rather than exited,
// so 'exit' hooks cannot be relied on: the first call in a process also removes the dirs left
// behind by processes that no longer exist.
const NAME = /^airlock-[a-z]+-(\d+)-/;
let reaped = false;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function reapStale(): void {
  if (reaped) return;
  reaped = true;
  for (const name of readdirSync(os.tmpdir())) {
    const pid = Number(NAME.exec(name)?.[1]);
    if (pid && pid !== process.pid && !alive(pid)) {
      rmSync(path.join(os.tmpdir(), name), { recursive: true, force: true });
    }
  }
}

/** A fresh temp dir `airlock-KIND-PID-XXXXXX`, reaped by a later run if this process dies. */
export function makeTempDir(kind: string): string {
  reapStale();
  return mkdtempSync(path.join(os.tmpdir(), `airlock-${kind}-${process.pid}-`));
}
