import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseInbound } from '../shared/events/inbound.ts';
import {
  loadScenario,
  parseScenario,
  publicSuite,
  ScenarioFileError,
  scenarioFiles,
} from './scenario-format.ts';
import { judge } from './scenario-score.ts';
import { metricHome, scenarioEvents, worldNames } from './scenario-world.ts';
import { percentile } from './stats.ts';

const base = {
  name: 'oom-after-deploy',
  service: {
    cluster: 'shop',
    service: 'api',
    desiredCount: 3,
    taskDefinitions: [{ family: 'api', memory: 512, image: 'api:1.4' }],
  },
  telemetry: {
    stoppedTasks: [
      { stopCode: 'EssentialContainerExited', exitCode: 137, stoppedReason: 'OutOfMemoryError' },
    ],
    serviceEvents: [
      '(service api) has started 1 tasks: (task 1a2b).',
      '(service api) was unable to place a task because no container instance met all of its requirements.',
    ],
  },
  signals: [
    { detailType: 'CloudWatch Alarm State Change', alarmName: 'memory-high', state: 'ALARM' },
    { detailType: 'CloudWatch Alarm State Change', alarmName: 'memory-high', state: 'OK', offsetSeconds: 60 },
  ],
  expect: { rootCause: 'oom', component: 'api', action: 'rollback_task_definition' },
};

describe('scenario format', () => {
  it('reads every file of the public suite', () => {
    const files = scenarioFiles([publicSuite]);
    expect(files.length).toBeGreaterThanOrEqual(12);
    for (const file of files) expect(() => loadScenario(file)).not.toThrow();
  });

  it('names the file and every problem of an invalid scenario', () => {
    const bad = { ...base, expect: { rootCause: 'gremlins', action: 'reboot' } };
    expect(() => parseScenario(bad, 'x.json')).toThrow(ScenarioFileError);
    expect(() => parseScenario(bad, 'x.json')).toThrow(
      /^x\.json is not a valid scenario — expect\.rootCause: .*expect\.action/,
    );
  });

  it('refuses a path that does not exist and a file that is not JSON', () => {
    expect(() => scenarioFiles(['/nope/missing.json'])).toThrow(/no such scenario file or directory/);
    const dir = mkdtempSync(join(tmpdir(), 'scenario-'));
    writeFileSync(join(dir, 'broken.json'), '{ not json');
    expect(() => loadScenario(join(dir, 'broken.json'))).toThrow(/broken\.json is not JSON/);
  });
});

describe('playing the world', () => {
  const scenario = parseScenario(base, 'base.json');
  const names = worldNames(scenario, 'r1');
  const t0 = new Date('2026-11-20T10:00:00Z');

  it('expands symptoms into AWS events perception understands, in order, at the first signal and its offsets', () => {
    const events = scenarioEvents(scenario, names, t0);
    expect(events.map((e) => e['detail-type'])).toEqual([
      'ECS Task State Change',
      'ECS Service Action',
      'CloudWatch Alarm State Change',
      'CloudWatch Alarm State Change',
    ]);
    for (const event of events) expect(parseInbound(event).status).toBe('known');
    const [task, placement, alarm, ok] = events as Array<{ detail: Record<string, unknown>; time: string }>;
    expect(task?.detail).toMatchObject({ stopCode: 'EssentialContainerExited', group: 'service:api' });
    expect(((task?.detail.containers ?? []) as { exitCode: number; reason: string }[])[0]).toMatchObject({
      exitCode: 137,
      reason: '',
    });
    expect(placement?.detail).toMatchObject({
      eventName: 'SERVICE_TASK_PLACEMENT_FAILURE',
      eventType: 'WARN',
    });
    expect(alarm?.detail).toMatchObject({ alarmName: 'homeostat-shop-r1-api-memory-high' });
    expect(ok?.time).toBe('2026-11-20T10:01:00Z');
  });

  it('keeps each metric where CloudWatch does: ECS, Container Insights, the load balancer, SQS', () => {
    expect(metricHome('MemoryUtilization', names).namespace).toBe('AWS/ECS');
    expect(metricHome('RunningTaskCount', names).namespace).toBe('ECS/ContainerInsights');
    expect(metricHome('TargetResponseTime', names).dimensions.map((d) => d.Name)).toEqual([
      'LoadBalancer',
      'TargetGroup',
    ]);
    expect(metricHome('ApproximateAgeOfOldestMessage', names).namespace).toBe('AWS/SQS');
  });
});

describe('judging a run', () => {
  const fault = parseScenario(base, 'base.json');
  const control = parseScenario({ ...base, expect: { rootCause: 'no_fault', action: 'none' } }, 'c.json');
  const diagnosis = (rootCause: string, confidence: number, component = 'api') => ({
    rootCause,
    component,
    confidence,
    insufficientEvidence: false,
  });

  it.each([
    ['the right cause and component', fault, { detected: true, diagnosis: diagnosis('oom', 0.9) }, true, []],
    [
      'another cause',
      fault,
      { detected: true, diagnosis: diagnosis('crash_loop', 0.7) },
      false,
      ['root cause crash_loop, expected oom'],
    ],
    ['nothing detected', fault, { detected: false, diagnosis: null }, false, ['no incident was opened']],
    [
      'the wrong component',
      fault,
      { detected: true, diagnosis: diagnosis('oom', 0.9, 'db') },
      false,
      ['component db, expected api'],
    ],
    ['a control left alone', control, { detected: false, diagnosis: null }, true, []],
    [
      'a control diagnosed as healthy',
      control,
      { detected: true, diagnosis: diagnosis('no_fault', 0.6) },
      true,
      [],
    ],
    [
      'a control with an unsure guess',
      control,
      { detected: true, diagnosis: diagnosis('oom', 0.4) },
      true,
      [],
    ],
    [
      'a control claimed as a fault',
      control,
      { detected: true, diagnosis: diagnosis('oom', 0.8) },
      false,
      ['claimed oom (0.8) on a healthy service'],
    ],
  ])('%s', (_what, scenario, observed, passed, problems) => {
    const verdict = judge(scenario, observed);
    expect(verdict.passed).toBe(passed);
    expect(verdict.problems).toEqual(problems);
  });

  it('takes percentiles by nearest rank', () => {
    expect(percentile([5, 1, 3, 2, 4], 50)).toBe(3);
    expect(percentile([5, 1, 3, 2, 4], 95)).toBe(5);
    expect(percentile([], 50)).toBeNaN();
  });
});
