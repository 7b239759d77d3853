import { connectionInputs, credentialInputs, EXIT_CODES_HELP, type StepDef } from '@airlock/step-kit/inputs';

export const imageBuildStep: StepDef = {
  name: 'build',
  summary: 'Build the Airlock runner image: a Node base image you mirrored plus one layer with the bundles (no Docker needed)',
  inputs: [
    { name: 'base', type: 'string', required: true, valueName: 'REF', description: 'the Node base image (all platforms of its index are extended): HOST/REPO:TAG[@DIGEST] or oci:DIR[:TAG]' },
    { name: 'to', type: 'string', required: true, valueName: 'REF', description: 'where the runner image goes: HOST/REPO:TAG or oci:DIR:TAG' },
    { name: 'bundle-dir', type: 'string', valueName: 'DIR', description: 'directory holding airlock.cjs and the other bundles (default: the directory of the running bundle)' },
    { name: 'revision', type: 'string', valueName: 'SHA', description: 'org.opencontainers.image.revision label (default: $CI_COMMIT_SHA or $GITHUB_SHA)' },
    { name: 'source', type: 'string', valueName: 'URL', description: 'org.opencontainers.image.source label (default: $CI_PROJECT_URL, or the GitHub repository URL)' },
    { name: 'created', type: 'string', valueName: 'RFC3339', description: 'time recorded in the layer and history (default: $SOURCE_DATE_EPOCH, else 1970-01-01: the same bundles give the same digest)' },
    { name: 'sbom', type: 'string', valueName: 'FORMAT', default: 'spdx', description: 'attach the SBOM of the bundled npm packages as the .sbom tag: spdx, cyclonedx or none' },
    { name: 'sign-key', type: 'string', valueName: 'FILE', description: 'sign the image (index and every platform manifest) with this cosign key; password from COSIGN_PASSWORD or --password-file' },
    { name: 'password-file', type: 'string', valueName: 'FILE', description: 'read the --sign-key password from FILE' },
    { name: 'concurrency', type: 'number', valueName: 'N', default: 8, description: 'parallel blob transfers' },
    { name: 'json', type: 'boolean', default: false, cliOnly: true, description: 'print the result as JSON on stdout' },
    { name: 'report', type: 'string', valueName: 'FILE', description: 'write the JSON result to FILE' },
    ...connectionInputs,
    ...credentialInputs,
  ],
  outputs: [
    { name: 'digest', description: 'digest of the runner image (the index when the base is multi-platform)' },
    { name: 'reference', description: 'the runner image pinned by digest' },
  ],
  help: `
The image is the base with one more layer: /opt/airlock/*.cjs (every bundle, plus its SBOM) and
/usr/local/bin/airlock (runs node /opt/airlock/airlock.cjs). Every platform of the base index is
extended; each config gets AIRLOCK_HOME, PATH, the org.opencontainers.image.{version,revision,source}
labels, and no Entrypoint (so GitLab, Jenkins and Kubernetes start their own shell). Like crane
append and ko: deterministic (the same base and bundles give the same digest), base layers are
mounted or skipped, never rebuilt.

Examples:
  airlock image build --base registry.local/library/node:20-bookworm-slim --to registry.local/tools/airlock:0.1.0
  airlock image build --base oci:./media:node-20 --to oci:./media:airlock-0.1.0 --sbom cyclonedx
  COSIGN_PASSWORD=... airlock image build --base registry.local/library/node:20 --to registry.local/tools/airlock:0.1.0 --sign-key cosign.key

${EXIT_CODES_HELP}`,
};
