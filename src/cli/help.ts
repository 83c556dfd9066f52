/**
 * Help helpers, re-exported from `registration.ts` for registration files that
 * import them from here. New code imports `./registration.js` directly (one
 * module less on the `flagscope --help` path).
 */
export { collect, examples } from './registration.js';
