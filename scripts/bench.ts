// The benchmarks, one per mode (each prints its figures and exits non-zero when a target is missed):
//
//   npm run bench                 what a respondent feels: the personal page and saving an answer
//   npm run bench -- --scale      a vendor with 10,000 deals and 1,000,000 signals (needs DATABASE_URL)
//   npm run bench -- --mail       1,000 queued invitations through the outbox worker to a local SMTP sink
const modes: Record<string, () => Promise<unknown>> = {
  '--respondent': () => import('./bench/respondent.js'),
  '--scale': () => import('./bench/scale.js'),
  '--mail': () => import('./bench/mail.js'),
};
const mode = process.argv.slice(2).find((a) => a.startsWith('--')) ?? '--respondent';
if (!modes[mode]) {
  console.error(`Unknown mode ${mode}. Modes: ${Object.keys(modes).join(', ')}`);
  process.exit(2);
}
await modes[mode]();
