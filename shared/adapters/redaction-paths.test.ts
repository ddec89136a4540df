/**
 * Every path workload text takes out of Homeostat — to Bedrock (diagnosis
 * prompt, evidence details, narrative), to the database (diagnoses, signals)
 * and to Slack/SNS (the narrative) — goes through the redactor, even when
 * what arrives was not redacted upstream. Fakes only: no network.
 */
import type { BedrockRuntimeClient } from '@aws-sdk/client-bedrock-runtime';
import { describe, expect, it } from 'vitest';
import { CircuitBreaker } from '../domain/circuit-breaker.ts';
import type { Diagnosis } from '../domain/diagnosis.ts';
import { type IncidentStory, renderNarrative } from '../domain/narrative.ts';
import { toSignal } from '../domain/signal.ts';
import { parseInbound } from '../events/inbound.ts';
import { taskStoppedEvent } from '../testing/ecs-events.ts';
import { evidence, healthyService, investigation, stopped } from '../testing/investigations.ts';
import { BedrockDiagnoser } from './bedrock-diagnoser.ts';
import { bedrockNarrator } from './bedrock-narrator.ts';
import type { Pool } from './database.ts';
import { PostgresDiagnosisStore } from './diagnosis-store.ts';

const secrets = {
  dbPassword: 'Xk9mPq2vL7z-db',
  urlPassword: 'S3cr3tPass-url',
  bearer: 'mF_9.B5f-4.1JqM',
  slackBot: ['xoxb-', '17653672481-19874698323-', 'pdFZKVeTuE8sk7oOcBrzbqgy'].join(''),
  awsSecret: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
};
const leakedIn = (value: unknown) => {
  const text = JSON.stringify(value);
  return Object.values(secrets).filter((s) => text.includes(s));
};

/** Evidence as a careless tool might hand it over: nothing redacted. */
const leakyInvestigation = investigation(
  healthyService(),
  evidence('stopped_tasks', {
    tasks: [
      stopped({
        stoppedReason: `Essential container in task exited: DB_PASSWORD=${secrets.dbPassword}`,
        exitCodes: [1],
      }),
    ],
  }),
  {
    ...evidence('logs', {
      logGroup: '/ecs/api',
      lines: [
        `Error: connect postgres://app:${secrets.urlPassword}@db:5432/shop ECONNREFUSED`,
        `upstream call with Authorization: Bearer ${secrets.bearer}`,
      ],
    }),
    summary: `2 error lines; latest: posting with ${secrets.slackBot} failed`,
  },
);

const sentTexts = () => {
  const inputs: unknown[] = [];
  let call = 0;
  const client = {
    send: async (command: { input: unknown }) => {
      inputs.push(command.input);
      call += 1;
      const toolUse =
        call === 1
          ? { toolUseId: 't1', name: 'get_evidence', input: { ids: ['stopped_tasks:1', 'logs:1'] } }
          : {
              toolUseId: 't2',
              name: 'submit_diagnosis',
              input: {
                hypotheses: [
                  {
                    rootCause: 'dependency_failure',
                    component: 'db',
                    confidence: 0.8,
                    evidenceIds: ['logs:1'],
                    explanation: 'the database refuses connections',
                  },
                ],
                recommendedActions: [],
                insufficientEvidence: false,
              },
            };
      return {
        output: { message: { role: 'assistant', content: [{ toolUse }] } },
        usage: { inputTokens: 100, outputTokens: 20 },
        stopReason: 'tool_use',
      };
    },
  };
  return { client: client as unknown as BedrockRuntimeClient, inputs };
};

describe('redaction on every path out', () => {
  it('Bedrock diagnosis: the prompt and the evidence details the model fetches', async () => {
    const { client, inputs } = sentTexts();
    const clock = { now: () => new Date() };
    const diagnosis = await new BedrockDiagnoser(
      client,
      { fastModel: 'fast', strongModel: null },
      new CircuitBreaker(clock),
    ).diagnose(leakyInvestigation);
    expect(diagnosis.provider).toBe('bedrock');
    expect(inputs).toHaveLength(2); // the second request carries the get_evidence answer
    expect(leakedIn(inputs)).toEqual([]);
    expect(JSON.stringify(inputs)).toContain('postgres://app:[redacted]@db:5432/shop ECONNREFUSED');
  });

  const story: IncidentStory = {
    incidentId: '11111111-1111-4111-8111-111111111111',
    cluster: 'shop',
    service: 'api',
    title: 'task_stopped on shop/api',
    state: 'escalated',
    openedAt: new Date('2026-11-21T10:00:00Z'),
    closedAt: new Date('2026-11-21T10:03:05Z'),
    signalCount: 3,
    chaosExperimentId: null,
    diagnosis: {
      rootCause: 'dependency_failure',
      component: 'db',
      confidence: 0.8,
      explanation: `the log shows DB_PASSWORD=${secrets.dbPassword} was rejected`,
      evidence: [
        `Error: connect postgres://app:${secrets.urlPassword}@db:5432/shop`,
        `aws_secret_access_key = ${secrets.awsSecret}`,
      ],
      provider: 'bedrock',
      model: 'fast',
      mechanism: null,
      fix: `rotate the token ${secrets.slackBot}`,
    },
    escalation: `unexplained stop: Authorization: Bearer ${secrets.bearer}`,
    steps: [],
    tokens: { input: 100, output: 20 },
    costUsd: 0.001,
    learning: null,
    approval: null,
  };

  it('Bedrock narrative: the facts sent to the model', async () => {
    const inputs: unknown[] = [];
    const client = {
      send: async (command: { input: unknown }) => {
        inputs.push(command.input);
        return { output: { message: { role: 'assistant', content: [{ text: 'It broke.' }] } } };
      },
    } as unknown as BedrockRuntimeClient;
    expect(await bedrockNarrator(client, 'narrator')(story)).toBe('It broke.');
    expect(leakedIn(inputs)).toEqual([]);
  });

  it('Slack and SNS: the narrative text (the approval link keeps its token)', () => {
    const approveUrl = 'https://homeostat.example.com/approve?token=approval-link-token-123';
    const n = renderNarrative(
      {
        ...story,
        state: 'awaiting_approval',
        approval: {
          step: 1,
          action: 'restart_service',
          reason: `the log says password=${secrets.dbPassword}`,
          approveUrl,
          rejectUrl: null,
          expiresAt: new Date('2026-11-21T11:00:00Z'),
        },
      },
      `The connection to postgres://app:${secrets.urlPassword}@db failed.`,
    );
    expect(leakedIn(n)).toEqual([]);
    expect(n.text).toContain('postgres://app:[redacted]@db:5432/shop');
    expect(n.text).toContain(`Approve: ${approveUrl}`);
    expect(leakedIn(renderNarrative(story))).toEqual([]);
  });

  it('the database: a diagnosis row with its evidence and gaps', async () => {
    const params: unknown[][] = [];
    const client = {
      query: async (_sql: string, values?: unknown[]) => {
        if (values) params.push(values);
        return { rows: [{ incident_id: 'inc-1' }], rowCount: 1 };
      },
      release: () => {},
    };
    const pool = { connect: async () => client } as unknown as Pool;
    const diagnosis: Diagnosis = {
      hypotheses: [],
      recommendedActions: [],
      insufficientEvidence: true,
      provider: 'offline',
      model: null,
      steps: 0,
      tokens: { input: 0, output: 0 },
      costUsd: 0,
      fallbackReason: null,
      gaps: [{ tool: 'logs', reason: `failed: token=${secrets.slackBot}` }],
    };
    await new PostgresDiagnosisStore(pool).record({
      incident: {
        id: 'inc-1',
        service: { cluster: 'shop', service: 'api' },
        state: 'diagnosing',
        version: 1,
        title: 'task_stopped on shop/api',
        fingerprint: 'fp',
        openedAt: new Date('2026-11-21T10:00:00Z'),
        lastSignalAt: new Date('2026-11-21T10:00:00Z'),
        signalCount: 1,
        chaosExperimentId: null,
        serviceSnapshot: null,
      },
      investigation: leakyInvestigation,
      diagnosis,
      startedAt: new Date('2026-11-21T10:00:01Z'),
      completedAt: new Date('2026-11-21T10:00:02Z'),
      causationId: 'evt-1',
      envelopes: [],
      escalate: false,
    });
    const insert = params.find((p) => JSON.stringify(p).includes('stopped_tasks:1'));
    expect(insert).toBeDefined();
    expect(leakedIn(params)).toEqual([]);
  });

  it('the database: a signal’s reason, attributes and raw event', () => {
    const event = taskStoppedEvent({
      cluster: 'shop',
      service: 'api',
      stoppedReason: `Essential container in task exited: DB_PASSWORD=${secrets.dbPassword}`,
      containerReason: `CannotStartContainerError: postgres://app:${secrets.urlPassword}@db`,
    });
    const raw = {
      ...event,
      detail: {
        ...event.detail,
        overrides: {
          containerOverrides: [
            { name: 'app', environment: [{ name: 'AWS_SECRET_ACCESS_KEY', value: secrets.awsSecret }] },
          ],
        },
      },
    };
    const parsed = parseInbound(raw);
    if (parsed.status !== 'known') throw new Error('the task event should parse');
    const signal = toSignal(parsed.inbound, raw);
    expect(leakedIn(signal)).toEqual([]);
    expect(signal.reason).toContain('Essential container in task exited: DB_PASSWORD=[redacted]');
    expect(JSON.stringify(signal.raw)).toContain(event.resources[0]);
  });
});
