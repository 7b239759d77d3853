import { Command } from 'commander';
import { buildCopyCommand, buildMirrorCommand, buildReportCommand } from '@airlock/copy';
import { AIRLOCK_VERSION, lazyCommand, runCli } from '@airlock/step-kit';
import { imageBuildStep } from '@airlock/image/inputs';
import { attestStep, signBlobStep, signStep } from '@airlock/sign/inputs';
import { verifyAttestationStep, verifyBlobStep, verifyStep } from '@airlock/verify/inputs';
import { BUNDLE_SUMMARY } from '@airlock/bundle/inputs';
import { doctorStep } from '@airlock/doctor/inputs';
import { chartGroupSummary } from '@airlock/chart/inputs';
import { syncStep } from '@airlock/sync/inputs';
import { deployImageStep } from '@airlock/deploy/inputs';

export const VERSION = AIRLOCK_VERSION;

// Signing and verification pull in the sigstore libraries: load them only for those commands.
const sign = () => import('@airlock/sign');
const verify = () => import('@airlock/verify');
const bundle = () => import('@airlock/bundle');
const image = () => import('@airlock/image');
const chart = () => import('@airlock/chart');
const deploy = () => import('@airlock/deploy');

void runCli((setExit) =>
  new Command('airlock')
    .description('Move images, signatures and attestations into air-gapped networks, verified and digest-pinned.')
    .version(VERSION)
    .enablePositionalOptions()
    .addCommand(buildCopyCommand(setExit))
    .addCommand(buildMirrorCommand(setExit))
    .addCommand(lazyCommand('sync', syncStep.summary, async () => (await import('@airlock/sync')).buildSyncCommand, setExit))
    .addCommand(buildReportCommand(setExit))
    .addCommand(lazyCommand('key', 'Generate and import cosign key pairs', async () => (await sign()).buildKeyCommand, setExit))
    .addCommand(lazyCommand('sign', signStep.summary, async () => (await sign()).buildSignCommand, setExit))
    .addCommand(lazyCommand('attest', attestStep.summary, async () => (await sign()).buildAttestCommand, setExit))
    .addCommand(lazyCommand('attach', 'Attach artifacts to images: attach sbom (cosign attach sbom)', async () => (await sign()).buildAttachCommand, setExit))
    .addCommand(lazyCommand('sign-blob', signBlobStep.summary, async () => (await sign()).buildSignBlobCommand, setExit))
    .addCommand(lazyCommand('verify', verifyStep.summary, async () => (await verify()).buildVerifyCommand, setExit))
    .addCommand(lazyCommand('verify-attestation', verifyAttestationStep.summary, async () => (await verify()).buildVerifyAttestationCommand, setExit))
    .addCommand(lazyCommand('image', `${imageBuildStep.summary} (image build)`, async () => (await image()).buildImageCommand, setExit))
    .addCommand(lazyCommand('verify-blob', verifyBlobStep.summary, async () => (await verify()).buildVerifyBlobCommand, setExit))
    .addCommand(lazyCommand('bundle', BUNDLE_SUMMARY, async () => (await bundle()).buildBundleCommand, setExit))
    .addCommand(lazyCommand('doctor', doctorStep.summary, async () => (await import('@airlock/doctor')).buildDoctorCommand, setExit))
    .addCommand(lazyCommand('chart', chartGroupSummary, async () => (await chart()).buildChartCommand, setExit))
    .addCommand(lazyCommand('deploy-image', deployImageStep.summary, async () => (await deploy()).buildDeployImageCommand, setExit))
    .addHelpText(
      'after',
      `
The flow: mirror (or copy) images with their signatures on the connected side, to a registry or
an OCI layout on removable media; on the air-gapped side copy them into the private registry and
verify them offline before deploying by digest.

Run "airlock COMMAND --help" for a command's options, examples and exit codes.
Exit codes: 0 success, 1 an operation failed, 2 usage or input error, 130/143 interrupted by
SIGINT/SIGTERM (summary and reports written, marking what was interrupted).
`,
    )
);
