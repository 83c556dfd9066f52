export * from './special.js';
export * from './summary.js';
export * from './two-sample.js';
export * from './srm.js';
export * from './adjust.js';
export * from './mann-whitney.js';
