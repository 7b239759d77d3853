import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { normaliseConfigKey, parseDockerConfig } from '@airlock/oci';

/**
 * Where DefaultCredentials finds credentials for `registry`, named for the user (the same chain,
 * first match wins). Only names places; never reads a secret out.
 */
export function credentialSource(env: NodeJS.ProcessEnv, registry: string): string {
  const pairFor = (host: string | undefined, user: string | undefined, pass: string | undefined) => host && normaliseConfigKey(host) === registry && user && pass;
  if (pairFor(env.AIRLOCK_REGISTRY, env.AIRLOCK_REGISTRY_USER, env.AIRLOCK_REGISTRY_PASSWORD)) return 'AIRLOCK_REGISTRY_USER/AIRLOCK_REGISTRY_PASSWORD';
  if (pairFor(env.CI_REGISTRY, env.CI_REGISTRY_USER, env.CI_REGISTRY_PASSWORD)) return 'CI_REGISTRY_USER/CI_REGISTRY_PASSWORD';
  const dockerConfig = join(env.DOCKER_CONFIG ?? join(env.HOME ?? homedir(), '.docker'), 'config.json');
  const authFile = env.REGISTRY_AUTH_FILE ?? (env.XDG_RUNTIME_DIR ? join(env.XDG_RUNTIME_DIR, 'containers', 'auth.json') : '');
  const read = (path: string) => {
    try {
      return path ? readFileSync(path, 'utf8') : undefined;
    } catch {
      return undefined;
    }
  };
  const sources: Array<[string, string | undefined]> = [
    ['DOCKER_AUTH_CONFIG', env.DOCKER_AUTH_CONFIG],
    [dockerConfig, read(dockerConfig)],
    [authFile, read(authFile)],
  ];
  for (const [where, text] of sources) {
    if (!text) continue;
    try {
      const cfg = parseDockerConfig(text, where);
      if (Object.keys(cfg.auths ?? {}).some((k) => normaliseConfigKey(k) === registry)) return `${where} (auths)`;
      const helper = cfg.credHelpers?.[registry] ?? cfg.credsStore;
      if (helper) return `docker-credential-${helper} (${where} ${cfg.credHelpers?.[registry] ? 'credHelpers' : 'credsStore'})`;
    } catch {
      return where;
    }
  }
  return 'the docker/podman configuration';
}

/** Environment settings that look meant for this registry but are not used for it. */
export function credentialEnvNotes(env: NodeJS.ProcessEnv, registry: string): string[] {
  const notes: string[] = [];
  for (const [host, user, pass] of [
    ['AIRLOCK_REGISTRY', 'AIRLOCK_REGISTRY_USER', 'AIRLOCK_REGISTRY_PASSWORD'],
    ['CI_REGISTRY', 'CI_REGISTRY_USER', 'CI_REGISTRY_PASSWORD'],
  ] as const) {
    const h = env[host];
    if (!h) {
      if (host === 'AIRLOCK_REGISTRY' && (env[user] || env[pass])) notes.push(`${user}/${pass} are set but ${host} is not: they are ignored (set ${host}=${registry})`);
      continue;
    }
    if (normaliseConfigKey(h) !== registry) {
      if (host === 'AIRLOCK_REGISTRY') notes.push(`${host}=${h} names another registry: its user and password are not used for ${registry}`);
      continue;
    }
    const missing = [user, pass].filter((k) => !env[k]);
    if (missing.length) notes.push(`${host} names ${registry} but ${missing.join(' and ')} ${missing.length > 1 ? 'are' : 'is'} empty: ignored`);
  }
  return notes;
}
