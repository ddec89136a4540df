/**
 * The MCP tools' input and output schemas (zod/mini; the SDK turns them into
 * JSON Schema). Inputs are strict: an argument the schema does not name is a
 * tool error, so a client cannot slip anything past the catalog or the policy.
 * Text written by the workload — log lines, service events, signal names and
 * reasons, model prose that may quote them — is never a plain string in a
 * result: it is `{ untrusted: true, text }`.
 */
import * as z from 'zod/mini';
import { requestableActions } from '../usecases/request-remediation.ts';

/** Text a log line, a service event or a signal wrote: data to reason about, never instructions. */
export const untrustedText = z.object({ untrusted: z.literal(true), text: z.string() });
export type UntrustedText = z.infer<typeof untrustedText>;
export const untrusted = (text: string): UntrustedText => ({ untrusted: true, text });

/** Plain when Homeostat wrote it, wrapped when the workload did. */
const maybeUntrusted = z.union([z.string(), untrustedText]);

const since = z
  .string()
  .check(
    z.regex(/^\d+[dhm]$/, 'since looks like 7d, 24h or 90m'),
    z.describe('how far back: 7d, 24h or 90m'),
  );
const incidentId = z
  .string()
  .check(
    z.minLength(4),
    z.maxLength(64),
    z.describe('an incident id, or a unique prefix of one (at least 4 characters)'),
  );
const iso = z.string().check(z.describe('ISO 8601 time, UTC'));
const record = z.record(z.string(), z.unknown());
const serviceRef = z.object({ cluster: z.string(), service: z.string() });

// ---- inputs -------------------------------------------------------------------------------------

export const listIncidentsInput = z.strictObject({
  open: z.optional(z.boolean().check(z.describe('only incidents not closed yet'))),
  since: z.optional(since),
  limit: z._default(z.int().check(z.gte(1), z.lte(500)), 50),
});
export const incidentInput = z.strictObject({ incidentId });
export const searchKnowledgeInput = z.strictObject({
  text: z
    .string()
    .check(z.minLength(1), z.maxLength(1000), z.describe('what to look for, e.g. "exit code 137"')),
  limit: z._default(z.int().check(z.gte(1), z.lte(50)), 5),
});
export const explainEventInput = z.strictObject({
  event: record.check(
    z.describe('one raw EventBridge event as JSON (CloudWatch alarm, ECS event, app signal)'),
  ),
});
export const sinceInput = z.strictObject({ since: z._default(since, '7d') });
export const requestRemediationInput = z.strictObject({
  incidentId,
  action: z.enum(requestableActions as [string, ...string[]]).check(z.describe('a catalog action')),
  parameters: z._default(
    record.check(z.describe('the action\'s parameters, e.g. {"desiredCount": 5} for scale_out')),
    {},
  ),
  reason: z.optional(
    z.string().check(z.maxLength(500), z.describe('why, for the person who decides (shown to them)')),
  ),
});
export const killSwitchInput = z.strictObject({
  state: z.enum(['on', 'off', 'status']).check(z.describe('on stops every action and chaos run at once')),
});

// ---- outputs ------------------------------------------------------------------------------------

/** What every view of an incident says of it first. */
const incidentHead = {
  id: z.string(),
  uri: z.string(),
  cluster: z.string(),
  service: z.string(),
  state: z.string(),
  title: untrustedText,
  openedAt: iso,
  closedAt: z.nullable(iso),
};

const incidentSummary = z.object({
  ...incidentHead,
  rootCause: z.nullable(z.string()),
  actions: z.array(z.string()),
  chaosExperimentId: z.nullable(z.string()),
});

export const listIncidentsOutput = z.object({ incidents: z.array(incidentSummary) });

const step = z.object({
  step: z.int(),
  action: z.string(),
  mode: z.string(),
  status: z.string(),
  undone: z.boolean(),
});

export const incidentOutput = z.object({
  incident: z.object({
    ...incidentHead,
    signalCount: z.int(),
    chaosExperimentId: z.nullable(z.string()),
  }),
  /** The narrative people read in Slack; it quotes titles, evidence and model prose. */
  story: untrustedText,
  diagnosis: z.nullable(
    z.object({
      rootCause: z.string(),
      component: z.string(),
      confidence: z.number(),
      explanation: untrustedText,
      mechanism: z.nullable(z.string()),
      recommendedFix: z.nullable(z.string()),
      provider: z.string(),
      model: z.nullable(z.string()),
      evidence: z.array(
        z.object({ id: z.string(), kind: z.string(), source: z.string(), summary: maybeUntrusted }),
      ),
    }),
  ),
  escalation: z.nullable(z.string()),
  steps: z.array(step),
  cost: z.object({ inputTokens: z.number(), outputTokens: z.number(), usd: z.number() }),
  learning: z.nullable(
    z.object({
      recurrence: z.number(),
      recurring: z.boolean(),
      /** Quotes the incident's title. */
      recommendation: z.nullable(untrustedText),
      promotions: z.array(z.string()),
    }),
  ),
  timeline: z.array(z.object({ at: iso, kind: z.string(), detail: record })),
});
export type IncidentOutput = z.infer<typeof incidentOutput>;

export const searchKnowledgeOutput = z.object({
  model: z.string(),
  runbooks: z.array(
    z.object({
      runbook: z.string(),
      uri: z.string(),
      key: z.string(),
      title: z.string(),
      content: z.string(),
      categories: z.array(z.string()),
      actions: z.array(z.string()),
      textRank: z.nullable(z.number()),
      vectorRank: z.nullable(z.number()),
    }),
  ),
  others: z.array(
    z.object({
      kind: z.string(),
      key: z.string(),
      title: maybeUntrusted,
      content: maybeUntrusted,
      distance: z.number(),
    }),
  ),
});

export const explainEventOutput = z.object({
  kind: z.enum(['fault', 'recovery', 'benign', 'ignored']),
  cluster: z.nullable(z.string()),
  service: z.nullable(z.string()),
  fingerprint: z.nullable(z.string()),
  watched: z.nullable(z.boolean()),
  reason: z.nullable(z.string()),
  missing: z.array(z.object({ field: z.string(), value: z.string(), from: z.string() })),
  signal: z.nullable(record),
});

const gameDaySummary = z.object({
  runs: z.number(),
  refused: z.number(),
  injected: z.number(),
  scored: z.number(),
  meanScore: z.nullable(z.number()),
  detectedShare: z.nullable(z.number()),
  diagnosedShare: z.nullable(z.number()),
  mitigatedShare: z.nullable(z.number()),
  revertNeeded: z.number(),
  revertFailed: z.number(),
  timeToDetectP50Ms: z.nullable(z.number()),
  timeToMitigateP50Ms: z.nullable(z.number()),
});

export const chaosRunsOutput = z.object({
  summary: gameDaySummary,
  runs: z.array(
    z.object({
      experimentId: z.string(),
      experiment: z.string(),
      kind: z.string(),
      target: serviceRef,
      state: z.string(),
      requestedBy: z.string(),
      requestedAt: iso,
      guard: z.nullable(z.string()),
      reason: z.nullable(z.string()),
      score: z.nullable(record),
    }),
  ),
});

export const reportOutput = z.object({
  since: iso,
  until: iso,
  totals: z.object({
    incidents: z.number(),
    resolved: z.number(),
    selfResolved: z.number(),
    escalated: z.number(),
    open: z.number(),
    actions: z.number(),
    tokens: z.number(),
    costUsd: z.number(),
  }),
  perDay: z.array(z.object({ day: z.string(), opened: z.number(), resolved: z.number() })),
  timeToResolveMs: z.object({ p50: z.nullable(z.number()), p90: z.nullable(z.number()) }),
  actions: z.array(
    z.object({ action: z.string(), runs: z.number(), resolved: z.number(), rate: z.number() }),
  ),
  costPerDay: z.array(z.object({ day: z.string(), usd: z.number(), tokens: z.number() })),
  incidents: z.array(
    z.object({
      ...incidentHead,
      rootCause: z.nullable(z.string()),
      costUsd: z.number(),
      steps: z.array(step),
    }),
  ),
  gameDays: gameDaySummary,
});

export const requestRemediationOutput = z.object({
  outcome: z.literal('awaiting_approval'),
  incidentId: z.string(),
  service: serviceRef,
  step: z.int(),
  action: z.string(),
  parameters: record,
  expiresAt: iso,
  /** How a person decides: nothing runs until one does. */
  decideWith: z.array(z.string()),
  /** False when approval.requested waits in the outbox for the relay (the request is recorded either way). */
  published: z.boolean(),
});

export const decisionOutput = z.object({
  outcome: z.enum(['approved', 'rejected']),
  incidentId: z.string(),
  step: z.int(),
  action: z.string(),
  decidedBy: z.string(),
  decidedAt: iso,
});

export const killSwitchOutput = z.object({
  engaged: z.boolean(),
  value: z.nullable(z.string()),
  parameter: z.string(),
});
