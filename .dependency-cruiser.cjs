// dependency-cruiser: architecture rules for server/, scripts/ and migrations/.
// `npm run lint` runs: depcruise server scripts migrations
// Type-only imports count (tsPreCompilationDeps), so `import type` from a
// forbidden module is a violation too.

/** Packages that talk to the database. */
const DB_PACKAGES = '(^|/)node_modules/(kysely|kysely-pglite-dialect|pg|@electric-sql/pglite)/';

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'No import cycles (type-only cycles included).',
      from: {},
      to: { circular: true },
    },
    {
      name: 'kysely-only-in-repositories',
      severity: 'error',
      comment:
        'Only server/**/repository.ts, server/db/** and migrations/** may import kysely, kysely-pglite-dialect, pg or @electric-sql/pglite. ' +
        'Everything else goes through a repository; scripts/ may use server/db but not kysely directly.',
      from: {
        path: '^(server|scripts)/',
        // scripts/bench/ seeds by SQL and runs minimal pg apps as baselines, on purpose; so does the demo seed, for
        // the few facts no service writes (its made-up people's mail on record as sent, the reminders they had).
        pathNot: ['^server/.+/repository\\.ts$', '^server/db/', '^scripts/bench/', '^scripts/seed-demo\\.ts$'],
      },
      to: { path: DB_PACKAGES },
    },
    {
      name: 'no-foreign-repository',
      severity: 'error',
      comment: "A feature (server/<feature>/) uses its own repository.ts only; another feature's data goes through that feature's service.",
      from: { path: '^server/([^/]+)/' },
      to: {
        path: '^server/.+/repository\\.ts$',
        pathNot: '^server/$1/',
      },
    },
    {
      name: 'no-app-import',
      severity: 'error',
      comment: 'server/app.ts assembles the application; within server/ only server/main.ts may import it (types included).',
      from: { path: '^server/', pathNot: '^server/main\\.ts$' },
      to: { path: '^server/app\\.ts$' },
    },
    {
      name: 'not-to-test',
      severity: 'error',
      comment: 'Production code never imports test code.',
      from: { path: '^server/' },
      to: { path: '^test/' },
    },
  ],
  options: {
    doNotFollow: { path: ['node_modules'] },
    exclude: { path: ['^data/', '^\\.tap/', '^test-artifacts/'] },
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
    // NodeNext imports ('./x.js' meaning './x.ts') resolve without extra
    // settings: dependency-cruiser maps them when TypeScript is available.
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      mainFields: ['module', 'main', 'types', 'typings'],
    },
    reporterOptions: {
      text: { highlightFocused: true },
    },
  },
};
