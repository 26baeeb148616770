import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import svelte from 'eslint-plugin-svelte';

// Layers by runtime (VS Code style): only src-main/electron may import electron; the renderer talks
// only to the contract client, never to engine/data/store code.
export default tseslint.config(
  { ignores: ['dist/**', 'release/**', 'node_modules/**', 'scratch/**', 'resources/**', '.device/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  ...svelte.configs['flat/recommended'],
  {
    files: ['**/*.svelte', '**/*.svelte.ts'],
    languageOptions: { parserOptions: { parser: tseslint.parser } },
  },
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'off',
    },
  },
  {
    files: ['src-main/**/*.ts'],
    ignores: ['src-main/electron/**'],
    rules: {
      'no-restricted-imports': ['error', { paths: [{ name: 'electron', message: 'Only src-main/electron/ may import electron.' }] }],
    },
  },
  {
    files: ['src-renderer/**/*.{ts,svelte}'],
    rules: {
      // The renderer runs in a browser; TypeScript (lib: DOM) already checks every global it uses,
      // so no-undef only repeats it without knowing the DOM (typescript-eslint's advice).
      'no-undef': 'off',
      'no-restricted-imports': [
        'error',
        {
          paths: [{ name: 'electron', message: 'The renderer talks only to the contract client.' }],
          patterns: [
            { group: ['**/src-main/engine/**', '**/src-main/data/**', '**/src-main/store/**', '**/src-main/service*'], message: 'The renderer talks only to the contract client.' },
          ],
        },
      ],
    },
  },
);
