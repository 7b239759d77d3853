export * from './inputs.js';
export * from './config.js';
export * from './charts.js';
export * from './create.js';
export * from './load.js';
export * from './inspect.js';
export * from './report.js';
export * from './size.js';
export { buildBundleCommand, type SetExit } from './commands.js';
