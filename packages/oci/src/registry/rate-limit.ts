import { sleep } from '../util/sleep.js';

/**
 * Requests per second per registry host, and pauses a registry asks for (`429` + `Retry-After`):
 * Docker Hub's pull limits and shared mirrors. Requests to a host are spaced 1/rate apart; after a
 * `Retry-After`, no request to that host starts before the time it named (not just the one retried).
 */
export class HostRateLimiter {
  readonly #interval = new Map<string, number>();
  readonly #next = new Map<string, number>();

  constructor(
    perSecond: Readonly<Record<string, number>> = {},
    readonly now: () => number = Date.now,
  ) {
    for (const [host, rps] of Object.entries(perSecond)) {
      if (!(rps > 0)) throw new RangeError(`requests per second for ${host} must be positive`);
      this.#interval.set(host, 1000 / rps);
    }
  }

  /** Wait for this host's next slot (immediately for a host with no limit and no pause). */
  async acquire(host: string, signal?: AbortSignal): Promise<void> {
    const interval = this.#interval.get(host) ?? 0;
    const next = this.#next.get(host);
    if (!interval && next === undefined) return;
    const now = this.now();
    const slot = Math.max(now, next ?? now);
    if (interval) this.#next.set(host, slot + interval);
    else if (next !== undefined && next <= now) this.#next.delete(host);
    if (slot > now) await sleep(slot - now, signal);
  }

  /** The host answered 429 with Retry-After: hold every request to it for `ms`. */
  pause(host: string, ms: number): void {
    const until = this.now() + ms;
    this.#next.set(host, Math.max(this.#next.get(host) ?? 0, until));
  }
}
