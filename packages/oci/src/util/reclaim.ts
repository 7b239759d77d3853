import { getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/**
 * Keep a stream's memory flat however large the blob is.
 *
 * Every socket or file read hands out a fresh 64 KiB buffer. Those buffers live outside V8's heap,
 * and V8 frees them only when a young-generation collection runs; that happens when the *heap*
 * fills, and a stream makes little heap garbage per megabyte. Measured on a 1 GiB layer, ~50 MB of
 * dead read buffers piled up between collections (peak RSS 121 MB, 35 MB of it the stream's).
 * So whoever moves blob bytes reports them here; after each MiB the memory held outside the heap
 * is looked at (a microsecond), and when it grew by `RECLAIM_ABOVE` since the last collection a
 * minor one (a scavenge) releases the buffers already consumed. Collections V8 runs by itself (a
 * busy batch makes plenty of heap garbage) reset the count, so no collection is forced then:
 * forcing one every 8 MiB regardless cost a 20-image mirror ~0.2 CPU-s. Where the runtime does
 * not offer `gc` (flags frozen, another engine) this does nothing: memory is then what V8 alone
 * makes of it, never wrong.
 */
export const RECLAIM_ABOVE = 8 * 1024 * 1024;
const CHECK_EVERY = 1024 * 1024;

type GcFn = (opts?: { type?: 'minor' | 'major'; execution?: 'sync' | 'async' }) => void;

let gc: GcFn | null | undefined;
let since = 0;
/** Memory outside the heap after the last collection (or the least seen since). */
let floor: number | undefined;

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

/** Count `bytes` moved; a minor collection runs when the dead read buffers would otherwise pile up. */
export function noteBytesMoved(bytes: number): void {
  since += bytes;
  if (since < CHECK_EVERY) return;
  since = 0;
  const external = getHeapStatistics().external_memory;
  if (floor === undefined || external < floor) {
    floor = external;
    return;
  }
  if (external - floor < RECLAIM_ABOVE) return;
  const collect = collector();
  if (!collect) return;
  collect({ type: 'minor' });
  floor = getHeapStatistics().external_memory;
}

/** Whether the collector is available (tests, diagnostics). */
export function canReclaim(): boolean {
  return collector() !== null;
}
