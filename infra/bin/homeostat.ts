import { App, Aspects } from 'aws-cdk-lib';
import { HomeostatStack } from '../lib/homeostat-stack.ts';
import { readSettings } from '../lib/settings.ts';
import { AwsSolutionsChecks } from '../nag.ts';

const app = new App();
const settings = readSettings(app.node);
// Account and region come from the usual AWS profile/variables; synth works without either.
const account = process.env.CDK_DEFAULT_ACCOUNT;
const region = process.env.CDK_DEFAULT_REGION;
new HomeostatStack(app, app.node.tryGetContext('homeostat:stackName') ?? 'Homeostat', {
  settings,
  env: account && region ? { account, region } : undefined,
  description: 'Homeostat: self-healing operations for Amazon ECS',
});
Aspects.of(app).add(new AwsSolutionsChecks({ verbose: true }));
