/** Types of browser-iife.mjs. */
export const MODULE_PATH: string;
export const IIFE_PATH: string;
export function iifeOf(source: string): string;
