import { Command } from 'commander';
import { buildCopyCommand, buildMirrorCommand } from '@airlock/copy';
import { buildAttachCommand, buildAttestCommand, buildKeyCommand, buildSignBlobCommand, buildSignCommand } from '@airlock/sign';
import { runCli } from '@airlock/step-kit';
import { buildVerifyAttestationCommand, buildVerifyBlobCommand, buildVerifyCommand } from '@airlock/verify';

export const VERSION = '0.1.0';

void runCli((setExit) =>
  new Command('airlock')
    .description('Move images, signatures and attestations into air-gapped networks, verified and digest-pinned.')
    .version(VERSION)
    .addCommand(buildCopyCommand(setExit))
    .addCommand(buildMirrorCommand(setExit))
    .addCommand(buildKeyCommand(setExit))
    .addCommand(buildSignCommand(setExit))
    .addCommand(buildAttestCommand(setExit))
    .addCommand(buildAttachCommand(setExit))
    .addCommand(buildSignBlobCommand(setExit))
    .addCommand(buildVerifyCommand(setExit))
    .addCommand(buildVerifyAttestationCommand(setExit))
    .addCommand(buildVerifyBlobCommand(setExit))
    .addHelpText('after', '\nRun "airlock COMMAND --help" for a command\'s options, examples and exit codes.\n'),
);
