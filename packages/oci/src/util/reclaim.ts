import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/**
 * Keep a stream's memory flat however large the blob is.
 *
 * Every socket or file read hands out a fresh 64 KiB buffer. Those buffers live outside V8's heap,
 * and V8 frees them only when a young-generation collection runs; that happens when the *heap*
 * fills, and a stream makes little heap garbage per megabyte. Measured on a 1 GiB layer, ~50 MB of
 * dead read buffers piled up between collections (peak RSS 121 MB, 35 MB of it the stream's).
 * So whoever moves blob bytes reports them here, and every `RECLAIM_EVERY` bytes a minor
 * collection (a scavenge: well under a millisecond with a small young generation) releases the
 * buffers already consumed. Where the runtime does not offer `gc` (flags frozen, another engine)
 * this does nothing: memory is then what V8 alone makes of it, never wrong.
 */
export const RECLAIM_EVERY = 8 * 1024 * 1024;

type GcFn = (opts?: { type?: 'minor' | 'major'; execution?: 'sync' | 'async' }) => void;

let gc: GcFn | null | undefined;
let since = 0;

function collector(): GcFn | null {
  if (gc === undefined) {
    try {
      // `gc` is only installed on contexts created after the flag is set; this one is made for it.
      setFlagsFromString('--expose-gc');
      const fn: unknown = runInNewContext('typeof gc === "function" ? gc : undefined');
      gc = typeof fn === 'function' ? (fn as GcFn) : null;
    } catch {
      gc = null;
    }
  }
  return gc;
}

/** Count `bytes` moved; a minor collection runs each time another RECLAIM_EVERY bytes have been. */
export function noteBytesMoved(bytes: number): void {
  since += bytes;
  if (since < RECLAIM_EVERY) return;
  since = 0;
  collector()?.({ type: 'minor' });
}

/** Whether the collector is available (tests, diagnostics). */
export function canReclaim(): boolean {
  return collector() !== null;
}
