export * from './inputs.js';
export * from './mirror-list.js';
export * from './options.js';
export * from './report.js';
export * from './run.js';
export * from './commands.js';
