import { runCli, standalone } from '@airlock/step-kit';
import { buildBundleCommand } from './commands.js';

void runCli(standalone('bundle', buildBundleCommand));
