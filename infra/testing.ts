/**
 * The CDK app every assertion test synthesizes in. It skips asset bundling:
 * `aws:cdk:bundling-stacks` = [] makes NodejsFunction stage its source folder
 * instead of running esbuild for each agent (the CLI sets the same context to
 * [] for commands that need no assets, such as `cdk ls`). Templates are the
 * same apart from asset hashes. Real bundling stays covered by `npm run synth`
 * and the e2e deployment (cdklocal deploy), and bundle sizes by bundle-budget.test.ts.
 */
import { App } from 'aws-cdk-lib';

/** The context key NodejsFunction consults before bundling (cxapi.BUNDLING_STACKS). */
export const bundlingStacksContext = 'aws:cdk:bundling-stacks';

/**
 * A CDK App for tests: `context` as `-c` or cdk.json would give it (values may be
 * objects or JSON strings), with bundling skipped for every stack.
 */
export function testApp(context: Record<string, unknown> = {}): App {
  return new App({ context: { [bundlingStacksContext]: [], ...context } });
}
