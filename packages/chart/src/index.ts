/**
 * `airlock chart copy|images`: the step. The chart library itself (resolve, push, ChartMuseum,
 * repository directories, images) is `@airlock/helm`, which bundle and sync use too.
 */
export * from './inputs.js';
export * from './commands.js';
