import { CREDENTIALS_HELP, EXIT_CODES_HELP, transferInputs, type StepDef } from '@airlock/step-kit/inputs';

export const copyStep: StepDef = {
  name: 'copy',
  summary: 'Copy one image (all platforms, with signatures and referrers) between registries and OCI layouts',
  inputs: [
    { name: 'source', type: 'string', positional: true, required: true, valueName: 'SRC', description: 'HOST/REPO[:TAG][@DIGEST] or oci:DIR[:TAG]' },
    { name: 'destination', type: 'string', positional: true, required: true, valueName: 'DST', description: 'HOST/REPO[:TAG] or oci:DIR[:TAG] (default tag: the source tag)' },
    ...transferInputs,
  ],
  outputs: [
    { name: 'digest', description: 'the manifest digest written at the destination' },
    { name: 'reference', description: 'the destination pinned by digest: HOST/REPO:TAG@sha256:…' },
    { name: 'report', description: 'path of the JSON report, when --report was given' },
  ],
  help: `
Examples:
  airlock copy docker.io/library/nginx:1.27 registry.local/library/nginx:1.27
  airlock copy ghcr.io/acme/app:2.1 oci:./bundle:app-2.1          # registry → OCI layout
  airlock copy oci:./bundle:app-2.1 registry.local/acme/app:2.1   # layout → registry
  airlock copy --platform linux/amd64 quay.io/org/tool:v1 127.0.0.1:5000/tool:v1

Digests are preserved: manifests move as the exact bytes received, every blob is verified
while it streams, and the tag is written only after everything it points to is in place.
A new oci:DIR appears only once it holds the image (a failed or interrupted copy leaves no
directory); an existing layout always keeps its index.json.

${CREDENTIALS_HELP}

${EXIT_CODES_HELP}`,
};

export const mirrorStep: StepDef = {
  name: 'mirror',
  summary: 'Copy a list of images in parallel, rewriting their names for the private registry',
  inputs: [
    { name: 'file', type: 'string', required: true, short: 'f', valueName: 'LIST', description: 'image list: text lines "SOURCE [DESTINATION]" (# comments) or YAML (see below)' },
    { name: 'to', type: 'string', valueName: 'PREFIX', description: 'destination prefix: host/a/b:tag goes to PREFIX/a/b:tag (with --rewrite: for the names no rewrite matches)' },
    { name: 'rewrite', type: 'string[]', valueName: 'OLD=NEW', default: [], description: 'replace a leading name prefix, e.g. gcr.io/acme=registry.local/acme (repeatable; first match wins; applied before --to)' },
    ...transferInputs,
  ],
  outputs: [
    { name: 'copied', description: 'how many images were copied (or are up to date)' },
    { name: 'failed', description: 'how many images failed' },
    { name: 'report', description: 'path of the JSON report (per image: source, destination, digests)' },
    { name: 'junit', description: 'path of the JUnit report' },
  ],
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

Destinations, first match wins:
  1. the DESTINATION given on the line (or the YAML entry's destination);
  2. the first --rewrite OLD=NEW whose OLD is a leading part of the source name (at a / boundary);
  3. --to PREFIX, for the names no rewrite matches.
  Two entries that would write the same destination tag are refused (exit 2), naming both lines.

Examples:
  airlock mirror -f images.txt --to registry.local/mirror
  airlock mirror -f images.yaml --rewrite gcr.io/acme=registry.local/acme --junit mirror.xml
  airlock mirror -f images.txt --rewrite gcr.io/acme=registry.local/acme --to registry.local/mirror

Images run in parallel; a failed image does not stop the others. The exit code is 1 if any
image failed, and the summary names each failure and why.

${CREDENTIALS_HELP}

${EXIT_CODES_HELP}`,
};
