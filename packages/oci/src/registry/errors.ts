import { z } from 'zod';
import { AirlockError, type ErrorCode } from '../errors.js';
import { readLimited } from '../util/body.js';
import type { HttpResponse } from './transport.js';

const errorBodySchema = z.object({
  errors: z.array(z.object({ code: z.string().optional(), message: z.string().optional(), detail: z.unknown().optional() })),
});

/** The registry's own words from an error body (`{"errors":[{"code","message"}]}`), if any. */
export async function registryMessage(res: HttpResponse): Promise<string | undefined> {
  let buf: Buffer;
  try {
    buf = await readLimited(res.body, 64 * 1024, 'error body');
  } catch {
    return undefined;
  }
  const text = buf.toString('utf8').trim();
  if (!text) return undefined;
  try {
    const r = errorBodySchema.safeParse(JSON.parse(text));
    if (r.success && r.data.errors.length) {
      return r.data.errors.map((e) => [e.code, e.message].filter(Boolean).join(': ')).join('; ');
    }
  } catch {
    /* not JSON */
  }
  return text.split('\n')[0]!.slice(0, 200);
}

/** Turn a failed registry response into a typed error that names what failed and what to do. */
export async function responseError(res: HttpResponse, what: string, attempts = res.attempts ?? 1): Promise<AirlockError> {
  const msg = await registryMessage(res);
  const detail = `${msg ? `: ${msg}` : ''}${attempts > 1 ? ` (${attempts} attempts)` : ''}`;
  let code: ErrorCode = 'REGISTRY';
  let hint: string | undefined;
  switch (res.status) {
    case 401:
      code = 'UNAUTHORIZED';
      hint = 'provide credentials for this registry (see airlock --help, "Credentials")';
      break;
    case 403:
      code = 'DENIED';
      hint = 'the credentials lack permission for this repository';
      break;
    case 404:
      code = 'NOT_FOUND';
      hint = 'check the repository, tag or digest';
      break;
    case 413:
      hint = 'the registry or a proxy in front of it limits request size; try --chunk-size';
      break;
    default:
      hint = transientHint(res.status, attempts);
  }
  return new AirlockError(code, `${what}: HTTP ${res.status}${detail}`, { hint, status: res.status });
}

/** What to do about a 429 or 5xx answer, knowing whether it was already retried. */
export function transientHint(status: number | undefined, attempts: number): string | undefined {
  if (status === 429) return attempts > 1 ? 'the registry kept asking to slow down; try later, or lower --concurrency' : 'the registry asks to slow down; raise --retries or lower --concurrency';
  if (status !== undefined && status >= 500) return attempts > 1 ? 'the registry failed; retried, still failing' : 'the registry failed; try again, or raise --retries';
  return undefined;
}
