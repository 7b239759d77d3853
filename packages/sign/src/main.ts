import { runCli, standalone } from '@airlock/step-kit';
import { buildSignCommand } from './commands.js';

void runCli(standalone('sign', buildSignCommand));
