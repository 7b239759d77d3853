/**
 * Step definitions as data: what a step takes and produces. The CLI is built from these, and the
 * GitLab components, Jenkins steps and GitHub action are generated from them, so this module (and
 * every package's `inputs` subpath) imports nothing that runs: a generator loads definitions alone.
 */

/**
 * A step's inputs, defined once. The CLI is built from this; the GitLab component `spec: inputs`,
 * the Jenkins step parameters and the GitHub action inputs are generated from the same data.
 */
export interface InputDef {
  /** kebab-case name: CLI `--name`, GitLab input `name`, action input `name`. */
  name: string;
  type: 'string' | 'boolean' | 'number' | 'string[]';
  description: string;
  default?: string | number | boolean | string[];
  /** A positional argument (in order) instead of an option. */
  positional?: boolean;
  required?: boolean;
  /** Secrets are never accepted in argv: only from this environment variable (or a file). */
  secret?: boolean;
  env?: string;
  /** Shown as the option's value in --help, e.g. HOST. */
  valueName?: string;
  short?: string;
  /** Only for the CLI (e.g. --json); wrappers do not expose it. */
  cliOnly?: boolean;
}

/** Airlock's version: the CLI's --version, image labels, reports. */
export const AIRLOCK_VERSION = '0.1.0';

/** A value a step hands to later CI jobs. */
export interface OutputDef {
  /** kebab-case name: action output `name`, dotenv key `AIRLOCK_<NAME>`. */
  name: string;
  description: string;
}

export interface StepDef {
  /** Command name, e.g. `copy`. */
  name: string;
  summary: string;
  /** Extra help text: examples, exit codes, environment. */
  help: string;
  inputs: InputDef[];
  /** What the step produces for later jobs (GitLab dotenv, GitHub outputs, Jenkins return value). */
  outputs?: OutputDef[];
}

/** Options for reaching registries, shared by every registry-facing step (parsed by connectionFlags). */
export const connectionInputs: InputDef[] = [
  { name: 'insecure-registry', type: 'string[]', valueName: 'HOST', default: [], description: 'plain HTTP or unverified TLS for this host only (repeatable); loopback hosts may use HTTP without it' },
  { name: 'ca-file', type: 'string[]', valueName: 'FILE', default: [], description: 'extra CA certificate (PEM) to trust (repeatable); /etc/docker/certs.d/HOST/ and /etc/containers/certs.d/HOST/ are read too' },
  { name: 'certs-dir', type: 'string[]', valueName: 'DIR', default: [], description: 'another certs.d-style directory (DIR/HOST/ca.crt, client.cert, client.key)' },
  { name: 'retries', type: 'number', valueName: 'N', default: 5, description: 'retries for 408/429/5xx and dropped connections (exponential backoff with jitter, honours Retry-After)' },
];

/** Registry credentials: environment only, never argv (the wrappers map CI secrets to these). */
export const credentialInputs: InputDef[] = [
  { name: 'registry', type: 'string', secret: true, env: 'AIRLOCK_REGISTRY', description: 'registry host the credentials below are for (environment only)' },
  { name: 'registry-user', type: 'string', secret: true, env: 'AIRLOCK_REGISTRY_USER', description: 'user name for AIRLOCK_REGISTRY (environment only)' },
  { name: 'registry-password', type: 'string', secret: true, env: 'AIRLOCK_REGISTRY_PASSWORD', description: 'password or token for AIRLOCK_REGISTRY (environment only)' },
];

export const EXIT_CODES_HELP = `Exit codes:
  0  success
  1  an operation failed (the summary names each failure and why)
  2  usage or input error (bad reference, unreadable list, unknown option)`;

/** Options of every step that moves images (copy, mirror; later bundle and sync), parsed by transferFlags. */
export const transferInputs: InputDef[] = [
  { name: 'platform', type: 'string[]', valueName: 'OS/ARCH[/VARIANT]', default: [], description: 'copy only this platform (repeatable); default: all platforms, the index copied byte-identical' },
  { name: 'no-referrers', type: 'boolean', default: false, description: 'do not copy cosign signatures, attestations, SBOMs and OCI referrers' },
  { name: 'concurrency', type: 'number', valueName: 'N', default: 8, description: 'parallel blob transfers (and images in flight)' },
  { name: 'chunk-size', type: 'number', valueName: 'BYTES', description: 'upload in PATCH chunks of this size (for proxies that limit request bodies)' },
  { name: 'force', type: 'boolean', default: false, description: 'copy even when the destination already holds the same digest' },
  { name: 'dry-run', type: 'boolean', default: false, description: 'resolve and compare everything, write nothing; report what would be copied' },
  { name: 'json', type: 'boolean', default: false, cliOnly: true, description: 'print the machine-readable result on stdout' },
  { name: 'report', type: 'string', valueName: 'FILE', description: 'write the JSON result to FILE' },
  { name: 'junit', type: 'string', valueName: 'FILE', description: 'write a JUnit XML report (one test case per image) to FILE' },
  { name: 'quiet', type: 'boolean', default: false, short: 'q', description: 'print only failures and the summary' },
  ...connectionInputs,
  ...credentialInputs,
];

export const CREDENTIALS_HELP = `Credentials (never on the command line), first match wins:
  AIRLOCK_REGISTRY, AIRLOCK_REGISTRY_USER, AIRLOCK_REGISTRY_PASSWORD   one registry
  CI_REGISTRY, CI_REGISTRY_USER, CI_REGISTRY_PASSWORD                  GitLab's registry, automatic in GitLab CI
  DOCKER_AUTH_CONFIG                                                   a docker config.json as a variable
  $DOCKER_CONFIG/config.json or ~/.docker/config.json                  auths, credHelpers, credsStore
  REGISTRY_AUTH_FILE or $XDG_RUNTIME_DIR/containers/auth.json          podman/skopeo auth file
Proxies: HTTPS_PROXY, HTTP_PROXY, NO_PROXY.`;

/** The `--dotenv FILE` input of steps that produce outputs. */
export const dotenvInput: InputDef = {
  name: 'dotenv',
  type: 'string',
  valueName: 'FILE',
  description: 'write the outputs (AIRLOCK_<NAME>=value, AIRLOCK_DIGEST_<IMAGE>=sha256:…) as a GitLab dotenv report to FILE',
};

/** Outputs of copy and mirror (StepDef.outputs), from their report. */
export const transferOutputs: OutputDef[] = [
  { name: 'images', description: 'how many images the run handled' },
  { name: 'failed', description: 'how many of them failed' },
  { name: 'digests', description: 'JSON object: destination → manifest digest (GitLab dotenv: one AIRLOCK_DIGEST_<IMAGE> per image)' },
  { name: 'references', description: 'the registry destinations pinned by digest (HOST/REPO:TAG@sha256:…), one per line (not in GitLab dotenv)' },
];
