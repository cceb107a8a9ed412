// The benchmarks, one per mode (each prints its figures and exits non-zero when a target is missed):
//
//   npm run bench                 what a respondent feels: the personal page and saving an answer
//   npm run bench -- --scale      a vendor with 10,000 deals and 1,000,000 signals (needs DATABASE_URL)
//   npm run bench -- --mail       1,000 queued invitations through the outbox worker to a local SMTP sink
//   npm run bench -- --side-by-side   the respondent's page and answer, portal and a minimal Fastify + pg app
//                                 interleaved on PostgreSQL (DATABASE_URL or local postgres, throwaway database);
//                                 options --rounds 3 --seconds 5 --connections 8 --links 1000 --deals 1 --warmup 1, and
//                                 --profile for where the portal's CPU goes (see scripts/bench/side-by-side.ts)
const modes: Record<string, () => Promise<unknown>> = {
  '--respondent': () => import('./bench/respondent.js'),
  '--scale': () => import('./bench/scale.js'),
  '--mail': () => import('./bench/mail.js'),
  '--side-by-side': () => import('./bench/side-by-side.js'),
};
// The mode is the first argument naming one (options such as --profile may come before it).
const args = process.argv.slice(2);
const mode = args.find((a) => Object.hasOwn(modes, a)) ?? args.find((a) => a.startsWith('--')) ?? '--respondent';
if (!Object.hasOwn(modes, mode)) {
  console.error(`Unknown mode ${mode}. Modes: ${Object.keys(modes).join(', ')}`);
  process.exit(2);
}
await modes[mode]();
