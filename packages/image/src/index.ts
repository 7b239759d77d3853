export * from './inputs.js';
export * from './build.js';
export * from './layer.js';
export * from './mutate.js';
export { buildImageCommand, createdFrom } from './commands.js';
