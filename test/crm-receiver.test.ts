// The CRM recipe (docs/crm.md): scripts/crm-receiver.ts, run as a child process,
// verifies Standard Webhooks deliveries and prints the CRM records it would write.
import t, { type Test } from 'tap';
import { spawnSync } from 'node:child_process';
import { Webhook } from 'standardwebhooks';
import { crmRecords, type WebhookEvent } from '../scripts/crm/records.js';
import { deliver, startReceiver, testSecret, type RunningReceiver } from './helpers/crm-receiver.js';
import { testApp } from './helpers/app.js';
import { form } from './helpers/http.js';
import { claimForm, inviteStakeholder, openDeal, signUpVendor } from './helpers/vendor.js';

const SECRET = testSecret();

const deal = { id: 'd-1f0e', buyer_name: 'Globex Bank', buyer_domain: 'globex.example', stage: 'evaluation' };
const vendor = { id: 'v-9a', name: 'Acme AI' };
const carla = { id: 's-c1', name: 'Carla Diaz', role: 'ciso' };
const sam = { id: 's-s2', name: 'Sam Lee', role: 'security' };
const dealLine = 'Portal deal d-1f0e: Globex Bank (globex.example), stage Evaluation.';
const opportunity = { object: 'Opportunity', match: { Portal_Deal_Id__c: 'd-1f0e' } };
const hubspotDeal = { object: 'deal', match: { portal_deal_id: 'd-1f0e' } };

function signal(fields: Record<string, unknown>) {
  return {
    id: 42,
    type: 'answer',
    concern: 'data_residency',
    claim_revision: 3,
    verdict: 'confirm',
    kind: null,
    comment: null,
    changes: [],
    stakeholder: carla,
    target_stakeholder: null,
    week: 2,
    created_at: '2026-03-04T10:15:00.000Z',
    ...fields,
  };
}

const event = (type: string, data: Record<string, unknown>, timestamp = '2026-03-04T10:15:01.000Z'): WebhookEvent => ({ type, timestamp, data: { ...data, deal, vendor } });

const correction = event('signal.created', {
  signal: signal({
    verdict: 'correct',
    kind: 'requirement_gap',
    comment: 'EU only, <b>no</b> exceptions & no US failover',
    changes: [
      { field: 'inference_regions', claimed: ['US'], corrected: ['EU_EEA', 'UK'] },
      { field: 'prompt_retention_days', claimed: 30, corrected: 1 },
    ],
  }),
});

const correctionDescription = [
  'Security corrected: Data residency by Carla Diaz (CISO), week 2 of the deal, claim revision 3.',
  'Kind: Requirement gap',
  '- Inference regions: United States → EU/EEA, United Kingdom',
  '- Prompt retention period: 30 days → 1 day',
  'Comment: EU only, <b>no</b> exceptions & no US failover',
  `${dealLine} Signal 42.`,
].join('\n');

const correctionFields = {
  Concern__c: 'data_residency',
  Kind__c: 'requirement_gap',
  Comment__c: 'EU only, <b>no</b> exceptions & no US failover',
  Stakeholder__c: 'Carla Diaz (CISO)',
  Portal_Deal_Id__c: 'd-1f0e',
  Portal_Signal_Id__c: 42,
  Corrected_At__c: '2026-03-04T10:15:00.000Z',
};

const correctionRecords = [
  {
    system: 'salesforce',
    object: 'Task',
    action: 'create',
    parent: opportunity,
    fields: {
      Subject: 'Security corrected: Data residency by Carla Diaz (CISO)',
      Description: correctionDescription,
      ActivityDate: '2026-03-04',
      Status: 'Completed',
      Priority: 'High',
      Portal_Signal_Id__c: 42,
    },
  },
  {
    system: 'salesforce',
    object: 'Security_Correction__c',
    action: 'create',
    parent: opportunity,
    fields: {
      Name: 'Data residency: Inference regions',
      Portal_Correction_Key__c: '42:inference_regions',
      Field__c: 'inference_regions',
      Claimed__c: 'United States',
      Corrected__c: 'EU/EEA, United Kingdom',
      ...correctionFields,
    },
  },
  {
    system: 'salesforce',
    object: 'Security_Correction__c',
    action: 'create',
    parent: opportunity,
    fields: {
      Name: 'Data residency: Prompt retention period',
      Portal_Correction_Key__c: '42:prompt_retention_days',
      Field__c: 'prompt_retention_days',
      Claimed__c: '30 days',
      Corrected__c: '1 day',
      ...correctionFields,
    },
  },
  {
    system: 'hubspot',
    object: 'note',
    action: 'create',
    parent: hubspotDeal,
    fields: {
      // Escaped: a buyer's comment must not become markup in the CRM.
      hs_note_body: [
        'Security corrected: Data residency by Carla Diaz (CISO)',
        'Security corrected: Data residency by Carla Diaz (CISO), week 2 of the deal, claim revision 3.',
        'Kind: Requirement gap',
        '- Inference regions: United States → EU/EEA, United Kingdom',
        '- Prompt retention period: 30 days → 1 day',
        'Comment: EU only, &lt;b&gt;no&lt;/b&gt; exceptions &amp; no US failover',
        `${dealLine} Signal 42.`,
      ].join('<br>'),
      hs_timestamp: '2026-03-04T10:15:00.000Z',
    },
  },
];

const confirmation = event('signal.created', {
  signal: signal({ id: 43, concern: 'audit_compliance', claim_revision: 1, stakeholder: sam, week: 3, created_at: '2026-03-11T23:59:00.000Z' }),
});
const confirmationRecords = [
  {
    system: 'salesforce',
    object: 'Task',
    action: 'create',
    parent: opportunity,
    fields: {
      Subject: 'Security confirmed: Audit and compliance by Sam Lee (Security)',
      Description: `Security confirmed: Audit and compliance by Sam Lee (Security), week 3 of the deal, claim revision 1.\n${dealLine} Signal 43.`,
      ActivityDate: '2026-03-11',
      Status: 'Completed',
      Priority: 'Normal',
      Portal_Signal_Id__c: 43,
    },
  },
  {
    system: 'hubspot',
    object: 'note',
    action: 'create',
    parent: hubspotDeal,
    fields: {
      hs_note_body: `Security confirmed: Audit and compliance by Sam Lee (Security)<br>Security confirmed: Audit and compliance by Sam Lee (Security), week 3 of the deal, claim revision 1.<br>${dealLine} Signal 43.`,
      hs_timestamp: '2026-03-11T23:59:00.000Z',
    },
  },
];

const checkpoint = (state: string, gaps: { concern: string; title: string }[], timestamp: string) =>
  event('deal.checkpoint_changed', { checkpoint: { state, previous_state: 'ready', gaps } }, timestamp);

const checkpointRecords = (state: string, gaps: string | null, at: string) => [
  {
    system: 'salesforce',
    object: 'Opportunity',
    action: 'update',
    match: { Portal_Deal_Id__c: 'd-1f0e' },
    fields: { Security_Checkpoint__c: state, Security_Gaps__c: gaps, Security_Checkpoint_At__c: at },
  },
  {
    system: 'hubspot',
    object: 'deal',
    action: 'update',
    match: { portal_deal_id: 'd-1f0e' },
    fields: { portal_security_checkpoint: state, portal_security_gaps: gaps, portal_security_checkpoint_at: at },
  },
];

/** Everything a receiver should have printed so far, in order. */
const printed = new WeakMap<RunningReceiver, unknown[]>();

/**
 * Sends a delivery that must be accepted and print exactly `expected`, then compares everything printed so far with
 * everything expected so far: a line printed by an earlier delivery that should have printed nothing (a refusal, a
 * replay, a stale change) comes before these and fails the comparison, whenever its bytes arrive.
 */
async function expectRecords(t: Test, receiver: RunningReceiver, id: string, body: WebhookEvent, expected: unknown[], message: string) {
  const all = [...(printed.get(receiver) ?? []), ...expected];
  printed.set(receiver, all);
  const res = await deliver(receiver.port, SECRET, { id, body: JSON.stringify(body) });
  t.equal(res.status, 204, `${message}: accepted with 204`);
  const lines = await receiver.waitForLines(all.length);
  t.strictSame(lines.slice(all.length - expected.length), expected, `${message}: the records printed`);
  t.equal(lines.length, all.length, `${message}: and nothing else since the start`);
}

t.test('bad arguments exit 2 with the usage', async (t) => {
  const run = (...args: string[]) =>
    spawnSync(process.execPath, ['--import', 'tsx', 'scripts/crm-receiver.ts', ...args], { env: { PATH: process.env.PATH }, encoding: 'utf8', timeout: 60_000 });
  const cases: [string[], RegExp][] = [
    [['--port', '65536', '--secret', SECRET], /--port: must be a whole number from 0 to 65535/],
    [['--port=-1', '--secret', SECRET], /--port: must be a whole number/],
    [['--port', '80x', '--secret', SECRET], /--port: must be a whole number/],
    [['--secret', SECRET], /--port: must be a whole number/],
    [['--port', '0'], /--secret: required/],
    [['--port', '0', '--secret', 'c2VjcmV0'], /--secret: must start with whsec_/],
    [['--port', '0', '--secret', 'whsec_'], /--secret: must be whsec_ followed by the base64/],
    [['--port', '0', '--secret', SECRET, '--verbose'], /--verbose/],
  ];
  // The secret from the environment instead: a bad one is named the same way, a good one starts the receiver.
  const fromEnv = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/crm-receiver.ts', '--port', '0'], {
    env: { PATH: process.env.PATH, CRM_RECEIVER_SECRET: 'c2VjcmV0' },
    encoding: 'utf8',
    timeout: 60_000,
  });
  t.equal(fromEnv.status, 2, 'CRM_RECEIVER_SECRET is checked as --secret is');
  t.match(fromEnv.stderr, /--secret: must start with whsec_/);
  for (const [args, error] of cases) {
    const r = run(...args);
    t.equal(r.status, 2, `${args.join(' ')}: exit 2`);
    t.match(r.stderr, error, `${args.join(' ')}: says what is wrong`);
    t.match(r.stderr, /Usage: npm run -s crm-receiver -- --port <0-65535> \[--secret <whsec_\.\.\.>\]/, `${args.join(' ')}: prints the usage`);
    t.equal(r.stdout, '', `${args.join(' ')}: nothing on stdout`);
  }
});

t.test('each event type prints the CRM records it maps to; refusals, replays and stale state print nothing', async (t) => {
  const receiver = await startReceiver(t, SECRET);

  await expectRecords(t, receiver, 'msg_correction', correction, correctionRecords, 'a correction: a Task, one Security_Correction__c per changed field, a HubSpot note');

  // A retry of the same webhook-id is acknowledged and writes nothing again; the next delivery's lines follow directly.
  const replay = await deliver(receiver.port, SECRET, { id: 'msg_correction', body: JSON.stringify(correction) });
  t.equal(replay.status, 204, 'a replayed webhook-id is acknowledged');
  await expectRecords(t, receiver, 'msg_confirm', confirmation, confirmationRecords, 'a confirmation, after the replay: a Task and a note only');

  // Refused deliveries: 401, an error line on stderr, nothing on stdout.
  const body = JSON.stringify(correction);
  const forged = await deliver(receiver.port, SECRET, { id: 'msg_forged', body, signature: new Webhook(testSecret(9)).sign('msg_forged', new Date(), body) });
  t.equal(forged.status, 401, 'signed with another secret: 401');
  const tampered = await deliver(receiver.port, SECRET, {
    id: 'msg_tampered',
    body: body.replace('EU only', 'US only'),
    signature: new Webhook(SECRET).sign('msg_tampered', new Date(), body),
  });
  t.equal(tampered.status, 401, 'a body changed after signing: 401');
  const reused = await deliver(receiver.port, SECRET, { id: 'msg_other', body, signature: new Webhook(SECRET).sign('msg_correction', new Date(), body) });
  t.equal(reused.status, 401, "another delivery's signature under a new webhook-id: 401");
  const old = await deliver(receiver.port, SECRET, { id: 'msg_old', body, date: new Date(Date.now() - 10 * 60_000) });
  t.equal(old.status, 401, 'a signature ten minutes old: 401');
  t.match(
    await receiver.waitForStderr(/(refused a delivery: No matching signature found\n[^]*){3}/),
    /^crm-receiver: refused a delivery: No matching signature found$/m,
    'each refusal is logged on stderr',
  );
  t.ok(await receiver.waitForStderr(/^crm-receiver: refused a delivery: Message timestamp too old$/m), 'a stale signature is logged on stderr');
  // The next accepted delivery's lines follow the confirmation's directly; and a refused id was not remembered.
  await expectRecords(t, receiver, 'msg_forged', correction, correctionRecords, 'after four refusals, the genuine delivery under the forged id');

  const notJson = await deliver(receiver.port, SECRET, { id: 'msg_text', body: 'signal=42' });
  t.equal(notJson.status, 400, 'a signed body that is not JSON: 400');
  const noDeal = await deliver(receiver.port, SECRET, {
    id: 'msg_nodeal',
    body: JSON.stringify({ type: 'deal.stage_changed', timestamp: '2026-03-04T10:00:00Z', data: { stage: {} } }),
  });
  t.equal(noDeal.status, 400, 'an event without its deal: 400');
  const get = await deliver(receiver.port, SECRET, { id: 'msg_get', body: '', method: 'GET' });
  t.equal(get.status, 405, 'GET: 405');
  const ping = await deliver(receiver.port, SECRET, {
    id: 'msg_ping',
    body: JSON.stringify({ type: 'endpoint.test', timestamp: '2026-03-04T10:00:00Z', data: { webhook_id: 'wh_1', message: 'Hello' } }),
  });
  t.equal(ping.status, 204, 'endpoint.test is acknowledged (it maps to no record)');

  await expectRecords(
    t,
    receiver,
    'msg_invited',
    event('stakeholder.invited', { stakeholder: { ...sam, email: 'sam@globex.example' } }, '2026-03-02T09:00:00.000Z'),
    [
      {
        system: 'salesforce',
        object: 'Task',
        action: 'create',
        parent: opportunity,
        fields: {
          Subject: 'Security stakeholder invited: Sam Lee (Security)',
          Description: `Sam Lee (Security) <sam@globex.example> was sent a personal link to review the security posture.\n${dealLine}`,
          ActivityDate: '2026-03-02',
          Status: 'Completed',
          Priority: 'Normal',
          Portal_Signal_Id__c: null,
        },
      },
      {
        system: 'hubspot',
        object: 'note',
        action: 'create',
        parent: hubspotDeal,
        fields: {
          hs_note_body: `Security stakeholder invited: Sam Lee (Security)<br>Sam Lee (Security) &lt;sam@globex.example&gt; was sent a personal link to review the security posture.<br>${dealLine}`,
          hs_timestamp: '2026-03-02T09:00:00.000Z',
        },
      },
    ],
    'the non-JSON, incomplete, GET and test deliveries printed nothing; an invitation: a Task and a note',
  );

  await expectRecords(
    t,
    receiver,
    'msg_engaged',
    event('stakeholder.engaged', { stakeholder: carla, signal_id: 42 }),
    [
      {
        system: 'salesforce',
        object: 'Task',
        action: 'create',
        parent: opportunity,
        fields: {
          Subject: 'Security engaged: Carla Diaz (CISO)',
          Description: `Carla Diaz (CISO) gave a first substantive answer (signal 42).\n${dealLine}`,
          ActivityDate: '2026-03-04',
          Status: 'Completed',
          Priority: 'Normal',
          Portal_Signal_Id__c: 42,
        },
      },
      {
        system: 'hubspot',
        object: 'note',
        action: 'create',
        parent: hubspotDeal,
        fields: {
          hs_note_body: `Security engaged: Carla Diaz (CISO)<br>Carla Diaz (CISO) gave a first substantive answer (signal 42).<br>${dealLine}`,
          hs_timestamp: '2026-03-04T10:15:01.000Z',
        },
      },
    ],
    'first engagement: a Task and a note',
  );

  const renewalText = `Sam Lee (Security) opened an expired link and asked for a new one. Send it from the deal page in Posture Portal.\n${dealLine}`;
  await expectRecords(
    t,
    receiver,
    'msg_renewal',
    event('link.renewal_requested', { stakeholder: sam }, '2026-03-20T08:00:00.000Z'),
    [
      {
        system: 'salesforce',
        object: 'Task',
        action: 'create',
        parent: opportunity,
        fields: {
          Subject: 'Link renewal requested: Sam Lee (Security)',
          Description: renewalText,
          ActivityDate: '2026-03-20',
          Status: 'Not Started',
          Priority: 'High',
          Portal_Signal_Id__c: null,
        },
      },
      {
        system: 'hubspot',
        object: 'task',
        action: 'create',
        parent: hubspotDeal,
        fields: {
          hs_task_subject: 'Link renewal requested: Sam Lee (Security)',
          hs_task_body: `Link renewal requested: Sam Lee (Security)<br>${renewalText.replace('\n', '<br>')}`,
          hs_task_status: 'NOT_STARTED',
          hs_task_priority: 'HIGH',
          hs_timestamp: '2026-03-20T08:00:00.000Z',
        },
      },
    ],
    'a renewal request: an open, high-priority Task and a HubSpot task',
  );

  const gaps = [
    { concern: 'data_residency', title: 'Data residency' },
    { concern: 'audit_compliance', title: 'Audit and compliance' },
  ];
  await expectRecords(
    t,
    receiver,
    'msg_cp_open',
    checkpoint('open', gaps, '2026-03-05T12:00:00.000Z'),
    checkpointRecords('open', 'Data residency; Audit and compliance', '2026-03-05T12:00:00.000Z'),
    'the checkpoint opens: the opportunity and the HubSpot deal get its state and gaps',
  );
  // An older checkpoint change arriving late must not overwrite the newer state; a newer one does.
  const late = await deliver(receiver.port, SECRET, { id: 'msg_cp_late', body: JSON.stringify(checkpoint('ready', [], '2026-03-05T11:59:59.000Z')) });
  t.equal(late.status, 204, 'a late, older checkpoint change is acknowledged');
  await expectRecords(
    t,
    receiver,
    'msg_cp_ready',
    checkpoint('ready', [], '2026-03-06T12:00:00.000Z'),
    checkpointRecords('ready', null, '2026-03-06T12:00:00.000Z'),
    'the older change printed nothing; the newer one clears the gaps',
  );
  t.ok(
    await receiver.waitForStderr(/msg_cp_late: deal\.checkpoint_changed of 2026-03-05T11:59:59\.000Z is older than one already applied; skipped/),
    'the skipped change is logged on stderr',
  );

  // The stage has its own order: an older stage change is still applied after a newer checkpoint change.
  await expectRecords(
    t,
    receiver,
    'msg_stage',
    event(
      'deal.stage_changed',
      { stage: { from: 'evaluation', to: 'negotiation', overridden: true, override_reason: 'CFO sign-off; security review booked' } },
      '2026-03-05T09:00:00.000Z',
    ),
    [
      {
        system: 'salesforce',
        object: 'Opportunity',
        action: 'update',
        match: { Portal_Deal_Id__c: 'd-1f0e' },
        fields: { Portal_Stage__c: 'negotiation', Security_Override_Reason__c: 'CFO sign-off; security review booked', Portal_Stage_At__c: '2026-03-05T09:00:00.000Z' },
      },
      {
        system: 'hubspot',
        object: 'deal',
        action: 'update',
        match: { portal_deal_id: 'd-1f0e' },
        fields: { portal_stage: 'negotiation', portal_security_override_reason: 'CFO sign-off; security review booked', portal_stage_at: '2026-03-05T09:00:00.000Z' },
      },
    ],
    'a stage change past an open checkpoint: the stage and the override reason',
  );

  t.equal(await receiver.stop(), 0, 'SIGTERM ends it with exit code 0');
  t.strictSame(receiver.lines(), printed.get(receiver), 'in all, exactly the records expected, in order');
  t.notMatch(receiver.stderr(), /Error|at .*\.ts:\d+/, 'no stack trace on stderr');
});

t.test('other signal types read as what happened', async (t) => {
  const subjects = (fields: Record<string, unknown>) => {
    const [task, note] = crmRecords(event('signal.created', { signal: signal(fields) }));
    t.equal(note.object, 'note', 'a note goes with each task');
    return [task.fields.Subject, (task.fields.Description as string).split('\n').slice(0, -1)];
  };
  t.strictSame(subjects({ type: 'delegation', verdict: null, target_stakeholder: sam }), [
    'Security handover: Data residency from Carla Diaz (CISO) to Sam Lee (Security)',
    ['Security handover: Data residency from Carla Diaz (CISO) to Sam Lee (Security), week 2 of the deal, claim revision 3.'],
  ]);
  t.strictSame(subjects({ type: 'answer', verdict: 'not_mine', concern: 'adversarial_risk', claim_revision: null }), [
    'Not mine: Adversarial risk by Carla Diaz (CISO)',
    ['Not mine: Adversarial risk by Carla Diaz (CISO), week 2 of the deal.'],
  ]);
  t.strictSame(
    subjects({
      type: 'claim_change',
      verdict: null,
      stakeholder: null,
      claim_revision: 4,
      changes: [{ field: 'inference_scope', claimed: 'global_routing', corrected: 'data_zone' }],
    }),
    [
      'Claim changed: Data residency (revision 4)',
      ['Claim changed: Data residency (revision 4), week 2 of the deal, claim revision 4.', '- Inference scope: Global routing → Data zone (e.g. US or EU)'],
    ],
  );
  t.strictSame(
    subjects({
      type: 'stage_change',
      verdict: null,
      concern: null,
      claim_revision: null,
      stakeholder: null,
      changes: [{ field: 'stage', claimed: 'business_case', corrected: 'closed_won' }],
    }),
    ['Deal stage: Business case → Closed won', ['Deal stage: Business case → Closed won, week 2 of the deal.', '- Stage: Business case → Closed won']],
  );
  t.strictSame(subjects({ type: 'checkpoint_override', verdict: null, concern: null, claim_revision: null, stakeholder: null, comment: 'Board deadline' }), [
    'Security checkpoint overridden',
    ['Security checkpoint overridden, week 2 of the deal.', 'Comment: Board deadline'],
  ]);
  t.strictSame(subjects({ type: 'stakeholder_confirmed', verdict: null, concern: null, claim_revision: null, stakeholder: null, target_stakeholder: sam }), [
    'Stakeholder confirmed: Sam Lee (Security)',
    ['Stakeholder confirmed: Sam Lee (Security), week 2 of the deal.'],
  ]);
  // A concern or field the catalogue does not know (a vendor's extension) is named by its key, its values as sent.
  const records = crmRecords(
    event('signal.created', {
      signal: signal({
        verdict: 'correct',
        kind: 'factual_error',
        concern: 'export_control',
        changes: [
          { field: 'ear_class', claimed: '5D002', corrected: ['EAR99'] },
          { field: 'licence', claimed: null, corrected: 'NLR' },
        ],
      }),
    }),
  );
  t.strictSame(
    records.map((r) => r.object),
    ['Task', 'Security_Correction__c', 'Security_Correction__c', 'note'],
  );
  t.match(records[1].fields, { Name: 'Export control: Ear class', Concern__c: 'export_control', Claimed__c: '5D002', Corrected__c: '["EAR99"]', Kind__c: 'factual_error' });
  t.match(records[2].fields, { Name: 'Export control: Licence', Claimed__c: '—', Corrected__c: 'NLR' }, 'a field that had no value reads as —');
  t.strictSame(crmRecords({ type: 'endpoint.test', timestamp: '2026-03-04T10:00:00Z', data: { webhook_id: 'wh_1', message: 'Hello' } }), [], 'endpoint.test maps to nothing');
});

t.test('a real delivery from the portal: a correction reaches the receiver signed and becomes CRM records', async (t) => {
  const ctx = await testApp(t, { env: { WEBHOOK_ALLOW_PRIVATE: 'true' } });
  // The receiver checks webhook-timestamp against its own clock (five minutes either way): the portal's clock reads now.
  ctx.clock.advance(Date.now() - ctx.clock.now().getTime());
  const vendor = await signUpVendor(ctx, { workspace: 'Acme AI' });
  const dealId = await openDeal(vendor, { buyer_name: 'Big Bank', buyer_domain: 'bank.example' });
  // The secret exists once the endpoint does, and the receiver needs it to start: add, start, then point the endpoint at it.
  const created = await vendor.api('POST', '/api/v1/webhooks', { url: 'http://127.0.0.1:9/', events: ['signal.created', 'deal.stage_changed'] });
  t.equal(created.statusCode, 201);
  const { id, secret } = created.json() as { id: string; secret: string };
  const rx = await startReceiver(t, secret, { secretFromEnv: true });
  t.equal((await vendor.api('PATCH', `/api/v1/webhooks/${id}`, { url: `http://127.0.0.1:${rx.port}/portal` })).statusCode, 200);

  const carla = await inviteStakeholder(ctx, vendor, dealId, { name: 'Carla Ciso', email: 'carla@bank.example', role: 'ciso' });
  const deal = (await vendor.api('GET', `/api/v1/deals/${dealId}`)).json();
  const residency = deal.concerns.find((c: { concern: string }) => c.concern === 'data_residency');
  const answered = await ctx.app.inject({
    method: 'POST',
    url: `${carla.path}/answer/data_residency`,
    ...form({ verdict: 'correct', kind: 'factual_error', comment: 'Inference runs in the EU only.', ...claimForm(residency.claim, { inference_regions: ['EU_EEA'] }) }),
  });
  t.equal(answered.statusCode, 303);
  t.equal((await vendor.api('POST', `/api/v1/deals/${dealId}/stage`, { stage: 'evaluation' })).statusCode, 200);

  let sent = 0;
  for (let pass = 0; pass < 20; pass++) sent += await ctx.app.services.webhooks.runOnce();
  const list = (await vendor.api('GET', `/api/v1/webhooks/${id}/deliveries`)).json() as { deliveries: { event_type: string; status: string; last_status_code: number }[] };
  t.same(
    list.deliveries.map((d) => [d.event_type, d.status, d.last_status_code]).sort(),
    [
      ['deal.stage_changed', 'sent', 204],
      ['signal.created', 'sent', 204],
      ['signal.created', 'sent', 204],
    ],
    'the receiver accepted the correction, the stage change signal and the stage event (204: verified)',
  );
  t.ok(sent >= 3);

  // The receiver answers first and prints after: wait (up to 10 s) until the records of all three deliveries are out.
  type Line = { system: string; object: string; action: string; fields: Record<string, unknown>; match?: Record<string, unknown> };
  const complete = (ls: Line[]) =>
    ls.some((l) => l.object === 'Security_Correction__c') && ls.some((l) => l.object === 'Opportunity') && ls.filter((l) => l.object === 'Task').length >= 2;
  for (let i = 0; i < 100 && !complete(rx.lines() as Line[]); i++) await new Promise((r) => setTimeout(r, 100));
  const lines = rx.lines() as Line[];
  const corrections = lines.filter((l) => l.object === 'Security_Correction__c');
  t.equal(corrections.length, 1, 'one correction record for the one changed field');
  t.match(corrections[0], { system: 'salesforce', action: 'create', fields: { Concern__c: /residency/i, Field__c: /inference/i, Corrected__c: /EU/ } });
  t.ok(
    lines.some((l) => l.system === 'salesforce' && l.object === 'Task' && JSON.stringify(l.fields).includes('Carla Ciso')),
    'a Task on the Opportunity names who corrected',
  );
  t.ok(
    lines.some((l) => l.system === 'salesforce' && l.object === 'Opportunity' && l.action === 'update' && JSON.stringify(l).includes(dealId)),
    'the stage change updates the Opportunity matched by the portal deal id',
  );
  t.ok(
    lines.some((l) => l.system === 'hubspot'),
    'and HubSpot records are printed too',
  );
  t.notMatch(rx.stderr(), /refus|invalid|401/i, 'no delivery was refused');
});
