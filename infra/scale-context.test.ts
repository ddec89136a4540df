import { describe, expect, it } from 'vitest';
import { readSettings } from './lib/settings.ts';
import { scaleContext } from './scale-context.ts';
import { testApp } from './testing.ts';

describe('scale context', () => {
  const context = scaleContext();

  it('passes the settings validation the app applies at synth, as an object and as -c JSON', () => {
    const settings = readSettings(testApp({ ...context }).node);
    expect(settings.watchedServices).toHaveLength(500);
    expect(settings.chaos.experiments).toHaveLength(100);
    const fromCli = readSettings(
      testApp({
        'homeostat:watchedServices': JSON.stringify(context['homeostat:watchedServices']),
        'homeostat:chaos': JSON.stringify(context['homeostat:chaos']),
      }).node,
    );
    expect(fromCli.chaos).toEqual(settings.chaos);
  });

  it('spreads 500 distinct services over 20 clusters, some with ALB, task roles and maintenance tasks', () => {
    const services = context['homeostat:watchedServices'];
    expect(new Set(services.map((s) => s.cluster)).size).toBe(20);
    expect(new Set(services.map((s) => `${s.cluster}/${s.service}`)).size).toBe(500);
    expect(services.filter((s) => s.targetGroup)).toHaveLength(167);
    expect(services.filter((s) => s.taskRoles)).toHaveLength(125);
    expect(services.filter((s) => s.maintenanceTasks)).toHaveLength(100);
  });

  it('has 20 experiments of each fault kind, on watched services, bad deployments only where task roles are declared', () => {
    const services = context['homeostat:watchedServices'];
    const experiments = readSettings(testApp({ ...context }).node).chaos.experiments;
    const kinds = experiments.reduce<Record<string, number>>((acc, e) => {
      acc[e.fault.kind] = (acc[e.fault.kind] ?? 0) + 1;
      return acc;
    }, {});
    expect(kinds).toEqual({
      stop_tasks: 20,
      scale_to: 20,
      bad_deployment: 20,
      break_dependency: 20,
      fis: 20,
    });
    for (const e of experiments) {
      const target = services.find((s) => s.cluster === e.target.cluster && s.service === e.target.service);
      expect(target, e.name).toBeDefined();
      if (e.fault.kind === 'bad_deployment') expect(target?.taskRoles?.length, e.name).toBeGreaterThan(0);
    }
    expect(experiments.filter((e) => e.schedule)).toHaveLength(50);
  });

  it('is deterministic and sized by its options', () => {
    expect(scaleContext()).toEqual(context);
    const small = scaleContext({ services: 7, clusters: 3, experiments: 4 });
    expect(small['homeostat:watchedServices']).toHaveLength(7);
    expect(new Set(small['homeostat:watchedServices'].map((s) => s.cluster)).size).toBe(3);
    expect(small['homeostat:chaos'].experiments).toHaveLength(4);
  });
});
