import { connectionInputs, credentialInputs, EXIT_CODES_HELP, identityInputs, trustInputs, type InputDef, type StepDef } from '@airlock/step-kit/inputs';

/** Which images, and where they live in the private registry. */
export const imageInputs: InputDef[] = [
  { name: 'image', type: 'string[]', valueName: 'REF', default: [], description: 'an image to deploy (repeatable); mapped with --to/--rewrite, resolved to its digest in the private registry' },
  { name: 'file', type: 'string', short: 'f', valueName: 'LIST', description: 'deploy every image of a mirror list (airlock mirror --file format; a line\'s DESTINATION is where it lives)' },
  { name: 'to', type: 'string', valueName: 'PREFIX', description: 'the images live under PREFIX in the private registry (host/a/b:tag → PREFIX/a/b:tag), as airlock mirror --to' },
  { name: 'rewrite', type: 'string[]', valueName: 'OLD=NEW', default: [], description: 'the images live at NEW instead of a leading OLD (repeatable, first match wins), as airlock mirror --rewrite' },
];

/** The verification gate: verify's options, the same names and meaning. */
export const gateInputs: InputDef[] = [
  ...trustInputs,
  ...identityInputs,
  { name: 'policy', type: 'string', valueName: 'FILE', description: 'verify each image against a verify policy file instead of --key/--certificate-* (see airlock verify --help)' },
  { name: 'no-verify', type: 'boolean', default: false, description: 'deploy without verifying signatures (printed as a warning in the log and the report)' },
];

export const kubeInputs: InputDef[] = [
  { name: 'kube', type: 'string[]', valueName: 'KIND/NAME[:CONTAINER]', default: [], description: 'set the image of a workload through the Kubernetes API (deployment, statefulset, daemonset, cronjob; repeatable)' },
  { name: 'namespace', type: 'string', short: 'n', valueName: 'NS', description: 'namespace of the workloads (default: the context\'s, else the service account\'s, else default)' },
  { name: 'kubeconfig', type: 'string', valueName: 'FILE', description: 'kubeconfig file (default: KUBECONFIG, several files merged as kubectl does, else ~/.kube/config, else the in-cluster service account)' },
  { name: 'context', type: 'string', valueName: 'NAME', description: 'kubeconfig context (default: current-context)' },
  { name: 'timeout', type: 'string', valueName: 'DURATION', default: '10m', description: 'how long to wait for each rollout (e.g. 90s, 5m, 1h; 0 waits forever)' },
  { name: 'poll-interval', type: 'string', valueName: 'DURATION', default: '2s', description: 'how often to read the rollout status' },
  { name: 'rollback-on-failure', type: 'boolean', default: false, description: 'when a rollout fails, restore the previous images and wait for that' },
];

export const manifestInputs: InputDef[] = [
  { name: 'manifests', type: 'string', valueName: 'DIR|FILE', description: 'pin the images in Kubernetes YAML (pod templates, List, kustomization.yaml images:) to their digests' },
  { name: 'out', type: 'string', valueName: 'DIR', description: 'write the rewritten manifests (a full copy) to DIR instead of in place' },
  { name: 'strict', type: 'boolean', default: false, description: 'fail when the manifests name images that are not in the image list (they would be pulled from outside)' },
];

export const fluxInputs: InputDef[] = [
  { name: 'push-artifact', type: 'string', valueName: 'oci://HOST/REPO:TAG', description: 'push the (rewritten) manifests as a Flux OCI artifact, as flux push artifact does' },
  { name: 'source', type: 'string', valueName: 'URL', description: 'the artifact\'s source annotation, e.g. the Git URL (default from CI: CI_PROJECT_URL, GITHUB_SERVER_URL/GITHUB_REPOSITORY)' },
  { name: 'revision', type: 'string', valueName: 'REV', description: 'the artifact\'s revision: <branch|tag>@sha1:<sha> (default from CI: CI_COMMIT_REF_NAME/CI_COMMIT_SHA, GITHUB_REF_NAME/GITHUB_SHA)' },
  { name: 'sign-key', type: 'string', valueName: 'FILE', description: 'sign the artifact with this cosign private key (password from COSIGN_PASSWORD or --sign-password-file)' },
  { name: 'sign-password-file', type: 'string', valueName: 'FILE', description: 'file holding the --sign-key password (default: the COSIGN_PASSWORD environment variable)' },
  { name: 'cosign-password', type: 'string', secret: true, env: 'COSIGN_PASSWORD', description: 'password of the --sign-key private key (environment only, as cosign)' },
  { name: 'flux-namespace', type: 'string', valueName: 'NS', default: 'flux-system', description: 'namespace of the OCIRepository and Kustomization printed' },
  { name: 'output', type: 'string', short: 'o', valueName: 'json', cliOnly: true, description: 'json: print only the pushed artifact as flux push artifact -o json does ({url, repository, tag, digest})' },
];

export const outputInputs: InputDef[] = [
  { name: 'dry-run', type: 'boolean', default: false, description: 'resolve and verify, print the exact patches and changes, change nothing' },
  { name: 'json', type: 'boolean', default: false, cliOnly: true, description: 'print the result as JSON on stdout' },
  { name: 'report', type: 'string', valueName: 'FILE', description: 'write the JSON result to FILE' },
  { name: 'dotenv', type: 'string', valueName: 'FILE', description: 'write KEY=value lines for later CI jobs (GitLab artifacts:reports:dotenv), e.g. AIRLOCK_IMAGE_APP=registry.local/acme/app:1.4@sha256:...' },
  { name: 'quiet', type: 'boolean', default: false, short: 'q', description: 'print only warnings, failures and the summary' },
];

export const deployImageStep: StepDef = {
  name: 'deploy-image',
  ci: {
    component: 'deploy-image',
    command: ['deploy-image'],
    fileCredentials: { kubeconfig: 'kubeconfigCredentialsId', 'sign-key': 'keyCredentialsId' },
    example: { image: ['$CI_REGISTRY_IMAGE/app:1.4'], key: ['cosign.pub'], kube: ['deployment/app'], namespace: 'prod' },
  },
  summary: 'Verify images, pin them by digest and roll them out: Kubernetes API, manifests, or a Flux OCI artifact',
  inputs: [...imageInputs, ...gateInputs, ...kubeInputs, ...manifestInputs, ...fluxInputs, ...outputInputs, ...connectionInputs, ...credentialInputs],
  outputs: [
    { name: 'images', description: 'the pinned references deployed (host/repo:tag@sha256:...), space-separated; each also as AIRLOCK_IMAGE_<NAME> (NAME: the repository\'s last path part)' },
    { name: 'deploy-ok', description: 'true when every target succeeded (false also when verification refused the images)' },
    { name: 'verified', description: 'true when every image passed the signature gate, false with --no-verify' },
    { name: 'artifact-url', description: 'the Flux artifact pushed, oci://HOST/REPO@sha256:...' },
    { name: 'artifact-digest', description: 'the Flux artifact\'s manifest digest (OCIRepository spec.ref.digest)' },
  ],
  help: `
Each image is mapped to the private registry (--to, --rewrite, or a list line's DESTINATION),
resolved there to its digest, and verified before anything changes: exactly what airlock verify
checks, with the same --key, --trusted-root, --certificate-*, --policy and identity options (a
signature made upstream may name the upstream repository). An unsigned or wrongly signed image
stops the deploy (exit 1). --no-verify must be explicit and is reported as a warning.

Targets (any combination):
  --kube deployment/app[:container]   strategic merge patch of that container's image, by digest,
                                      with kubernetes.io/change-cause; then wait as kubectl rollout
                                      status does (--timeout); failing pods are shown with their
                                      events; --rollback-on-failure restores the previous image
  --manifests DIR|FILE [--out DIR]    pin images in YAML, comments and formatting kept; unmapped
                                      images are warned about (--strict: an error)
  --push-artifact oci://HOST/REPO:TAG the manifests as a Flux artifact (flux push artifact), then the
                                      OCIRepository (ref.digest) and Kustomization to apply once

Examples:
  airlock deploy-image --image ghcr.io/acme/app:1.4 --to registry.local --key cosign.pub \\
      --kube deployment/app -n prod --timeout 5m --rollback-on-failure --dotenv deploy.env
  airlock deploy-image --file images.txt --key cosign.pub --manifests k8s/ --out rendered/ --strict \\
      --push-artifact oci://registry.local/deploy/app-manifests:1.4 --sign-key cosign.key

Kubernetes credentials (never on the command line): --kubeconfig, KUBECONFIG (files merged as
kubectl merges them), ~/.kube/config, or the in-cluster service account; token, tokenFile, client
certificates, CA data or file, insecure-skip-tls-verify, proxy-url and exec plugins are supported.
The identity needs get and patch on the workloads, and list on pods and events.

Outputs: --json (stdout), --report FILE (the same JSON), --dotenv FILE (GitLab dotenv rules:
KEY=value lines, [A-Za-z0-9_] keys, no quotes, under 5 KB): AIRLOCK_DEPLOY_OK, AIRLOCK_IMAGES, AIRLOCK_IMAGE_<NAME>,
AIRLOCK_VERIFIED, AIRLOCK_ARTIFACT_URL, AIRLOCK_ARTIFACT_DIGEST.

${EXIT_CODES_HELP.replace('1  an operation failed (the summary names each failure and why)', '1  verification, a rollout, a patch or a push failed (the reason is printed)')}`,
};
