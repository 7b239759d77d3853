import { runCli, standalone } from '@airlock/step-kit';
import { buildSyncCommand } from './commands.js';

void runCli(standalone('sync', buildSyncCommand));
