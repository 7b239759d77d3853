import { runCli, standalone } from '@airlock/step-kit';
import { buildVerifyCommand } from './commands.js';

void runCli(standalone('verify', buildVerifyCommand));
