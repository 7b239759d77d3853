import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { AirlockError } from '../errors.js';
import { DOCKER_HUB } from '../ref/reference.js';

/** What we can present to a registry. Never logged, never placed in argv. */
export type Credential =
  | { kind: 'basic'; username: string; password: string }
  | { kind: 'identitytoken'; username: string; token: string };

export interface CredentialProvider {
  /** Credentials for a registry host (docker.io for Docker Hub), or undefined for anonymous. */
  get(registry: string): Promise<Credential | undefined>;
}

const dockerConfigSchema = z.object({
  auths: z
    .record(
      z.string(),
      z.object({
        auth: z.string().optional(),
        username: z.string().optional(),
        password: z.string().optional(),
        identitytoken: z.string().optional(),
      }),
    )
    .optional(),
  credHelpers: z.record(z.string(), z.string()).optional(),
  credsStore: z.string().optional(),
});
export type DockerConfig = z.infer<typeof dockerConfigSchema>;

const helperOutputSchema = z.object({ Username: z.string(), Secret: z.string() });

/** Environment variables Airlock reads for credentials (documented in the README). */
export const CREDENTIAL_ENV = {
  registry: 'AIRLOCK_REGISTRY',
  user: 'AIRLOCK_REGISTRY_USER',
  password: 'AIRLOCK_REGISTRY_PASSWORD',
  authConfig: 'DOCKER_AUTH_CONFIG',
} as const;

/** Keys in `auths` may be URLs (`https://index.docker.io/v1/`) or bare hosts. */
export function normaliseConfigKey(key: string): string {
  let k = key.replace(/^https?:\/\//, '');
  k = k.replace(/\/.*$/, '');
  if (k === 'index.docker.io' || k === 'registry-1.docker.io') return DOCKER_HUB;
  return k;
}

function decodeAuth(auth: string, where: string): { username: string; password: string } {
  const raw = Buffer.from(auth, 'base64').toString('utf8');
  const i = raw.indexOf(':');
  if (i < 0) {
    throw new AirlockError('BAD_INPUT', `malformed "auth" entry in ${where}`, {
      hint: 'auth must be base64 of USERNAME:PASSWORD',
    });
  }
  return { username: raw.slice(0, i), password: raw.slice(i + 1) };
}

/**
 * Where a docker config came from: the DOCKER_AUTH_CONFIG variable, or a file. Messages name it so
 * the user knows what to fix, and never repeat its content (it holds secrets).
 */
export type ConfigSource = { kind: 'variable'; name: string } | { kind: 'file'; path: string; what: string };

function describeSource(where: string | ConfigSource): { name: string; fix: string } {
  if (typeof where === 'string') return { name: where, fix: 'fix or remove it' };
  if (where.kind === 'variable') return { name: `the ${where.name} variable`, fix: `fix or unset ${where.name} (it must hold a docker config.json: {"auths":{...}})` };
  return { name: `${where.what} ${where.path}`, fix: 'fix or remove the file' };
}

export function parseDockerConfig(text: string, where: string | ConfigSource): DockerConfig {
  const src = describeSource(where);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new AirlockError('BAD_INPUT', `${src.name} is not valid JSON`, { hint: src.fix });
  }
  const r = dockerConfigSchema.safeParse(json);
  if (!r.success) {
    const i = r.error.issues[0];
    const at = i?.path.length ? ` at ${i.path.map(String).join('.')}` : '';
    throw new AirlockError('BAD_INPUT', `${src.name} is not a docker config.json${at}: ${i?.message ?? 'invalid'}`, { hint: src.fix });
  }
  return r.data;
}

/** Run `docker-credential-NAME get` with the server on stdin, as docker does. */
export function runCredentialHelper(name: string, server: string, env: NodeJS.ProcessEnv = process.env): Promise<Credential | undefined> {
  return new Promise((resolve, reject) => {
    const child = spawn(`docker-credential-${name}`, ['get'], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', (e) =>
      reject(
        new AirlockError('CREDENTIALS', `credential helper docker-credential-${name} could not run`, {
          hint: `install it on PATH or remove it from the docker config`,
          cause: e,
        }),
      ),
    );
    child.on('close', (code) => {
      if (code !== 0) {
        if (/credentials not found/i.test(out + err)) return resolve(undefined);
        return reject(
          new AirlockError('CREDENTIALS', `docker-credential-${name} get failed for ${server} (exit ${code})`, {
            hint: (out + err).trim().split('\n')[0] ?? undefined,
          }),
        );
      }
      try {
        const r = helperOutputSchema.parse(JSON.parse(out));
        resolve(r.Username === '<token>' ? { kind: 'identitytoken', username: '<token>', token: r.Secret } : { kind: 'basic', username: r.Username, password: r.Secret });
      } catch {
        reject(new AirlockError('CREDENTIALS', `docker-credential-${name} printed something that is not credentials`));
      }
    });
    child.stdin.end(server);
  });
}

function fromConfig(cfg: DockerConfig, registry: string, where: string): { entry?: Credential; helper?: string } {
  const helper = cfg.credHelpers?.[registry] ?? cfg.credsStore;
  for (const [key, v] of Object.entries(cfg.auths ?? {})) {
    if (normaliseConfigKey(key) !== registry) continue;
    if (v.identitytoken) {
      const u = v.auth ? decodeAuth(v.auth, where).username : (v.username ?? '<token>');
      return { entry: { kind: 'identitytoken', username: u, token: v.identitytoken } };
    }
    if (v.auth) return { entry: { kind: 'basic', ...decodeAuth(v.auth, where) } };
    if (v.username && v.password) return { entry: { kind: 'basic', username: v.username, password: v.password } };
  }
  return helper ? { helper } : {};
}

/**
 * The standard chain, first match wins:
 * 1. `AIRLOCK_REGISTRY` + `AIRLOCK_REGISTRY_USER` + `AIRLOCK_REGISTRY_PASSWORD` (one host, for CI);
 * 2. GitLab's `CI_REGISTRY` + `CI_REGISTRY_USER` + `CI_REGISTRY_PASSWORD`;
 * 3. `DOCKER_AUTH_CONFIG` (a config.json as a CI variable, GitLab's convention);
 * 4. `$DOCKER_CONFIG/config.json` or `~/.docker/config.json` (`auths`, `credHelpers`, `credsStore`);
 * 5. `REGISTRY_AUTH_FILE` or `$XDG_RUNTIME_DIR/containers/auth.json` (podman/skopeo).
 */
export class DefaultCredentials implements CredentialProvider {
  readonly #env: NodeJS.ProcessEnv;
  readonly #cache = new Map<string, Promise<Credential | undefined>>();

  constructor(env: NodeJS.ProcessEnv = process.env) {
    this.#env = env;
  }

  get(registry: string): Promise<Credential | undefined> {
    let p = this.#cache.get(registry);
    if (!p) {
      p = this.#lookup(registry);
      this.#cache.set(registry, p);
    }
    return p;
  }

  /** The docker-config-shaped sources, in order: DOCKER_AUTH_CONFIG, docker config.json, containers auth.json. */
  #configs(): Array<{ where: ConfigSource; text: string }> {
    const env = this.#env;
    const out: Array<{ where: ConfigSource; text: string }> = [];
    if (env.DOCKER_AUTH_CONFIG) out.push({ where: { kind: 'variable', name: 'DOCKER_AUTH_CONFIG' }, text: env.DOCKER_AUTH_CONFIG });
    const dockerPath = join(env.DOCKER_CONFIG ?? join(env.HOME ?? homedir(), '.docker'), 'config.json');
    const docker = readOptional(dockerPath);
    if (docker) out.push({ where: { kind: 'file', path: dockerPath, what: 'docker config.json' }, text: docker });
    const authPath = env.REGISTRY_AUTH_FILE ?? (env.XDG_RUNTIME_DIR ? join(env.XDG_RUNTIME_DIR, 'containers', 'auth.json') : '');
    const auth = readOptional(authPath);
    if (auth) out.push({ where: { kind: 'file', path: authPath, what: 'containers auth.json' }, text: auth });
    return out;
  }

  /**
   * Parse every credential source now: a malformed one throws a BAD_INPUT error naming it (and
   * what to do), before any request. Nothing is looked up and no helper runs.
   */
  check(): void {
    for (const { where, text } of this.#configs()) {
      const cfg = parseDockerConfig(text, where);
      for (const [key, v] of Object.entries(cfg.auths ?? {})) if (v.auth) decodeAuth(v.auth, `${describeSource(where).name} (auths.${key})`);
    }
  }

  async #lookup(registry: string): Promise<Credential | undefined> {
    const env = this.#env;
    const pair = (host: string | undefined, user: string | undefined, pass: string | undefined) =>
      host && normaliseConfigKey(host) === registry && user && pass ? ({ kind: 'basic', username: user, password: pass } as const) : undefined;
    const direct =
      pair(env.AIRLOCK_REGISTRY, env.AIRLOCK_REGISTRY_USER, env.AIRLOCK_REGISTRY_PASSWORD) ??
      pair(env.CI_REGISTRY, env.CI_REGISTRY_USER, env.CI_REGISTRY_PASSWORD);
    if (direct) return direct;

    for (const { where, text } of this.#configs()) {
      const found = fromConfig(parseDockerConfig(text, where), registry, describeSource(where).name);
      if (found.entry) return found.entry;
      if (found.helper) {
        const server = registry === DOCKER_HUB ? 'https://index.docker.io/v1/' : registry;
        const c = await runCredentialHelper(found.helper, server, env);
        if (c) return c;
      }
    }
    return undefined;
  }
}

function readOptional(path: string): string | undefined {
  if (!path) return undefined;
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** A fixed map of credentials (tests, library users). */
export class StaticCredentials implements CredentialProvider {
  constructor(readonly map: Record<string, Credential>) {}
  async get(registry: string): Promise<Credential | undefined> {
    return this.map[registry];
  }
}
