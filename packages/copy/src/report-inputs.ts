import { dotenvInput, EXIT_CODES_HELP, type StepDef } from '@airlock/step-kit';
import { transferOutputs } from './outputs.js';

/** `airlock report merge`: one report from the reports of mirror shards (GitLab `parallel: N`). */
export const reportMergeStep: StepDef = {
  name: 'merge',
  summary: 'Merge copy/mirror JSON reports (e.g. of parallel mirror shards) into one JSON and JUnit report',
  inputs: [
    { name: 'reports', type: 'string[]', positional: true, required: true, valueName: 'REPORT...', description: 'JSON reports written by copy/mirror --report, or directories holding them (*.json, in name order)' },
    { name: 'json-out', type: 'string', valueName: 'FILE', description: 'write the merged JSON report to FILE' },
    { name: 'junit', type: 'string', valueName: 'FILE', description: 'write the merged JUnit XML report (one test case per image) to FILE' },
    { ...dotenvInput },
    { name: 'quiet', type: 'boolean', default: false, short: 'q', description: 'print only failures and the summary' },
  ],
  outputs: transferOutputs,
  help: `
Every image of every report is kept, in report order; an image found in two reports is an error
(the same shard merged twice). Totals are recomputed; the duration is the longest report's (shards
run side by side). The exit code is 0 once the reports are merged, also when some images had
failed (their shard's job already failed): the merged report names them.

Example (GitLab, after a mirror job with parallel: 3):
  airlock report merge airlock-reports/ --json-out mirror.json --junit mirror.xml

${EXIT_CODES_HELP}`,
};
