import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** `../shared/fixtures` beside the repository (CI clones the repo with shared/ next to it). */
export const SHARED_FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'shared', 'fixtures');
