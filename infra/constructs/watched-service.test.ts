import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import { describe, expect, it } from 'vitest';
import { inlineWatchedServices, serviceBucket, watchedServiceBuckets } from '../lib/homeostat.ts';
import { HomeostatStack } from '../lib/homeostat-stack.ts';
import { readSettings } from '../lib/settings.ts';
import { testApp } from '../testing.ts';
import { WatchedService } from './watched-service.ts';

/** A Fargate service of "the user's app". */
function serviceStack(scope: App, id = 'Shop') {
  const stack = new Stack(scope, id, { env: { account: '111111111111', region: 'eu-west-1' } });
  const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2, natGateways: 0 });
  const cluster = new ecs.Cluster(stack, 'Cluster', { vpc, clusterName: 'shop' });
  const task = new ecs.FargateTaskDefinition(stack, 'Task');
  task.addContainer('app', { image: ecs.ContainerImage.fromRegistry('public.ecr.aws/nginx/nginx:latest') });
  const service = new ecs.FargateService(stack, 'Api', { cluster, taskDefinition: task, serviceName: 'api' });
  return { stack, service };
}

describe('WatchedService on an ecs.IBaseService', () => {
  it('tags the service homeostat:managed, alarms on it, and registers it with the Homeostat of the same app', () => {
    const a = testApp();
    const env = { account: '111111111111', region: 'eu-west-1' };
    const homeostat = new HomeostatStack(a, 'Homeostat', { settings: readSettings(a.node), env });
    const { stack, service } = serviceStack(a);
    new WatchedService(stack, 'Watched', { service, homeostat, minTasks: 2, maxTasks: 8 });
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::ECS::Service', {
      Tags: Match.arrayWith([{ Key: 'homeostat:managed', Value: 'true' }]),
    });
    template.resourceCountIs('AWS::CloudWatch::Alarm', 3);
    const [registration] = Object.values(template.findResources('Custom::HomeostatWatchedService'));
    expect(registration?.Properties).toMatchObject({ minTasks: 2, maxTasks: 8 });
    // The cluster and service names come from the constructs (resolved by CloudFormation).
    expect(JSON.stringify(registration?.Properties?.service)).toContain('Name');
    // The service token is the Homeostat stack's provider, imported across stacks.
    expect(JSON.stringify(registration?.Properties?.ServiceToken)).toContain('Fn::ImportValue');
    expect(stack.dependencies.map((d) => d.stackName)).toContain('Homeostat');
  });

  it('in another app, finds the registry through the SSM parameter Homeostat publishes', () => {
    const { stack, service } = serviceStack(testApp());
    new WatchedService(stack, 'Watched', { service });
    const template = Template.fromStack(stack);
    const parameters = template.toJSON().Parameters as Record<string, { Type: string; Default: string }>;
    const token = Object.values(parameters).find((p) => p.Type === 'AWS::SSM::Parameter::Value<String>');
    expect(token?.Default).toBe('/homeostat/homeostat/service-registry');
    const withOwnBus = serviceStack(testApp(), 'Other');
    new WatchedService(withOwnBus.stack, 'Watched', {
      service: withOwnBus.service,
      registryParameterName: '/homeostat/payments/service-registry',
    });
    expect(JSON.stringify(Template.fromStack(withOwnBus.stack).toJSON().Parameters)).toContain(
      '/homeostat/payments/service-registry',
    );
  });

  it('refuses at synth what the registry would refuse at deploy time, naming the construct', () => {
    const { stack, service } = serviceStack(testApp());
    expect(() => new WatchedService(stack, 'Watched', { service, minTasks: 5, maxTasks: 2 })).toThrow(
      /Shop\/Watched: maxTasks: maxTasks must be at least minTasks/,
    );
  });
});

describe('context services at platform scale', () => {
  const declared = (n: number) =>
    Array.from({ length: n }, (_, i) => ({
      cluster: `c${i % 20}`,
      service: `svc${i}`,
      targetGroup: { targetGroupFullName: `targetgroup/t${i}/1`, loadBalancerFullName: `app/lb${i % 20}/2` },
    }));

  const synthesize = (services: ReturnType<typeof declared>) => {
    const a = testApp({ 'homeostat:watchedServices': services });
    const stack = new HomeostatStack(a, 'Homeostat', { settings: readSettings(a.node) });
    const assembly = a.synth();
    const templates = assembly.stacks
      .flatMap((s) => [s.template, ...nestedTemplates(assembly.directory, s.template)])
      .map((t) => t as { Resources: Record<string, { Type: string }> });
    return { stack, templates };
  };

  it(`keeps up to ${inlineWatchedServices} in the stack itself, where they always were`, () => {
    const { stack, templates } = synthesize(declared(inlineWatchedServices));
    expect(templates).toHaveLength(1);
    expect(stack.watched[0]?.node.path).toBe('Homeostat/Default/Watched-c0-svc0');
  });

  it('spreads 500 over hash-chosen nested stacks: none near 500 resources, one registration at a time in each', () => {
    const { stack, templates } = synthesize(declared(500));
    expect(templates.length).toBeLessThanOrEqual(1 + watchedServiceBuckets);
    for (const t of templates) expect(Object.keys(t.Resources).length).toBeLessThan(450);
    const registrations = templates.flatMap((t) =>
      Object.values(t.Resources).filter((r) => r.Type === 'Custom::HomeostatWatchedService'),
    );
    expect(registrations).toHaveLength(500);
    for (const t of templates) {
      const ids = Object.entries(t.Resources)
        .filter(([, r]) => r.Type === 'Custom::HomeostatWatchedService')
        .map(([id]) => id);
      const waiting = ids.filter((id) =>
        ((t.Resources[id] as { DependsOn?: string[] }).DependsOn ?? []).some((d) => ids.includes(d)),
      );
      expect(waiting).toHaveLength(Math.max(0, ids.length - 1));
    }
    // Each lives in the bucket its name hashes to.
    const svc7 = stack.watched.find((w) => w.registration.service === 'svc7');
    expect(svc7?.node.path).toBe(
      `Homeostat/Default/WatchedServices${serviceBucket('c7', 'svc7')}/Watched-c7-svc7`,
    );
  });

  it('never moves a service when another is added or removed (a moved alarm would be recreated)', () => {
    const paths = (services: ReturnType<typeof declared>) =>
      new Map(synthesize(services).stack.watched.map((w) => [w.registration.service, w.node.path]));
    const all = declared(120);
    const before = paths(all);
    const after = paths(all.filter((s) => s.service !== 'svc3'));
    for (const [service, path] of after) expect(path, service).toBe(before.get(service));
  });

  it('keeps every function’s environment under Lambda’s 4 KB with 500 services', () => {
    const a = testApp({ 'homeostat:watchedServices': declared(500) });
    const template = Template.fromStack(
      new HomeostatStack(a, 'Homeostat', { settings: readSettings(a.node) }),
    );
    for (const [id, fn] of Object.entries(template.findResources('AWS::Lambda::Function'))) {
      const variables = (fn.Properties?.Environment?.Variables ?? {}) as Record<string, unknown>;
      const bytes = Object.entries(variables).reduce(
        (sum, [k, v]) => sum + Buffer.byteLength(k) + Buffer.byteLength(JSON.stringify(v)),
        0,
      );
      expect(bytes, id).toBeLessThan(4096);
    }
  });
});

/** Nested stack templates the assembly wrote next to their parent. */
function nestedTemplates(dir: string, template: unknown): unknown[] {
  const resources = (template as { Resources: Record<string, { Type: string }> }).Resources;
  const nested = Object.values(resources).filter((r) => r.Type === 'AWS::CloudFormation::Stack');
  const files = readdirSync(dir).filter((f) => f.endsWith('.nested.template.json'));
  expect(files).toHaveLength(nested.length);
  return files.map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')));
}

describe('roles and maintenance tasks', () => {
  it('are refused outside context, where the act agent’s IAM cannot grant them', () => {
    const { stack, service } = serviceStack(testApp());
    expect(
      () =>
        new WatchedService(stack, 'Watched', { service, taskRoles: ['arn:aws:iam::111111111111:role/api'] }),
    ).toThrow(
      /taskRoles and maintenanceTasks are granted at synth from context homeostat:watchedServices only/,
    );
    expect(() => new WatchedService(stack, 'Other', { service, maintenanceTasks: ['api-migrate'] })).toThrow(
      /declare the service there/,
    );
  });
});
