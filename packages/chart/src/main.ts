import { runCli, standalone } from '@airlock/step-kit';
import { buildChartCommand } from './commands.js';

void runCli(standalone('chart', buildChartCommand));
