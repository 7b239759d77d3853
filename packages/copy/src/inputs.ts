import { CREDENTIALS_HELP, EXIT_CODES_HELP, transferInputs, type StepDef } from '@airlock/step-kit/inputs';

export const copyStep: StepDef = {
  name: 'copy',
  summary: 'Copy one image (all platforms, with signatures and referrers) between registries, OCI layouts and docker save archives',
  inputs: [
    { name: 'source', type: 'string', positional: true, required: true, valueName: 'SRC', description: 'HOST/REPO[:TAG][@DIGEST], oci:DIR[:TAG], or docker-archive:FILE[:NAME:TAG|:@N]' },
    { name: 'destination', type: 'string', positional: true, required: true, valueName: 'DST', description: 'HOST/REPO[:TAG], oci:DIR[:TAG], or docker-archive:FILE[:NAME:TAG] (default tag or name: the source\'s)' },
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
  airlock copy docker-archive:app.tar registry.local/acme/app:2.1   # a docker save tarball
  airlock copy --platform linux/amd64 ghcr.io/acme/app:2.1 docker-archive:app.tar:acme/app:2.1   # for docker load

docker-archive: reads what docker save and skopeo write (manifest.json, and the OCI form of
docker >= 25); each layer is checked against the config's diff_ids. Without an OCI index in the
archive the manifest is computed (the report marks its digest "sourceDigestComputed"). Written
archives hold one platform per image (--platform picks it) and are read by docker load and skopeo.

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

Examples:
  airlock mirror -f images.txt --to registry.local/mirror
  airlock mirror -f images.txt --to docker-archive:images.tar --platform linux/amd64   # one docker load file
  airlock mirror -f images.yaml --rewrite gcr.io/acme=registry.local/acme --junit mirror.xml

Images run in parallel; a failed image does not stop the others. The exit code is 1 if any
image failed, and the summary names each failure and why.

${CREDENTIALS_HELP}

${EXIT_CODES_HELP}`,
};
