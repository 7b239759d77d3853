import type { Digest } from '../digest/digest.js';
import type { ImageResult } from './result.js';

export type BlobAction = 'uploaded' | 'mounted' | 'skipped' | 'planned';

/** What the engine reports while it works; the CLI renders these (TTY progress, CI logs, JSON). */
export type TransferEvent =
  | { type: 'image-start'; id: number; source: string; destination: string }
  | { type: 'image-done'; id: number; result: ImageResult }
  | { type: 'blob-start'; id: number; digest: Digest; size: number }
  | { type: 'blob-progress'; id: number; digest: Digest; bytes: number }
  | { type: 'blob-done'; id: number; digest: Digest; size: number; action: BlobAction }
  | { type: 'manifest-pushed'; id: number; reference: string; digest: Digest }
  | { type: 'retry'; url: string; attempt: number; delayMs: number; reason: string };

export type EventSink = (e: TransferEvent) => void;
