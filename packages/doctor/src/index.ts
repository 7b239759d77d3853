export * from './commands.js';
export * from './inputs.js';
export * from './model.js';
export * from './report.js';
export * from './run.js';
export * from './target.js';
