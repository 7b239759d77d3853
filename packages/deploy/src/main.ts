import { runCli, standalone } from '@airlock/step-kit';
import { buildDeployImageCommand } from './commands.js';

void runCli(standalone('deploy-image', buildDeployImageCommand));
