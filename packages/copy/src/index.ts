export * from './inputs.js';
export * from './report.js';
export * from './run.js';
export * from './commands.js';
