export * from './inputs.js';
export * from './report.js';
export * from './run.js';
export * from './commands.js';
export * from './outputs.js';
export * from './report-merge.js';
