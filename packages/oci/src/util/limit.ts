/** A counting semaphore: at most `n` tasks run at once. */
export class Limiter {
  #active = 0;
  readonly #queue: Array<() => void> = [];

  constructor(readonly n: number) {
    if (!(n >= 1)) throw new RangeError('concurrency must be at least 1');
  }

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.#active >= this.n) await new Promise<void>((r) => this.#queue.push(r));
    this.#active++;
    try {
      return await task();
    } finally {
      this.#active--;
      this.#queue.shift()?.();
    }
  }
}

/** Run `fn` over items with at most `n` in flight; results in input order, all settled. */
export async function mapSettled<T, R>(
  items: readonly T[],
  n: number,
  fn: (item: T, i: number) => Promise<R>,
): Promise<PromiseSettledResult<R>[]> {
  const lim = new Limiter(n);
  return Promise.allSettled(items.map((it, i) => lim.run(() => fn(it, i))));
}

/** A promise cache: concurrent callers of the same key share one in-flight operation. */
export class Once<K, V> {
  readonly #m = new Map<K, Promise<V>>();
  get(key: K, make: () => Promise<V>): Promise<V> {
    let p = this.#m.get(key);
    if (!p) {
      p = make();
      this.#m.set(key, p);
      // Failed operations may be retried by a later caller.
      p.catch(() => this.#m.delete(key));
    }
    return p;
  }
}

/**
 * Like Promise.all, but a failure is reported only once every sibling has settled, so that nothing is
 * still writing to the sink (temp files, upload sessions) when the image is reported failed.
 */
export async function allSettledOrThrow(tasks: Promise<unknown>[]): Promise<void> {
  const failed = (await Promise.allSettled(tasks)).find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}
