// ESLint (flat config): typescript-eslint's recommended rules, plus the few type-aware rules
// that catch real bugs in this code base (an un-awaited promise is a lost error or a test
// that cannot fail). Formatting is Prettier's job (prettier.config.js); layer rules are
// dependency-cruiser's (.dependency-cruiser.cjs).
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default defineConfig(
  {
    // Build outputs, generated models, and AssemblyScript (compiled by asc, not tsc: its i32/v128 types are not TypeScript's).
    ignores: [
      'dist/',
      'dist-lib/',
      'public/models/',
      'public/site-runtime/',
      '.cache/',
      'test-results/',
      'src/kernels/**/assembly/',
      'src/kernels/**/build/',
      'src/engine/**/assembly/',
      'src/engine/**/build/',
    ],
  },
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    languageOptions: {
      // src/ runs in pages, workers and Node; the layer rules (not globals) keep Node APIs in src/node and src/cli.
      globals: { ...globals.browser, ...globals.worker, ...globals.node },
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // `_name` marks a value left unused on purpose; dropping keys by destructuring with a rest is the idiom for omit.
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_', ignoreRestSiblings: true },
      ],
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
    },
  },
  {
    // Plain JS config and scripts outside the TypeScript project: no type information there.
    files: ['**/*.{js,cjs,mjs}'],
    extends: [tseslint.configs.disableTypeChecked],
  },
);
