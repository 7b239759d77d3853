import { CREDENTIALS_HELP, dotenvInput, EXIT_CODES_HELP, transferInputs, transferOutputs, type OutputDef, type StepDef } from '@airlock/step-kit/inputs';

export const copyOutputs: OutputDef[] = [
  { name: 'digest', description: 'the manifest digest at the destination (sha256:…)' },
  { name: 'reference', description: 'the destination pinned by digest (HOST/REPO:TAG@sha256:…)' },
  ...transferOutputs,
];

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

/** `airlock report merge`: one report from the reports of mirror shards (GitLab `parallel: N`). */
export const reportMergeStep: StepDef = {
  name: 'merge',
  summary: 'Merge copy/mirror JSON reports (e.g. of parallel mirror shards) into one JSON and JUnit report',
  inputs: [
    { name: 'reports', type: 'string[]', positional: true, required: true, valueName: 'REPORT...', description: 'JSON reports written by copy/mirror --report, or directories holding them (*.json, in name order)' },
    { name: 'json-out', type: 'string', valueName: 'FILE', description: 'write the merged JSON report to FILE' },
    { name: 'junit', type: 'string', valueName: 'FILE', description: 'write the merged JUnit XML report (one test case per image) to FILE' },
    { ...dotenvInput },
    { name: 'quiet', type: 'boolean', default: false, short: 'q', description: 'print only failures and the summary' },
  ],
  outputs: transferOutputs,
  help: `
Every image of every report is kept, in report order; an image found in two reports is an error
(the same shard merged twice). Totals are recomputed; the duration is the longest report's (shards
run side by side). The exit code is 0 once the reports are merged, also when some images had
failed (their shard's job already failed): the merged report names them.

Example (GitLab, after a mirror job with parallel: 3):
  airlock report merge airlock-reports/ --json-out mirror.json --junit mirror.xml

${EXIT_CODES_HELP}`,
};
