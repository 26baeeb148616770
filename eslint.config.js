import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import svelte from 'eslint-plugin-svelte';

// Layers by runtime (VS Code style): only src-main/electron may import electron; the renderer talks
// only to the contract client, never to engine/data/store code; and the rooms of src-main import
// each other only along the arrows below (test/lint/zones.test.ts shows each one failing).
const electron = { name: 'electron', message: 'Only src-main/electron/ may import electron.' };
const room = (name, why) => ({ group: [`**/${name}/*`, `**/${name}/**`], message: why });
const ENGINE = room('engine', 'Go through the service (or, for types, src-main/common/).');
const DATA = room('data', 'Go through the service (or, for types, src-main/common/).');
const STORE = room('store', "Go through the service; the store is the service's.");
const SERVICE = room('service', 'Only transports and the CLI reach the service.');
const CONTRACT = {
  group: ['**/contract.js'],
  message: 'The store throws its own errors; the service maps them (service/errors.ts).',
};
const ELECTRON_ROOM = room('electron', 'Only src-main/electron/ may import electron code.');

function zone(files, groups, ignores = []) {
  return {
    files,
    ignores,
    rules: { 'no-restricted-imports': ['error', { paths: [electron], patterns: groups }] },
  };
}

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
  // Rooms of src-main (README "A short tour"): each block lists what its folder may not import.
  // Flat config replaces a rule per file instead of merging it, so every block repeats the
  // electron rule; later blocks win for the files they match.
  zone(['src-main/**/*.ts'], [], ['src-main/electron/**']),
  // The CLI parses, calls the service and prints. `cli/bench.ts` is the one exception: it times the
  // engine's own training step, which no service operation exposes.
  zone(['src-main/cli.ts', 'src-main/cli/**/*.ts'], [ENGINE, DATA, STORE], ['src-main/cli/bench.ts']),
  zone(['src-main/engine/**/*.ts'], [STORE, SERVICE, ELECTRON_ROOM]),
  zone(['src-main/data/**/*.ts'], [ENGINE, STORE, SERVICE, ELECTRON_ROOM]),
  zone(['src-main/store/**/*.ts'], [CONTRACT, SERVICE, ELECTRON_ROOM]),
  // The contract (and its parts in src-main/contract/) reads wire types from src-main/common/ only (the renderer bundles it).
  zone(['src-main/contract.ts', 'src-main/contract/**/*.ts'], [ENGINE, DATA, STORE, SERVICE, ELECTRON_ROOM]),
  zone(['src-main/common/**/*.ts'], [ENGINE, DATA, STORE, SERVICE, CONTRACT, ELECTRON_ROOM]),
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
            {
              group: [
                '**/src-main/engine/**',
                '**/src-main/data/**',
                '**/src-main/store/**',
                '**/src-main/service*',
              ],
              message: 'The renderer talks only to the contract client.',
            },
          ],
        },
      ],
    },
  },
);
