/**
 * The scenario format (DESIGN "Scenario format"): one JSON file that replays a
 * real-looking incident against the local stack. Only the runner reads it.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, extname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as z from 'zod';
import { catalogActions, rootCauses } from '../shared/domain/taxonomy.ts';

const taskDefinition = z.object({
  family: z.string().min(1),
  memory: z.number().int().positive().optional(),
  cpu: z.number().int().positive().optional(),
  image: z.string().min(1),
  environment: z.record(z.string(), z.string()).optional(),
  command: z.array(z.string()).optional(),
  /** Volumes mounted into the container: name, container path, and `efs` for an EFS file system. */
  mounts: z
    .array(
      z.object({
        volume: z.string().min(1),
        containerPath: z.string().min(1),
        efs: z.boolean().optional(),
      }),
    )
    .optional(),
});

const offsetSeconds = z.number().min(0).max(3600).optional();

const signal = z.discriminatedUnion('detailType', [
  z.object({
    source: z.literal('aws.cloudwatch').optional(),
    detailType: z.literal('CloudWatch Alarm State Change'),
    alarmName: z.string().min(1),
    state: z.enum(['ALARM', 'OK', 'INSUFFICIENT_DATA']),
    metricName: z.string().optional(),
    offsetSeconds,
  }),
  z.object({
    source: z.literal('aws.ecs').optional(),
    detailType: z.literal('ECS Task State Change'),
    lastStatus: z.string().default('STOPPED'),
    stopCode: z.string().optional(),
    exitCode: z.number().int().nullable().optional(),
    stoppedReason: z.string().optional(),
    offsetSeconds,
  }),
  z.object({
    source: z.literal('aws.ecs').optional(),
    detailType: z.literal('ECS Deployment State Change'),
    eventName: z.string().min(1),
    eventType: z.enum(['INFO', 'WARN', 'ERROR']).optional(),
    reason: z.string().optional(),
    offsetSeconds,
  }),
  z.object({
    source: z.literal('aws.ecs').optional(),
    detailType: z.literal('ECS Service Action'),
    eventName: z.string().min(1),
    eventType: z.enum(['INFO', 'WARN', 'ERROR']).optional(),
    reason: z.string().optional(),
    capacityProvider: z.string().optional(),
    offsetSeconds,
  }),
]);

const response = z.enum(['recovers', 'no_effect', 'worse']);
const expectedAction = z.enum(catalogActions);

export const scenarioSchema = z.object({
  name: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'lowercase letters, digits and hyphens'),
  description: z.string().optional(),
  service: z.object({
    cluster: z.string().min(1),
    service: z.string().min(1),
    desiredCount: z.number().int().min(0).max(100),
    taskDefinitions: z.array(taskDefinition).min(1).max(10),
  }),
  telemetry: z
    .object({
      stoppedTasks: z
        .array(
          z.object({
            stopCode: z.string(),
            exitCode: z.number().int().nullable(),
            stoppedReason: z.string(),
          }),
        )
        .default([]),
      serviceEvents: z.array(z.string()).default([]),
      metrics: z.record(z.string(), z.array(z.number()).min(1).max(120)).default({}),
      logs: z.array(z.string()).default([]),
      deployments: z
        .array(z.object({ taskDefinition: z.string(), startedMinutesAgo: z.number().min(0) }))
        .default([]),
    })
    .default({ stoppedTasks: [], serviceEvents: [], metrics: {}, logs: [], deployments: [] }),
  signals: z.array(signal).default([]),
  responses: z.record(z.string(), response).optional(),
  expect: z.object({
    rootCause: z.enum(rootCauses),
    component: z.string().optional(),
    action: z.union([expectedAction, z.array(expectedAction).min(1)]).optional(),
    /** The finer mechanism (shared/domain/mechanisms.ts); free text for readings the list lacks. */
    mechanism: z.string().optional(),
  }),
  /** Where the case comes from and how to read it; for people, never for the agents. */
  notes: z.string().optional(),
});

export type Scenario = z.infer<typeof scenarioSchema>;

/** The public suite: `localstack/scenarios/`. */
export const publicSuite = join(dirname(fileURLToPath(import.meta.url)), 'scenarios');
export type ScenarioSignal = Scenario['signals'][number];

export class ScenarioFileError extends Error {
  override readonly name = 'ScenarioFileError';
}

export function parseScenario(raw: unknown, file: string): Scenario {
  const parsed = scenarioSchema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
  throw new ScenarioFileError(`${file} is not a valid scenario — ${issues.join('; ')}`);
}

export function loadScenario(file: string): Scenario {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new ScenarioFileError(`cannot read ${file}: ${(error as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new ScenarioFileError(`${file} is not JSON: ${(error as Error).message}`);
  }
  return parseScenario(raw, file);
}

/** Scenario files from paths: a file as given, a directory's *.json in name order. */
export function scenarioFiles(paths: readonly string[]): string[] {
  return paths.flatMap((p) => {
    const full = resolve(p);
    let isDir: boolean;
    try {
      isDir = statSync(full).isDirectory();
    } catch {
      throw new ScenarioFileError(`no such scenario file or directory: ${p}`);
    }
    if (!isDir) return [full];
    return readdirSync(full)
      .filter((f) => extname(f) === '.json')
      .sort()
      .map((f) => join(full, f));
  });
}
