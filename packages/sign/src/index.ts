export * from './commands.js';
export * from './inputs.js';
