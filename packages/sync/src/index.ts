export * from './inputs.js';
export * from './config.js';
export * from './select.js';
export * from './resolve.js';
export * from './check.js';
export * from './report.js';
export * from './run.js';
export * from './commands.js';
export { hookEnv, runHook } from './hook.js';
