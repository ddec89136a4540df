/**
 * Where the deploy writes Homeostat's settings in SSM Parameter Store, one place for the
 * names the stack creates and the agents read. Every parameter is a String (standard tier,
 * at most 4 KB) holding JSON validated by the zod schema in shared/config/ at synth and again
 * when an agent reads it. The deploy owns them: a change is made in CDK context and deployed;
 * an edited parameter is overwritten by the next deploy.
 *
 *   /homeostat/<busName>/chaos/settings              guardrails and revert retries
 *   /homeostat/<busName>/chaos/experiments/<name>    one per chaos experiment
 *   /homeostat/<busName>/settings/remediation        remediation settings (plan, act, verify, learn)
 *   /homeostat/<busName>/settings/learning           learning settings (learn, notify)
 */

/** How long an agent reuses settings it has read, in seconds: a deploy's new values reach warm functions within this. */
export const settingsMaxAgeSeconds = 60;

/** The path holding the chaos settings and experiments (no trailing slash). */
export const chaosParametersPath = (busName: string) => `/homeostat/${busName}/chaos`;

/** The chaos settings parameter's name relative to chaosParametersPath. */
export const chaosSettingsKey = 'settings';

/** An experiment parameter's name relative to chaosParametersPath. */
export const experimentKey = (name: string) => `experiments/${name}`;

/** The parameter holding the remediation or learning settings. */
export const settingsParameterName = (busName: string, kind: 'remediation' | 'learning') =>
  `/homeostat/${busName}/settings/${kind}`;
