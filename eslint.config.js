// ESLint flat config. `npm run lint` runs it on server/, scripts/, migrations/
// and test/. Syntactic rules only (no type information) so it stays fast;
// `tsc --noEmit` already does the type checking.
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import prettier from 'eslint-config-prettier';
import tseslint from 'typescript-eslint';

export default defineConfig(
  {
    ignores: ['node_modules/', 'data/', '.tap/', 'test-artifacts/', 'templates/', 'docs/'],
  },
  {
    files: ['{server,scripts,migrations,test}/**/*.ts'],
    extends: [js.configs.recommended, tseslint.configs.recommended],
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: 'module',
    },
    linterOptions: {
      reportUnusedDisableDirectives: 'error',
    },
    rules: {
      // Same convention as tsc's noUnusedParameters: a `_` prefix marks a
      // parameter that a fixed signature forces on us (fastify hooks, error
      // handlers), and a field destructured away on purpose.
      '@typescript-eslint/no-unused-vars': [
        'error',
        {
          args: 'after-used',
          argsIgnorePattern: '^_',
          varsIgnorePattern: '^_',
          caughtErrors: 'all',
          caughtErrorsIgnorePattern: '^_',
          destructuredArrayIgnorePattern: '^_',
          ignoreRestSiblings: true,
        },
      ],
      // Off: matching C0/C1 control characters is the point of the input
      // sanitising regexes (server/lib/text.ts, mail subjects), not a mistake.
      'no-control-regex': 'off',
      'no-restricted-syntax': [
        'error',
        {
          selector: "TSNonNullExpression > MemberExpression[property.name='session']",
          message: 'Do not write `req.session!`. Use sessionOf(req) from server/auth/session.ts: it fails closed with a 401 when a route forgot its preHandler.',
        },
      ],
    },
  },
  {
    // Off here only: `Kysely<any>` is Kysely's documented type for migrations
    // and the migrator, which must not depend on the current schema types.
    files: ['migrations/**/*.ts', 'server/db/**/*.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
    },
  },
  // Turns off every stylistic rule that Prettier owns. Keep it last.
  prettier,
);
