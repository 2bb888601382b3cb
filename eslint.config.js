// Lint: typescript-eslint with type information for the TypeScript, and the
// folder layering as an import rule, so a dependency that points up a layer
// (or round in a cycle) fails `npm test` instead of waiting for a review.
import importX, { createNodeResolver } from 'eslint-plugin-import-x';
import { defineConfig } from 'eslint/config';
import tseslint from 'typescript-eslint';

/**
 * Imports only go DOWN this list (a layer may skip the ones below it). Entries
 * that share a row are one layer; which of them may import each other is below.
 */
const layers = [
  ['bin'],
  ['src/commands'],
  ['src/cluster'],
  ['src/runtime'],
  ['src/client', 'src/providers'],
  ['src/protocol', 'src/settings', 'src/state', 'src/job'],
  ['src/errors.ts', 'src/version.ts', 'src/log.ts'],
];

/** Within a layer: the pairs [importer, imported] that are not allowed. */
const sideways = [
  ['src/client', ['src/providers']],
  ['src/providers', ['src/client']],
  ['src/settings', ['src/protocol', 'src/state', 'src/job']],
];

const zones = [
  ...layers.slice(1).map((layer, i) => ({
    target: layer,
    from: layers.slice(0, i + 1).flat(),
    message: 'Imports only go down the layers listed in eslint.config.js.',
  })),
  ...sideways.map(([target, from]) => ({ target, from, message: 'These two do not import each other (eslint.config.js).' })),
  { target: ['bin', 'src'], from: ['test', 'bench'], message: 'The shipped code does not import tests or benchmarks.' },
];

export default defineConfig(
  { ignores: ['dist/', 'node_modules/', 'prebuilds/', 'build/', '.node-matrix/', '.tmp/', 'test-output/'] },
  {
    files: ['**/*.ts'],
    extends: [tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { 'import-x': importX },
    settings: {
      // no-cycle follows only files it may parse: the TypeScript, with the same parser.
      'import-x/extensions': ['.ts', '.js'],
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts'] },
      // The sources import `./x.js` meaning `./x.ts` (NodeNext): map it like tsc does.
      'import-x/resolver-next': [createNodeResolver({ extensions: ['.ts', '.js', '.json', '.node'], extensionAlias: { '.js': ['.ts', '.js'] } })],
    },
    rules: {
      '@typescript-eslint/switch-exhaustiveness-check': ['error', { considerDefaultExhaustiveForUnions: true }],
      // `_name` marks a parameter a signature needs (Express's four-argument error handler) or a
      // property taken out of an object before the rest is used.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', ignoreRestSiblings: true }],
      // An async method without await is how a fake or an implementation of a Promise-returning
      // interface keeps its throws as rejections, like the real one; rewriting those is churn.
      '@typescript-eslint/require-await': 'off',
      // node:test runs every test() and describe() it is handed; nothing to await at the top level.
      '@typescript-eslint/no-floating-promises': ['error', { allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['test', 'describe', 'it', 'suite'] }] }],
      'no-control-regex': 'error',
      'import-x/no-cycle': 'error',
      'import-x/no-restricted-paths': ['error', { basePath: import.meta.dirname, zones }],
    },
  },
  {
    // The dashboard is a plain browser script served as is: no types to check.
    files: ['dashboard/**/*.js'],
    languageOptions: {
      sourceType: 'script',
      // The browser names it uses (uPlot is the page's other script); `globals` is not installed.
      globals: Object.fromEntries(['document', 'window', 'location', 'history', 'sessionStorage', 'fetch', 'setTimeout', 'clearTimeout', 'uPlot'].map((name) => [name, 'readonly'])),
    },
    rules: {
      'no-undef': 'error',
      'no-unused-vars': 'error',
    },
  },
);
