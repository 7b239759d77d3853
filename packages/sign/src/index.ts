export * from './commands.js';
export * from './actions.js';
export * from './inputs.js';
export * from './secrets.js';
