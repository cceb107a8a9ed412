// The contract of GET /api/v1/insights/…: the query every insight takes
// (service.insightQuery) and what each answers, as zod schemas. They describe
// exactly what service.ts computes; change both together, and the README.
import { z } from 'zod';
import { CONCERNS, CORRECTION_KINDS } from '../concerns/index.js';
import { STAKEHOLDER_ROLES, isChampion } from '../rules.js';
import type { InsightName } from './service.js';

const count = z.number().int().min(0);
const share = z.number().min(0).max(1).nullable();

const ByKind = z
  .object(Object.fromEntries(CORRECTION_KINDS.map((k) => [k.value, count])) as Record<'factual_error' | 'requirement_gap' | 'not_applicable', typeof count>)
  .describe('Corrected deals by the kind of correction');

const FieldInsight = z.object({
  field: z.string(),
  label: z.string(),
  answered_deals: count.describe("Deals where the buyer's security team answered the concern"),
  corrected_deals: count.describe('Deals whose current corrections change this field'),
  rate: share.describe('corrected_deals / answered_deals; null when nothing was answered'),
  by_kind: ByKind,
  top_values: z
    .array(
      z.object({
        value: z
          .union([z.string(), z.array(z.string()), z.number(), z.boolean()])
          .nullable()
          .describe('A value the field was corrected to'),
        label: z.string().describe('The value as a person reads it'),
        deals: count,
      }),
    )
    .describe('The most common corrected values, most deals first'),
});

export const CorrectionsInsight = z
  .object({
    concerns: z
      .array(
        z.object({
          concern: z.enum(CONCERNS.map((c) => c.key) as unknown as readonly [string, ...string[]]),
          title: z.string(),
          answered_deals: count.describe("Deals where the buyer's security team answered the concern's current claim"),
          confirmed_deals: count,
          corrected_deals: count,
          rate: share.describe('corrected_deals / answered_deals; null when nothing was answered'),
          by_kind: ByKind,
          fields: z.array(FieldInsight).describe('Highest rate first'),
        }),
      )
      .describe('Highest rate first'),
  })
  .meta({ id: 'CorrectionsInsight' });

const WeekStats = z.object({
  median: z.number().nullable(),
  p75: z.number().nullable(),
  histogram: z.array(z.object({ week: z.number().int().min(1), deals: count })).describe('Deals by week; the early weeks are listed even with no deal'),
});

export const TimingInsight = z
  .object({
    deals: count,
    first_signal_week: WeekStats.describe("The week the buyer's security team first answered"),
    first_correction_week: WeekStats.describe("The week the buyer's security team first corrected"),
    spoke_by_week_2: z
      .object({ deals: count, of_deals: count.describe("Deals with an invited member of the buyer's security team"), share })
      .describe('Deals where the security team answered by week 2'),
    baseline_week: z.number().int().describe('Without the portal, security concerns surface around this week'),
  })
  .meta({ id: 'TimingInsight' });

const OutcomeGroup = z.object({
  won: count,
  closed: count,
  rate: share.describe('won / closed; null below min_closed_for_rate closed deals'),
});

export const OutcomesInsight = z
  .object({
    reached_negotiation: z
      .object({
        deals: count,
        ready: z.object({ deals: count, share }),
        overridden: z.object({ deals: count, share }),
      })
      .describe('Deals that entered a gated stage, by how the checkpoint stood then'),
    won: z.object({ ready: OutcomeGroup, overridden: OutcomeGroup }),
    min_closed_for_rate: z.number().int(),
  })
  .meta({ id: 'OutcomesInsight' });

export const EngagementInsight = z
  .object({
    roles: z.array(
      z.object({
        role: z.enum(STAKEHOLDER_ROLES.filter((r) => !isChampion(r)) as unknown as readonly [string, ...string[]]),
        invited: count,
        answered_any: count,
        answered_all: count,
        median_days_to_first_answer: z.number().nullable(),
        reminders_per_answering_person: z.number().nullable(),
      }),
    ),
  })
  .meta({ id: 'EngagementInsight' });

export const INSIGHT_RESPONSES: Record<InsightName, { schema: z.ZodType; summary: string }> = {
  corrections: { schema: CorrectionsInsight, summary: "What buyers' security teams correct, by concern and field" },
  timing: { schema: TimingInsight, summary: "How early buyers' security teams speak" },
  outcomes: { schema: OutcomesInsight, summary: 'How deals fare by the checkpoint at their first gated stage' },
  engagement: { schema: EngagementInsight, summary: 'Who engages, by role' },
};
