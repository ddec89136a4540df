// cdk-nag is CommonJS built by jsii; ESM takes its names from the default export.
import { Stack } from 'aws-cdk-lib';
import cdkNag from 'cdk-nag';
import type { IConstruct } from 'constructs';

export const { NagSuppressions, AwsSolutionsChecks } = cdkNag;

/**
 * The finding AwsSolutions-IAM5 reports for a wildcard resource: `Resource::`
 * and the resource as cdk-nag flattens it (a `Ref` written `<Name>`, a
 * `Fn::GetAtt` `<LogicalId.Attr>`, joins concatenated). Built from the very
 * ARN a statement grants, so a suppression names that finding and no other.
 */
export function wildcardFinding(scope: IConstruct, arn: string): string {
  const flatten = (node: unknown): string => {
    if (typeof node === 'string') return node.replace(/\$\{/g, '<').replace(/\}/g, '>');
    const n = node as Record<string, unknown>;
    if (Array.isArray(n['Fn::Join'])) {
      const [delimiter, items] = n['Fn::Join'] as [string, unknown[]];
      return items.map(flatten).join(delimiter);
    }
    if (Array.isArray(n['Fn::GetAtt'])) {
      const [id, attribute] = n['Fn::GetAtt'] as [unknown, unknown];
      return `<${flatten(id)}.${flatten(attribute)}>`;
    }
    if (n.Ref !== undefined) return `<${flatten(n.Ref)}>`;
    if (n['Fn::Sub'] !== undefined) return flatten(n['Fn::Sub']);
    return JSON.stringify(node);
  };
  return `Resource::${flatten(Stack.of(scope).resolve(arn))}`;
}

/**
 * Suppresses AwsSolutions-IAM5 on `policy` (an iam.Policy, or a role's
 * DefaultPolicy) for exactly these granted resources: `*` must be allowed with
 * a reason that names every action on it; a wildcard ARN with why it cannot be narrower.
 */
export function suppressWildcards(policy: IConstruct, resources: readonly string[], reason: string): void {
  NagSuppressions.addResourceSuppressions(policy, [
    {
      id: 'AwsSolutions-IAM5',
      reason,
      appliesTo: resources.map((r) => (r === '*' ? 'Resource::*' : wildcardFinding(policy, r))),
    },
  ]);
}
