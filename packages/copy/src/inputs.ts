import { connectionInputs, credentialInputs, dotenvInput, EXIT_CODES_HELP, type InputDef, type StepDef } from '@airlock/step-kit';
import { copyOutputs, transferOutputs } from './outputs.js';

/** Options shared by `copy` and `mirror`. */
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

const CREDENTIALS_HELP = `Credentials (never on the command line), first match wins:
  AIRLOCK_REGISTRY, AIRLOCK_REGISTRY_USER, AIRLOCK_REGISTRY_PASSWORD   one registry
  CI_REGISTRY, CI_REGISTRY_USER, CI_REGISTRY_PASSWORD                  GitLab's registry, automatic in GitLab CI
  DOCKER_AUTH_CONFIG                                                   a docker config.json as a variable
  $DOCKER_CONFIG/config.json or ~/.docker/config.json                  auths, credHelpers, credsStore
  REGISTRY_AUTH_FILE or $XDG_RUNTIME_DIR/containers/auth.json          podman/skopeo auth file
Proxies: HTTPS_PROXY, HTTP_PROXY, NO_PROXY.`;

export const copyStep: StepDef = {
  name: 'copy',
  summary: 'Copy one image (all platforms, with signatures and referrers) between registries and OCI layouts',
  inputs: [
    { name: 'source', type: 'string', positional: true, required: true, valueName: 'SRC', description: 'HOST/REPO[:TAG][@DIGEST] or oci:DIR[:TAG]' },
    { name: 'destination', type: 'string', positional: true, required: true, valueName: 'DST', description: 'HOST/REPO[:TAG] or oci:DIR[:TAG] (default tag: the source tag)' },
    ...transferInputs,
    dotenvInput,
  ],
  outputs: copyOutputs,
  help: `
Examples:
  airlock copy docker.io/library/nginx:1.27 registry.local/library/nginx:1.27
  airlock copy ghcr.io/acme/app:2.1 oci:./bundle:app-2.1          # registry → OCI layout
  airlock copy oci:./bundle:app-2.1 registry.local/acme/app:2.1   # layout → registry
  airlock copy --platform linux/amd64 quay.io/org/tool:v1 127.0.0.1:5000/tool:v1

Digests are preserved: manifests move as the exact bytes received, every blob is verified
while it streams, and the tag is written only after everything it points to is in place.

${CREDENTIALS_HELP}

${EXIT_CODES_HELP}`,
};

export const mirrorStep: StepDef = {
  name: 'mirror',
  summary: 'Copy a list of images in parallel, rewriting their names for the private registry',
  inputs: [
    { name: 'file', type: 'string', required: true, short: 'f', valueName: 'LIST', description: 'image list: text lines "SOURCE [DESTINATION]" (# comments) or YAML (see below)' },
    { name: 'to', type: 'string', valueName: 'PREFIX', description: 'destination prefix: host/a/b:tag goes to PREFIX/a/b:tag' },
    { name: 'rewrite', type: 'string[]', valueName: 'OLD=NEW', default: [], description: 'replace a leading name prefix, e.g. gcr.io/acme=registry.local/acme (repeatable; first match wins)' },
    { name: 'shard', type: 'string', valueName: 'I/N|ci', description: 'copy only shard I of N of the list (balanced by count, the same images every run); "ci": GitLab parallel: N (CI_NODE_INDEX/CI_NODE_TOTAL)' },
    ...transferInputs,
    dotenvInput,
  ],
  outputs: transferOutputs,
  help: `
Text list:
  # source                                   [destination]
  gcr.io/acme/api:1.4
  docker.io/library/redis:7.2                registry.local/cache/redis:7.2

YAML list:
  images:
    - source: gcr.io/acme/api:1.4
      destination: registry.local/acme/api:1.4   # optional
      platforms: [linux/amd64]                   # optional
    - source: quay.io/org/tool@sha256:...

Examples:
  airlock mirror -f images.txt --to registry.local/mirror
  airlock mirror -f images.yaml --rewrite gcr.io/acme=registry.local/acme --junit mirror.xml

Sharding (--shard I/N, or --shard ci in a GitLab job with parallel: N): the list is ordered by a
hash of each entry and dealt round-robin, so the shards are disjoint, cover the list, differ by at
most one image, and take the same images on every run; "airlock report merge" joins their reports.

Images run in parallel; a failed image does not stop the others. The exit code is 1 if any
image failed, and the summary names each failure and why.

${CREDENTIALS_HELP}

${EXIT_CODES_HELP}`,
};
