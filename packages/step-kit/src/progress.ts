import type { ImageResult, TransferEvent } from '@airlock/oci';
import { formatBytes, formatDuration, shortDigest } from './format.js';
import type { Logger } from './log.js';

export interface ProgressView {
  onEvent(e: TransferEvent): void;
  finish(): void;
}

/** One line per finished image, for CI logs and non-TTY output. */
export function lineProgress(log: Logger, verbose = false): ProgressView {
  return {
    onEvent(e) {
      if (e.type === 'image-start' && verbose) log.info(`→ ${e.source} → ${e.destination}`);
      if (e.type === 'retry') log.info(`  retry ${e.attempt} in ${formatDuration(e.delayMs)}: ${e.reason} (${e.url.split('?')[0]})`);
      if (e.type === 'image-done') log.info(imageLine(e.result));
    },
    finish() {},
  };
}

export function imageLine(r: ImageResult): string {
  const mark = { copied: '✔', skipped: '=', planned: '…', failed: '✘' }[r.status];
  const base = `${mark} ${r.source} → ${r.destination}`;
  if (r.status === 'failed') return `${base}: ${r.error?.message ?? 'failed'}${r.error?.hint ? ` (${r.error.hint})` : ''}`;
  const parts = [
    `${r.status}`,
    `digest ${shortDigest(r.destinationDigest)}${r.sourceDigestComputed ? ' (computed: the archive has no manifest)' : ''}`,
    `blobs ${r.blobs.copied} copied/${r.blobs.mounted} mounted/${r.blobs.skipped} skipped`,
    formatBytes(r.bytes),
  ];
  if (r.referrers) parts.push(`${r.referrers} referrers`);
  parts.push(formatDuration(r.durationMs));
  return `${base} (${parts.join(', ')})`;
}

/**
 * A live status line on a TTY: images done, blobs, bytes with a bar and rate. Finished images are
 * printed above it as lines.
 */
export function ttyProgress(out: NodeJS.WriteStream, totalImages: number): ProgressView {
  let done = 0;
  let bytes = 0;
  let expected = 0;
  let blobsDone = 0;
  let blobsActive = 0;
  const started = Date.now();
  const width = () => Math.max(40, (out.columns ?? 80) - 1);
  const render = () => {
    const secs = Math.max(0.001, (Date.now() - started) / 1000);
    const frac = expected ? Math.min(1, bytes / expected) : 0;
    const barW = 20;
    const filled = Math.round(frac * barW);
    const line = `[${'#'.repeat(filled)}${'-'.repeat(barW - filled)}] ${done}/${totalImages} images, ${blobsDone} blobs (${blobsActive} active), ${formatBytes(bytes)}/${formatBytes(expected)}, ${formatBytes(bytes / secs)}/s`;
    out.write(`\r\x1b[K${line.slice(0, width())}`);
  };
  const timer = setInterval(render, 120);
  timer.unref();
  return {
    onEvent(e) {
      switch (e.type) {
        case 'blob-start':
          blobsActive++;
          expected += e.size;
          break;
        case 'blob-progress':
          bytes += e.bytes;
          break;
        case 'blob-done':
          blobsDone++;
          if (e.action === 'uploaded' || e.action === 'mounted') blobsActive = Math.max(0, blobsActive - 1);
          if (e.action === 'mounted') expected -= e.size;
          break;
        case 'image-done':
          done++;
          out.write(`\r\x1b[K${imageLine(e.result)}\n`);
          break;
        case 'retry':
          out.write(`\r\x1b[K  retry ${e.attempt}: ${e.reason}\n`);
          break;
      }
      render();
    },
    finish() {
      clearInterval(timer);
      out.write('\r\x1b[K');
    },
  };
}
