import { runCli, standalone } from '@airlock/step-kit';
import { buildMirrorCommand } from './commands.js';

void runCli(standalone('mirror', buildMirrorCommand));
