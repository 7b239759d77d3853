import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { describe, expect, it } from 'vitest';
import { ResumableRead, type ReadFrom } from '../src/content/resumable-read.js';

const BLOB = Buffer.from(Array.from({ length: 1000 }, (_, i) => i & 255));
const policy = { retries: 3, minDelayMs: 1, maxDelayMs: 2 };

/** A body that sends `blob[from, cut)` in 64-byte chunks, then ends (or fails when `fail`). */
function body(from: number, cut: number, fail = false): Readable {
  return Readable.from(
    (async function* () {
      for (let i = from; i < cut; i += 64) yield BLOB.subarray(i, Math.min(i + 64, cut));
      if (fail) throw Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
    })(),
    { objectMode: false },
  );
}

describe('ResumableRead', () => {
  it('continues a cut read from where it stopped, skipping what a server that ignored the range sends again', async () => {
    const asked: number[] = [];
    const retries: string[] = [];
    const readFrom: ReadFrom = async (offset) => {
      asked.push(offset);
      // First continuation: the range is honoured but the body is cut again; then the range is ignored.
      return asked.length === 1 ? { body: body(offset, 700, true), start: offset } : { body: body(0, BLOB.length), start: 0 };
    };
    const r = new ResumableRead(body(0, 300), readFrom, { size: BLOB.length, budget: { left: 3 }, policy, noteRetry: (i) => retries.push(i.reason) });
    expect((await buffer(r)).equals(BLOB)).toBe(true);
    expect(asked).toEqual([300, 700]);
    expect(retries).toEqual(['read cut at 300 of 1000 bytes (body ended early)', 'read cut at 700 of 1000 bytes (ECONNRESET)']);
    expect(r.attempts).toBe(3);
  });

  it('gives up when the budget is spent: the failure, or a short end for the verifier to judge', async () => {
    const failing = new ResumableRead(body(0, 200, true), async (o) => ({ body: body(o, 400, true), start: o }), { size: BLOB.length, budget: { left: 1 }, policy, noteRetry: () => undefined });
    await expect(buffer(failing)).rejects.toThrow('socket hang up');
    const short = new ResumableRead(body(0, 200), async () => ({ body: body(0, 0), start: 0 }), { size: BLOB.length, budget: { left: 0 }, policy, noteRetry: () => undefined });
    expect((await buffer(short)).length).toBe(200);
  });

  it('destroying it releases the body being read', async () => {
    const first = body(0, BLOB.length);
    const r = new ResumableRead(first, async () => ({ body: body(0, 0), start: 0 }), { size: BLOB.length, budget: { left: 1 }, policy, noteRetry: () => undefined });
    r.destroy();
    await new Promise((res) => setImmediate(res));
    expect(first.destroyed).toBe(true);
  });

  it('destroyed while a continuation is being asked for: the new body is let go without an unhandled error', async () => {
    // Like undici's BodyReadable: destroyed before its end, it errors with "Request aborted".
    const next = new Readable({ read() {}, destroy: (err, cb) => cb(err ?? new Error('Request aborted')) });
    let answer!: (v: { body: Readable; start: number }) => void;
    let asked!: () => void;
    const askedFor = new Promise<void>((res) => (asked = res));
    const readFrom: ReadFrom = () => (asked(), new Promise((a) => (answer = a)));
    const r = new ResumableRead(body(0, 100), readFrom, { size: BLOB.length, budget: { left: 1 }, policy, noteRetry: () => undefined });
    r.on('error', () => undefined);
    r.resume();
    await askedFor;
    r.destroy();
    answer({ body: next, start: 100 });
    await new Promise((d) => setTimeout(d, 50));
    expect(next.destroyed).toBe(true);
  });
});
