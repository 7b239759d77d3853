import { AsyncResource } from 'node:async_hooks';
import { Readable } from 'node:stream';
import { discard } from '../util/body.js';
import { sleep } from '../util/sleep.js';
import { backoffMs, type RetryInfo, type RetryPolicy } from '../registry/transport.js';
import type { RetryBudget } from './types.js';

/** Where a continued read starts: `start` is where `body` really begins (0 when a range was ignored). */
export type ReadFrom = (offset: number) => Promise<{ body: Readable; start: number }>;

export interface ResumableReadOptions {
  /** Bytes the whole read must deliver. */
  size: number;
  budget: RetryBudget;
  policy: RetryPolicy;
  /** What each continuation is reported as (logs, the image's retry count). */
  noteRetry: (info: Omit<RetryInfo, 'url'>) => void;
}

/**
 * One blob read that survives cut connections: a read cut short (reset, body ended early) is
 * continued where it stopped by `readFrom(received)` (a `Range` request), within the retry budget;
 * bytes a server sends again because it ignored the range are skipped. Event-driven, one hop per
 * chunk (no async iterator between the socket and the consumer), with the consumer's backpressure
 * passed to the body being read. Destroying it releases that body.
 */
export class ResumableRead extends Readable {
  #body: Readable | undefined;
  #received = 0;
  #skip = 0;
  #retry = 0;
  /**
   * Continuations run in the context the read was opened in (body events arrive in the context of
   * whoever opened the pooled connection), so their retries are billed to the right image.
   */
  readonly #continueInContext: (failure: unknown) => void;

  constructor(
    first: Readable,
    private readonly readFrom: ReadFrom,
    private readonly opts: ResumableReadOptions,
  ) {
    super({ highWaterMark: 256 * 1024 });
    this.#continueInContext = AsyncResource.bind((failure: unknown) => void this.#continue(failure));
    this.#attach(first);
  }

  #attach(body: Readable): void {
    this.#body = body;
    const onData = (c: Buffer) => {
      let chunk = c;
      if (this.#skip > 0) {
        if (chunk.length <= this.#skip) {
          this.#skip -= chunk.length;
          return;
        }
        chunk = chunk.subarray(this.#skip);
        this.#skip = 0;
      }
      this.#received += chunk.length;
      if (!this.push(chunk)) body.pause();
    };
    const done = (failure?: unknown) => {
      body.off('data', onData);
      body.off('end', onEnd);
      body.off('error', onError);
      body.on('error', () => undefined); // a late error of a body given up on
      if (this.destroyed || this.#body !== body) return;
      this.#body = undefined;
      if (!failure && this.#received >= this.opts.size) this.push(null);
      else this.#continueInContext(failure);
    };
    const onEnd = () => done();
    const onError = (e: unknown) => done(e ?? new Error('read failed'));
    body.on('data', onData);
    body.once('end', onEnd);
    body.once('error', onError);
  }

  /** Ask again from where the read stopped, or give up: the failure, or (short) an end the verifier judges. */
  async #continue(failure: unknown): Promise<void> {
    const { budget, policy } = this.opts;
    if (budget.left <= 0) {
      if (failure) this.destroy(failure as Error);
      else this.push(null); // short: the verifier reports the truncation
      return;
    }
    budget.left--;
    const delayMs = backoffMs(this.#retry, policy);
    const why = failure ? ((failure as { code?: string }).code ?? (failure as Error).message) : 'body ended early';
    this.opts.noteRetry({ attempt: this.#retry + 1, delayMs, reason: `read cut at ${this.#received} of ${this.opts.size} bytes (${why})` });
    this.#retry++;
    await sleep(delayMs);
    if (this.destroyed) return;
    let next: { body: Readable; start: number };
    try {
      next = await this.readFrom(this.#received);
    } catch (e) {
      this.destroy(e as Error);
      return;
    }
    if (this.destroyed) {
      discard(next.body);
      return;
    }
    this.#skip = this.#received - next.start;
    this.#attach(next.body);
  }

  /** Requests made for this blob so far: the first, and one per continuation. */
  get attempts(): number {
    return this.#retry + 1;
  }

  override _read(): void {
    this.#body?.resume();
  }

  override _destroy(err: Error | null, cb: (error?: Error | null) => void): void {
    const body = this.#body;
    this.#body = undefined;
    if (body && !body.readableEnded) discard(body);
    cb(err);
  }
}
