import { Aspects, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { AwsSolutionsChecks } from '../nag.ts';
import { testApp } from '../testing.ts';
import { KnowledgeDatabase } from './knowledge-database.ts';

function synth(props: ConstructorParameters<typeof KnowledgeDatabase>[2]) {
  const app = testApp();
  const stack = new Stack(app, 'Db', { env: { account: '111122223333', region: 'eu-west-1' } });
  new KnowledgeDatabase(stack, 'KnowledgeDatabase', props);
  Aspects.of(app).add(new AwsSolutionsChecks({ verbose: true }));
  app.synth();
  return { stack, template: Template.fromStack(stack) };
}

const migratorVariables = (template: Template) =>
  Object.values(template.findResources('AWS::Lambda::Function')).find((fn) =>
    String(fn.Properties?.Description).startsWith('Applies Homeostat'),
  )?.Properties?.Environment?.Variables as Record<string, unknown>;

describe('KnowledgeDatabase: two connection strings', () => {
  it("gives the migrator the owner's secret when one is configured, and lets it read only that one more", () => {
    const { stack, template } = synth({ ownerDatabaseUrlSecretName: 'homeostat/database-owner-url' });
    expect(migratorVariables(template)).toMatchObject({
      DATABASE_URL_SECRET_ID: 'homeostat/database-url',
      DATABASE_OWNER_URL_SECRET_ID: 'homeostat/database-owner-url',
    });
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Action: ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'],
            Resource: Match.objectLike({
              'Fn::Join': [
                '',
                Match.arrayWith([Match.stringLikeRegexp('secret:homeostat/database-owner-url-\\?{6}')]),
              ],
            }),
          }),
        ]),
      },
    });
    const errors = Annotations.fromStack(stack).findError('*', Match.stringLikeRegexp('AwsSolutions-.*'));
    expect(errors).toEqual([]);
  });

  it("leaves the migrator on the agents' secret when no owner secret is configured", () => {
    const { template } = synth({});
    expect(migratorVariables(template)).toMatchObject({ DATABASE_URL_SECRET_ID: 'homeostat/database-url' });
    expect(migratorVariables(template)).not.toHaveProperty('DATABASE_OWNER_URL_SECRET_ID');
  });
});
