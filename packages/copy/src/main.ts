import { runCli, standalone } from '@airlock/step-kit';
import { buildCopyCommand } from './commands.js';

void runCli(standalone('copy', buildCopyCommand));
