import type { Readable } from 'node:stream';
import { AirlockError } from '../errors.js';
import { type Digest, digestOf, isDigest } from '../digest/digest.js';
import { MANIFEST_ACCEPT, MAX_MANIFEST_BYTES } from '../manifest/mediatypes.js';
import { type Manifest, parseManifest } from '../manifest/parse.js';
import { indexSchema, type Descriptor } from '../manifest/schema.js';
import { apiHost } from '../ref/reference.js';
import { discard, drain, readLimited } from '../util/body.js';
import { Authenticator, pullScope, pushScope, unauthorized } from './auth.js';
import type { CredentialProvider } from './credentials.js';
import { responseError } from './errors.js';
import { sleep } from '../util/sleep.js';
import { backoffMs, header, type HttpRequest, type HttpResponse, Transport } from './transport.js';

export interface ManifestHead {
  digest: Digest;
  mediaType: string;
  size: number;
}

type Req = Omit<HttpRequest, 'host'>;

/**
 * The OCI distribution API for one registry. Every manifest read is digest-checked; blob reads are
 * returned raw for the caller to verify while streaming (see VerifyingStream).
 */
export class RegistryClient {
  readonly host: string;
  #referrersApi: boolean | undefined;

  constructor(
    readonly registry: string,
    readonly transport: Transport,
    readonly auth: Authenticator,
  ) {
    this.host = apiHost(registry);
  }

  /** Send with auth: use a cached credential, answer one 401 challenge, then give up. */
  async send(scopes: string[], req: Req): Promise<HttpResponse> {
    const authz = await this.auth.authorization(this.host, this.registry, scopes);
    const withAuth = (a: string | undefined): HttpRequest => ({
      ...req,
      host: this.host,
      headers: { ...req.headers, ...(a ? { authorization: a } : {}) },
    });
    let res = await this.transport.request(withAuth(authz));
    if (res.status === 401) {
      await drain(res.body);
      const fresh = await this.auth.challenged(this.host, this.registry, scopes, header(res.headers, 'www-authenticate'));
      res = await this.transport.request(withAuth(fresh));
      if (res.status === 401) {
        await drain(res.body);
        throw unauthorized(this.registry, (await this.auth.credentials.get(this.registry)) !== undefined);
      }
    }
    return res;
  }

  /**
   * A request whose body is read here (a manifest, a tag list), sent again when the body failed on
   * the way: the connection dropped while it streamed (the transport retries only failures before
   * the response headers), it ended short, or it did not match its digest. Within the retry policy;
   * answers (404, 401, a status the transport gave up on) are final at once.
   */
  async #whole<T>(what: string, read: () => Promise<T>): Promise<T> {
    const policy = this.transport.retryPolicy;
    for (let attempt = 0; ; attempt++) {
      try {
        return await read();
      } catch (e) {
        const inTransit = !(e instanceof AirlockError) || e.code === 'DIGEST_MISMATCH';
        if (!inTransit || attempt >= policy.retries) {
          if (e instanceof AirlockError) throw attempt > 0 ? new AirlockError(e.code, `${e.message} (${attempt + 1} attempts)`, { hint: e.hint, status: e.status, cause: e }) : e;
          throw new AirlockError('NETWORK', `${what}: ${(e as { code?: string }).code ?? (e as Error).message}${attempt > 0 ? ` (${attempt + 1} attempts)` : ''}`, {
            hint: 'the registry closed the connection before the answer was complete; retry, or raise --retries',
            cause: e,
          });
        }
        const delayMs = backoffMs(attempt, policy);
        const why = e instanceof AirlockError ? 'content did not verify' : ((e as { code?: string }).code ?? (e as Error).message);
        this.transport.noteRetry({ url: what, attempt: attempt + 1, delayMs, reason: `${why}; reading again` });
        await sleep(delayMs);
      }
    }
  }

  /** GET a manifest, digest-checked; a body cut or damaged on the way is read again. */
  getManifest(repo: string, reference: string): Promise<Manifest> {
    return this.#whole(`${this.registry}/${repo}${isDigest(reference) ? '@' : ':'}${reference}`, () => this.#getManifestOnce(repo, reference));
  }

  async #getManifestOnce(repo: string, reference: string): Promise<Manifest> {
    const what = `${this.registry}/${repo}${isDigest(reference) ? '@' : ':'}${reference}`;
    const res = await this.send([pullScope(repo)], {
      method: 'GET',
      path: `/v2/${repo}/manifests/${reference}`,
      headers: { accept: MANIFEST_ACCEPT },
    });
    if (res.status !== 200) {
      const err = await responseError(res, what);
      if (res.status === 404) {
        throw new AirlockError('NOT_FOUND', `${what}: manifest not found`, {
          hint: 'check the repository name and tag (skopeo list-tags / crane ls show what exists)',
          status: 404,
          cause: err,
        });
      }
      throw err;
    }
    const len = Number(header(res.headers, 'content-length') ?? '0');
    if (len > MAX_MANIFEST_BYTES) {
      discard(res.body);
      throw new AirlockError('MANIFEST_TOO_LARGE', `${what}: manifest of ${len} bytes exceeds 4 MiB`, {
        hint: 'registries refuse manifests over 4 MiB; this is not a manifest Airlock can copy',
      });
    }
    const bytes = await readLimited(res.body, MAX_MANIFEST_BYTES, what);
    const expected = isDigest(reference) ? reference : (header(res.headers, 'docker-content-digest') as Digest | undefined);
    const actual = digestOf(bytes, expected?.startsWith('sha512:') ? 'sha512' : 'sha256');
    if (expected && isDigest(expected) && actual !== expected) {
      throw new AirlockError('DIGEST_MISMATCH', `${what}: manifest digest ${actual} does not match ${expected}`, {
        hint: 'the registry served corrupted or tampered content; nothing was written',
      });
    }
    return parseManifest(bytes, header(res.headers, 'content-type'), what, actual);
  }

  async headManifest(repo: string, reference: string, push = false): Promise<ManifestHead | undefined> {
    const res = await this.send([push ? pushScope(repo) : pullScope(repo)], {
      method: 'HEAD',
      path: `/v2/${repo}/manifests/${reference}`,
      headers: { accept: MANIFEST_ACCEPT },
    });
    await drain(res.body);
    if (res.status === 404) return undefined;
    if (res.status !== 200) throw await responseError(res, `HEAD ${this.registry}/${repo}:${reference}`);
    const digest = header(res.headers, 'docker-content-digest');
    if (!digest || !isDigest(digest)) return undefined; // cannot tell: treat as unknown
    return {
      digest,
      mediaType: header(res.headers, 'content-type') ?? '',
      size: Number(header(res.headers, 'content-length') ?? '0'),
    };
  }

  /** PUT a manifest (exact bytes). Returns whether the registry processed its subject (OCI 1.1). */
  async putManifest(repo: string, reference: string, m: Pick<Manifest, 'bytes' | 'mediaType' | 'digest'>): Promise<{ subjectProcessed: boolean }> {
    const res = await this.send([pushScope(repo)], {
      method: 'PUT',
      path: `/v2/${repo}/manifests/${reference}`,
      headers: { 'content-type': m.mediaType },
      body: () => m.bytes,
    });
    if (res.status !== 201 && res.status !== 200 && res.status !== 202) {
      throw await responseError(res, `push manifest ${this.registry}/${repo}:${reference}`);
    }
    await drain(res.body);
    const got = header(res.headers, 'docker-content-digest');
    if (got && isDigest(got) && got !== m.digest) {
      throw new AirlockError('DIGEST_MISMATCH', `${this.registry}/${repo}: registry stored manifest as ${got}, expected ${m.digest}`, {
        hint: 'the registry rewrote the manifest; digests would not be preserved',
      });
    }
    return { subjectProcessed: header(res.headers, 'oci-subject') !== undefined };
  }

  async hasBlob(repo: string, digest: Digest, push = false): Promise<boolean> {
    const res = await this.send([push ? pushScope(repo) : pullScope(repo)], { method: 'HEAD', path: `/v2/${repo}/blobs/${digest}` });
    await drain(res.body);
    if (res.status === 200) return true;
    if (res.status === 404) return false;
    throw await responseError(res, `HEAD blob ${this.registry}/${repo}@${digest}`);
  }

  /** GET a blob (redirects followed without credentials); the caller verifies while streaming. */
  async getBlob(repo: string, desc: Pick<Descriptor, 'digest'>): Promise<Readable> {
    return (await this.getBlobFrom(repo, desc, 0)).body;
  }

  /**
   * GET a blob from byte `offset` on (`Range: bytes=N-`), to continue a read that was cut. `start`
   * says where the body really begins: `offset` when the registry (or the storage it redirects to)
   * honoured the range, 0 when it sent the whole blob again.
   */
  async getBlobFrom(repo: string, desc: Pick<Descriptor, 'digest'>, offset: number): Promise<{ body: Readable; start: number }> {
    const res = await this.send([pullScope(repo)], {
      method: 'GET',
      path: `/v2/${repo}/blobs/${desc.digest}`,
      ...(offset > 0 ? { headers: { range: `bytes=${offset}-` } } : {}),
    });
    if (res.status === 200) return { body: res.body, start: 0 };
    if (res.status === 206 && offset > 0) {
      const m = /^bytes (\d+)-\d+\/(?:\d+|\*)$/.exec(header(res.headers, 'content-range') ?? '');
      if (m && Number(m[1]) === offset) return { body: res.body, start: offset };
      // A range we did not ask for: read it all again instead.
      discard(res.body);
      return this.getBlobFrom(repo, desc, 0);
    }
    throw await responseError(res, `blob ${this.registry}/${repo}@${desc.digest}`);
  }

  /**
   * DELETE a manifest by digest (what `--prune` does). Registries answer 405 when deletion is off
   * (docker-registry: REGISTRY_STORAGE_DELETE_ENABLED=true); that is an error naming the setting.
   */
  async deleteManifest(repo: string, digest: Digest): Promise<void> {
    const res = await this.send([`repository:${repo}:delete`, pushScope(repo)], { method: 'DELETE', path: `/v2/${repo}/manifests/${digest}` });
    if (res.status === 202 || res.status === 200 || res.status === 404) {
      await drain(res.body);
      return;
    }
    if (res.status === 405) {
      await drain(res.body);
      throw new AirlockError('DENIED', `${this.registry}/${repo}@${digest}: the registry does not allow deleting manifests`, {
        hint: 'enable deletion on the registry (docker-registry: REGISTRY_STORAGE_DELETE_ENABLED=true) or run without --prune',
        status: 405,
      });
    }
    throw await responseError(res, `delete ${this.registry}/${repo}@${digest}`);
  }

  /** All tags, following `Link` pagination; an unknown repository has none. */
  async listTags(repo: string): Promise<string[]> {
    const tags: string[] = [];
    let path: string | undefined = `/v2/${repo}/tags/list?n=1000`;
    for (let page = 0; path && page < 1000; page++) {
      const at: string = path;
      const got = await this.#whole(`list tags of ${this.registry}/${repo}`, async () => {
        const res = await this.send([pullScope(repo)], { method: 'GET', path: at });
        if (res.status === 404) {
          await drain(res.body);
          return undefined;
        }
        if (res.status !== 200) throw await responseError(res, `list tags of ${this.registry}/${repo}`);
        const body = JSON.parse((await readLimited(res.body, 64 * 1024 * 1024, 'tag list')).toString('utf8')) as { tags?: string[] | null };
        return { tags: body.tags ?? [], link: header(res.headers, 'link') };
      });
      if (!got) return tags;
      tags.push(...got.tags);
      const m = got.link ? /<([^>]+)>\s*;\s*rel="?next"?/.exec(got.link) : null;
      path = m ? (m[1]!.startsWith('/') ? m[1]! : new URL(m[1]!).pathname + new URL(m[1]!).search) : undefined;
    }
    return tags;
  }

  /**
   * The OCI 1.1 referrers API. Returns undefined when the registry does not implement it (404 on
   * the endpoint), remembered per registry so we ask once.
   */
  async referrers(repo: string, digest: Digest): Promise<Descriptor[] | undefined> {
    if (this.#referrersApi === false) return undefined;
    return this.#whole(`referrers of ${this.registry}/${repo}@${digest}`, () => this.#referrersOnce(repo, digest));
  }

  async #referrersOnce(repo: string, digest: Digest): Promise<Descriptor[] | undefined> {
    const res = await this.send([pullScope(repo)], {
      method: 'GET',
      path: `/v2/${repo}/referrers/${digest}`,
      headers: { accept: 'application/vnd.oci.image.index.v1+json' },
    });
    if (res.status === 404 || res.status === 405 || res.status === 400) {
      await drain(res.body);
      this.#referrersApi = false;
      return undefined;
    }
    if (res.status !== 200) throw await responseError(res, `referrers of ${this.registry}/${repo}@${digest}`);
    const ct = header(res.headers, 'content-type') ?? '';
    const bytes = await readLimited(res.body, MAX_MANIFEST_BYTES, 'referrers index');
    if (!ct.includes('application/vnd.oci.image.index.v1+json')) {
      this.#referrersApi = false;
      return undefined;
    }
    this.#referrersApi = true;
    const r = indexSchema.safeParse(JSON.parse(bytes.toString('utf8')));
    if (!r.success) throw new AirlockError('BAD_INPUT', `referrers of ${this.registry}/${repo}@${digest}: malformed index`);
    return r.data.manifests;
  }
}

/** One client per registry, sharing transport and auth (and so token caches and connections). */
export class Registries {
  readonly transport: Transport;
  readonly auth: Authenticator;
  readonly #clients = new Map<string, RegistryClient>();

  constructor(transport: Transport, credentials: CredentialProvider) {
    this.transport = transport;
    this.auth = new Authenticator(transport, credentials);
  }

  client(registry: string): RegistryClient {
    let c = this.#clients.get(registry);
    if (!c) {
      c = new RegistryClient(registry, this.transport, this.auth);
      this.#clients.set(registry, c);
    }
    return c;
  }

  close(): Promise<void> {
    return this.transport.close();
  }
}
