import { CfnOutput, Duration, Stack, type StackProps, Tags } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as patterns from 'aws-cdk-lib/aws-ecs-patterns';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import type { Construct } from 'constructs';
import { type ChaosConfig, parseChaosConfig } from '../../shared/config/chaos.ts';
import { chaosOptInTag } from '../../shared/domain/chaos.ts';
import { managedTag } from '../constructs/remediation-agents.ts';
import { NagSuppressions } from '../nag.ts';

/**
 * The app: a tiny HTTP server (no dependencies) whose faults are toggled in SSM.
 * GET /health answers 200; GET / answers 500 under FAULT=error, slowly under
 * FAULT=slow; GET /dependency fetches DEPENDENCY_URL (502 when it fails);
 * FAULT=crash exits at start. ECS reads the parameters when a task starts.
 */
const server = `
const http = require('node:http');
const fault = process.env.FAULT || 'none';
if (fault === 'crash') { console.error('FATAL: FAULT=crash'); process.exit(1); }
http.createServer(async (req, res) => {
  const send = (code, body) => { res.writeHead(code, { 'content-type': 'text/plain' }); res.end(body + '\\n'); };
  if (req.url === '/health') return send(200, 'ok');
  if (req.url === '/dependency') {
    try { const r = await fetch(process.env.DEPENDENCY_URL, { signal: AbortSignal.timeout(2000) }); return send(r.ok ? 200 : 502, 'dependency ' + r.status); }
    catch (e) { console.error('dependency unreachable: ' + e.message); return send(502, 'dependency unreachable'); }
  }
  if (fault === 'error') { console.error('ERROR: FAULT=error'); return send(500, 'error'); }
  if (fault === 'slow') await new Promise((r) => setTimeout(r, 3000));
  send(200, 'hello from the Homeostat sample target');
}).listen(8080, () => console.log('listening on 8080, fault=' + fault));
`;

export interface SampleTargetProps extends StackProps {
  /** @default 'homeostat-sample' */
  readonly clusterName?: string;
}

/**
 * An optional target to try the whole loop in a real account in minutes: a
 * small HTTP service on Fargate (two tasks, public subnets, no NAT) behind an
 * ALB, tagged homeostat:chaos=opt-in and homeostat:managed=true, with fault
 * toggles in SSM. The Homeostat stack watches it and declares three
 * experiments on it (schedules disabled). Deploy with `-c homeostat:sampleTarget=true`.
 */
export class SampleTargetStack extends Stack {
  readonly cluster: ecs.Cluster;
  readonly service: patterns.ApplicationLoadBalancedFargateService;
  readonly faultParameter: ssm.StringParameter;
  readonly dependencyParameter: ssm.StringParameter;
  readonly target: SampleTarget;

  constructor(scope: Construct, id: string, props: SampleTargetProps = {}) {
    super(scope, id, props);
    const vpc = new ec2.Vpc(this, 'Vpc', {
      maxAzs: 2,
      natGateways: 0,
      subnetConfiguration: [{ name: 'public', subnetType: ec2.SubnetType.PUBLIC }],
    });
    const clusterName = props.clusterName ?? 'homeostat-sample';
    this.cluster = new ecs.Cluster(this, 'Cluster', {
      vpc,
      clusterName,
      containerInsightsV2: ecs.ContainerInsights.ENABLED,
    });
    const prefix = `/homeostat-sample/${clusterName}`;
    this.faultParameter = new ssm.StringParameter(this, 'Fault', {
      parameterName: `${prefix}/fault`,
      stringValue: 'none',
      description: 'Homeostat sample: none | error | slow | crash (read when a task starts)',
    });
    this.dependencyParameter = new ssm.StringParameter(this, 'DependencyUrl', {
      parameterName: `${prefix}/dependency-url`,
      stringValue: 'https://checkip.amazonaws.com',
      description:
        'Homeostat sample: the endpoint GET /dependency calls (the break_dependency experiment points it elsewhere)',
    });
    // Named roles: the Homeostat stack may pass exactly these to ECS (increase_memory, bad_deployment)
    // without a cross-stack reference.
    const ecsTasks = new iam.ServicePrincipal('ecs-tasks.amazonaws.com');
    const taskRoleName = `${clusterName}-web-task`;
    const executionRoleName = `${clusterName}-web-execution`;
    const taskRole = new iam.Role(this, 'TaskRole', { roleName: taskRoleName, assumedBy: ecsTasks });
    const executionRole = new iam.Role(this, 'ExecutionRole', {
      roleName: executionRoleName,
      assumedBy: ecsTasks,
    });
    this.service = new patterns.ApplicationLoadBalancedFargateService(this, 'Web', {
      cluster: this.cluster,
      serviceName: 'web',
      desiredCount: 2,
      cpu: 256,
      memoryLimitMiB: 512,
      assignPublicIp: true,
      publicLoadBalancer: true,
      minHealthyPercent: 100,
      // Homeostat, not ECS, rolls a bad deployment back: that is what the game day scores.
      circuitBreaker: { enable: true, rollback: false },
      propagateTags: ecs.PropagatedTagSource.SERVICE,
      taskImageOptions: {
        image: ecs.ContainerImage.fromRegistry('public.ecr.aws/docker/library/node:22-alpine'),
        command: ['node', '-e', server],
        containerPort: 8080,
        taskRole,
        executionRole,
        secrets: {
          FAULT: ecs.Secret.fromSsmParameter(this.faultParameter),
          DEPENDENCY_URL: ecs.Secret.fromSsmParameter(this.dependencyParameter),
        },
      },
    });
    this.service.targetGroup.configureHealthCheck({ path: '/health', interval: Duration.seconds(15) });
    Tags.of(this.service.service).add(chaosOptInTag.key, chaosOptInTag.value);
    Tags.of(this.service.service).add(managedTag.key, managedTag.value);
    // The chaos agent and the act agent may change these parameters only while they are tagged managed.
    for (const p of [this.faultParameter, this.dependencyParameter])
      Tags.of(p).add(managedTag.key, managedTag.value);

    new CfnOutput(this, 'Url', { value: `http://${this.service.loadBalancer.loadBalancerDnsName}` });
    new CfnOutput(this, 'ClusterName', { value: this.cluster.clusterName });
    new CfnOutput(this, 'ServiceName', { value: this.service.service.serviceName });
    new CfnOutput(this, 'FaultParameterName', { value: this.faultParameter.parameterName });

    NagSuppressions.addStackSuppressions(this, [
      { id: 'AwsSolutions-VPC7', reason: 'A throwaway sample: no VPC flow logs.' },
      { id: 'AwsSolutions-ELB2', reason: 'A throwaway sample: no ALB access logs.' },
      {
        id: 'AwsSolutions-EC23',
        reason: 'The sample ALB is meant to be reachable from the internet on port 80.',
      },
      {
        id: 'AwsSolutions-ECS2',
        reason: 'The environment holds no secret: FAULT and DEPENDENCY_URL are toggles.',
      },
    ]);

    // Plain names (not tokens): they go into the chaos configuration as JSON.
    this.target = {
      cluster: clusterName,
      service: 'web',
      targetGroup: {
        targetGroupFullName: this.service.targetGroup.targetGroupFullName,
        loadBalancerFullName: this.service.loadBalancer.loadBalancerFullName,
      },
      dependencyParameterName: `${prefix}/dependency-url`,
      taskRoles: [taskRoleName, executionRoleName],
    };
  }
}

export interface SampleTarget {
  cluster: string;
  service: string;
  targetGroup: { targetGroupFullName: string; loadBalancerFullName: string };
  dependencyParameterName: string;
  /** Names of the service's task and execution roles. */
  taskRoles: string[];
}

/** The sample's experiments: every kind the emulator-free account can run, schedules declared but disabled. */
export function sampleExperiments(t: SampleTarget): ChaosConfig['experiments'] {
  const target = { cluster: t.cluster, service: t.service };
  const weekly = (expression: string) => ({
    expression,
    timezone: 'UTC',
    flexibleWindowMinutes: 15,
    enabled: false,
  });
  return parseChaosConfig({
    experiments: [
      {
        name: 'sample-stop-tasks',
        target,
        fault: { kind: 'stop_tasks', share: 0.5 },
        schedule: weekly('cron(0 10 ? * TUE *)'),
      },
      {
        name: 'sample-bad-deployment',
        target,
        fault: { kind: 'bad_deployment', fault: 'command' },
        schedule: weekly('cron(0 10 ? * WED *)'),
      },
      {
        name: 'sample-dependency-down',
        target,
        fault: { kind: 'break_dependency', parameterName: t.dependencyParameterName },
        schedule: weekly('cron(0 10 ? * THU *)'),
      },
    ],
  }).experiments;
}
