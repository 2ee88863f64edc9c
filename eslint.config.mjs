// Lint rules of this repository, run by `bash scripts/test.sh` (and so by CI) before the tests.
// The layer rules keep imports pointing down (docs/ARCHITECTURE.md): a folder never imports from a
// layer above it, workflow code imports nothing with I/O, and nothing outside test/ imports test/.
import tseslint from 'typescript-eslint';
import importX from 'eslint-plugin-import-x';
import prettier from 'eslint-config-prettier';
import reactHooks from 'eslint-plugin-react-hooks';

const src = (dir) => `./src/${dir}`;
/** Every folder that sits above a leaf of the service (repositories/, credentials/, observability/, taskLogs/): none of them may be imported by one. */
const ABOVE_THE_LEAVES = [
  'api',
  'services',
  'auth',
  'workflows',
  'activities',
  'providers',
  'confinement',
  'realtime',
  'temporal',
  'recovery',
  'worker',
  'dev',
  'egress',
  'pools',
  'hosts',
];
/** `from` may not import any of `targets` (folders under src/). */
const zone = (from, targets, message) => targets.map((t) => ({ target: src(from), from: src(t), message }));

const NODE_BUILTINS = [
  'fs',
  'fs/promises',
  'path',
  'os',
  'child_process',
  'net',
  'http',
  'https',
  'crypto',
  'dns',
  'worker_threads',
  'timers',
  'timers/promises',
  'process',
  'stream',
  'util',
];

export default tseslint.config(
  {
    ignores: [
      'node_modules/**',
      'src/generated/**',
      'client/schema.d.ts',
      '.data/**',
      '.tools/**',
      'dist/**',
      'web/dist/**',
      'test-artifacts/**',
      'coverage/**',
      '**/*.js',
      '**/*.mjs',
      '**/*.cjs',
    ],
  },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts', '**/*.tsx'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    plugins: { 'import-x': importX },
    settings: { 'import-x/resolver': { node: { extensions: ['.ts', '.tsx', '.js', '.json'] } } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-require-imports': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      'import-x/no-restricted-paths': [
        'error',
        {
          zones: [
            ...zone(
              'domain',
              ['api', 'services', 'auth', 'db', 'workflows', 'activities', 'providers', 'confinement', 'realtime', 'temporal', 'recovery', 'worker', 'dev'],
              'domain/ is pure: it imports no other layer',
            ),
            ...zone(
              'workflows',
              [
                'api',
                'services',
                'auth',
                'db',
                'activities',
                'providers',
                'confinement',
                'repositories',
                'credentials',
                'realtime',
                'temporal',
                'recovery',
                'worker',
                'dev',
                'config.ts',
                'logger.ts',
                'generated',
              ],
              'workflow code imports only domain/ and its own contracts (no I/O)',
            ),
            ...zone(
              'db',
              ['api', 'services', 'workflows', 'activities', 'providers', 'confinement', 'realtime', 'temporal', 'recovery', 'worker'],
              'db/ is below everything that uses it',
            ),
            ...zone(
              'providers',
              ['api', 'services', 'auth', 'db', 'workflows', 'activities', 'realtime', 'temporal', 'recovery', 'worker'],
              'providers/ sit behind src/providers/types.ts, below the activities',
            ),
            ...zone(
              'confinement',
              ['api', 'services', 'auth', 'db', 'workflows', 'activities', 'providers', 'realtime', 'temporal', 'recovery', 'worker'],
              'confinement/ is a leaf the local provider uses',
            ),
            ...zone('repositories', [...ABOVE_THE_LEAVES, 'db'], 'repositories/ is a leaf: the API and the local provider both use it'),
            ...zone('credentials', [...ABOVE_THE_LEAVES, 'db', 'repositories'], 'credentials/ is a leaf: the services and the egress proxy use it'),
            ...zone(
              'pools',
              ['api', 'services', 'auth', 'db', 'activities', 'providers', 'confinement', 'realtime', 'temporal', 'recovery', 'worker', 'dev', 'egress'],
              'pools/ holds the warm pools’ rows: below the services, activities and recovery that use it',
            ),
            ...zone(
              'temporal',
              ['api', 'services', 'auth', 'db', 'activities', 'providers', 'confinement', 'realtime', 'recovery', 'worker', 'dev', 'egress', 'pools', 'hosts'],
              'temporal/ is the client side of Temporal: workflow contracts and types only below it',
            ),
            ...zone('observability', [...ABOVE_THE_LEAVES, 'db'], 'observability/ is a leaf: the API, the activities and the worker hand it what they observe'),
            ...zone('taskLogs', [...ABOVE_THE_LEAVES, 'observability'], 'taskLogs/ writes the provisioning logs the activities hand it: below them, on db/ and domain/ only'),
            ...zone(
              'hosts',
              ['api', 'services', 'auth', 'realtime', 'activities', 'worker', 'dev', 'pools', 'recovery', 'egress'],
              'hosts/ (registry, placement, lost hosts) sits below the pools, activities and worker that use it; a warm pool claim is passed in',
            ),
            ...zone(
              'egress',
              ['api', 'services', 'auth', 'realtime', 'activities', 'worker', 'dev', 'pools', 'hosts', 'recovery'],
              'egress/ is run by a sandbox host: below the worker',
            ),
            ...zone('recovery', ['api', 'services', 'auth', 'realtime', 'activities', 'worker', 'dev'], 'recovery/ sweeps sit below the worker that runs them'),
            ...zone('worker', ['api', 'services', 'auth', 'realtime', 'dev'], 'worker/ composes activities, hosts and recovery; it is not part of the API'),
            ...zone('realtime', ['api', 'activities', 'workflows', 'providers', 'worker'], 'realtime/ is below the API; it reads through the services, as REST does'),
            ...zone('auth', ['api', 'services', 'realtime', 'db', 'workflows', 'activities', 'providers'], 'auth/ is shared by REST and Socket.IO, below both'),
            ...zone('services', ['api', 'realtime'], 'services/ are below the routes and the Socket.IO server'),
            ...zone('activities', ['api', 'services', 'worker'], 'activities/ are below the worker'),
            { target: ['./src', './scripts'], from: './test', message: 'nothing outside test/ imports from test/' },
            { target: './client', from: ['./src', './scripts', './test'], message: 'client/ runs in browsers: its types come from client/schema.d.ts, not from src/' },
            { target: './web', from: ['./src', './scripts', './test'], message: 'the workbench page talks to the service only through the typed client (client/)' },
          ],
        },
      ],
    },
  },
  {
    files: ['src/workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: NODE_BUILTINS.flatMap((m) => [m, `node:${m}`]),
          patterns: [{ group: ['node:*'], message: "workflow code runs in Temporal's sandbox: no Node built-ins, no I/O" }],
        },
      ],
    },
  },
  {
    files: ['client/**/*.ts', 'web/src/**/*.ts', 'web/src/**/*.tsx'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: NODE_BUILTINS.flatMap((m) => [m, `node:${m}`]),
          patterns: [{ group: ['node:*'], message: 'client/ and web/ run in browsers: no Node built-ins' }],
        },
      ],
    },
  },
  {
    // The workbench page (web/): React's rules of hooks, and effect dependencies stated in full.
    files: ['web/src/**/*.ts', 'web/src/**/*.tsx'],
    plugins: { 'react-hooks': reactHooks },
    rules: { 'react-hooks/rules-of-hooks': 'error', 'react-hooks/exhaustive-deps': 'error' },
  },
  prettier,
);
