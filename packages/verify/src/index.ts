export * from './inputs.js';
export { buildVerifyAttestationCommand, buildVerifyBlobCommand, buildVerifyCommand, targetFromEntry, type SetExit } from './commands.js';
