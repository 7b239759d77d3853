import { runCli, standalone } from '@airlock/step-kit';
import { buildDoctorCommand } from './commands.js';

void runCli(standalone('doctor', buildDoctorCommand));
