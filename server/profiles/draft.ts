// A new workspace's draft: the catalogue's standard hypothesis for every concern.
import { defaultClaims } from '../concerns/index.js';
import type { ProfileClaims } from '../db/schema.js';

export function defaultDraft(): ProfileClaims {
  const claims = defaultClaims();
  return Object.fromEntries(Object.entries(claims).map(([k, values]) => [k, { values, narrative: '' }]));
}
