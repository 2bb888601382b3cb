import { readFileSync } from 'node:fs';

/** The running dynwork's version (from package.json, beside dist/ when installed). */
export const VERSION: string = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
