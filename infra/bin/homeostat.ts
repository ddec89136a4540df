import { App, Aspects } from 'aws-cdk-lib';
import { HomeostatStack } from '../lib/homeostat-stack.ts';
import { SampleTargetStack } from '../lib/sample-target-stack.ts';
import { readSettings } from '../lib/settings.ts';
import { AwsSolutionsChecks } from '../nag.ts';

const app = new App();
const settings = readSettings(app.node);
// Account and region come from the usual AWS profile/variables; synth works without either.
const account = process.env.CDK_DEFAULT_ACCOUNT;
const region = process.env.CDK_DEFAULT_REGION;
const env = account && region ? { account, region } : undefined;
// Off by default: a small Fargate service behind an ALB to try the whole loop on (costs money while it runs).
const sample = settings.sampleTarget
  ? new SampleTargetStack(app, 'HomeostatSampleTarget', {
      env,
      description:
        'Homeostat sample target: a small HTTP service on Fargate with fault toggles, opted in to chaos',
    })
  : undefined;
new HomeostatStack(app, app.node.tryGetContext('homeostat:stackName') ?? 'Homeostat', {
  settings,
  env,
  description: 'Homeostat: self-healing operations for Amazon ECS',
  sampleTarget: sample?.target,
});
Aspects.of(app).add(new AwsSolutionsChecks({ verbose: true }));
