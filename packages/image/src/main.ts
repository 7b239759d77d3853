import { runCli } from '@airlock/step-kit';
import { buildImageCommand } from './commands.js';

// `node image.cjs build --base REF --to REF` (the image command group)
void runCli(buildImageCommand);
