/**
 * npm run lint:cfn [-- variant…] — synthesizes the app (infra/bin/homeostat.ts, as cdk.json
 * runs it) for each context variant into a temp dir with asset bundling skipped, then runs
 * the pinned cfn-lint (.venv-cfn-lint, `npm run local:install`) on every template, nested
 * stack templates (*.nested.template.json) included.
 *
 *   default        cdk.json's context only
 *   sample-target  -c homeostat:sampleTarget=true (adds the HomeostatSampleTarget stack)
 *   scale-500      500 watched services over 20 clusters, 100 chaos experiments (infra/scale-context.ts)
 *
 * Exits 1 when a variant does not synthesize or any template has an error (cfn-lint level
 * Error); warnings and informational findings are counted and listed, not fatal.
 */
import { spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { cfnLintPath, ensureCfnLintInstalled } from '../localstack/harness.ts';
import { runScript } from '../localstack/script.ts';
import { projectRoot } from './bundling.ts';
import { scaleContext } from './scale-context.ts';
import { bundlingStacksContext } from './testing.ts';

/** A context the app is synthesized with (on top of cdk.json's). */
export interface LintVariant {
  readonly name: string;
  readonly context: Record<string, unknown>;
}

export const lintVariants: LintVariant[] = [
  { name: 'default', context: {} },
  { name: 'sample-target', context: { 'homeostat:sampleTarget': 'true' } },
  { name: 'scale-500', context: { ...scaleContext({ services: 500, clusters: 20, experiments: 100 }) } },
];

/**
 * Rules not checked, each with the mechanism that makes its finding wrong for these templates.
 * Empty today: every variant that synthesizes is free of errors without ignores, and warnings
 * are reported rather than ignored (W3005: CDK writes DependsOn next to an implied Ref/GetAtt
 * dependency — harmless and outside our code).
 */
export const ignoredRules: Record<string, string> = {};

/** Region the templates are checked against (they are synthesized environment-agnostic). */
const regions = ['us-east-1'];

/** One cfn-lint finding (its `--format json` shape, the fields used here). */
export interface CfnLintFinding {
  Filename: string;
  Level: 'Error' | 'Warning' | 'Informational';
  Message: string;
  Rule: { Id: string };
  Location: { Start: { LineNumber: number }; Path?: (string | number)[] | null };
}

export interface TemplateReport {
  readonly template: string;
  readonly resources: number;
  readonly findings: CfnLintFinding[];
}

export interface VariantReport {
  readonly variant: string;
  readonly seconds: number;
  /** Why the app did not synthesize; the variant then fails whatever cfn-lint says. */
  readonly synthError?: string;
  /**
   * The templates and their findings. After a TooManyResourcesInStack synth error, those of a
   * second synth with CDK's resource check lifted (`@aws-cdk/core:stackResourceLimit` = 0), so
   * every other problem (e.g. E3697, a Lambda environment over 4 KB) shows at once.
   */
  readonly templates: TemplateReport[];
}

/** The context that lifts CDK's 500-resources-per-stack check (0: no check). */
const stackResourceLimitContext = '@aws-cdk/core:stackResourceLimit';

/**
 * Synthesizes the app for `variant` into `outdir` the way the CDK CLI runs an app (CDK_OUTDIR,
 * context through CONTEXT_OVERFLOW_LOCATION_ENV — a file, as the context of 500 services exceeds
 * what one environment variable may hold), with `aws:cdk:bundling-stacks` = [] so no agent is
 * bundled. Returns the template file names, or throws with the app's error output.
 */
export function synthesize(variant: LintVariant, outdir: string): string[] {
  const cdkJson = JSON.parse(readFileSync(join(projectRoot, 'cdk.json'), 'utf8')) as {
    app: string;
    context?: Record<string, unknown>;
  };
  mkdirSync(outdir, { recursive: true });
  const contextFile = `${outdir}.context.json`;
  writeFileSync(
    contextFile,
    JSON.stringify({ ...cdkJson.context, [bundlingStacksContext]: [], ...variant.context }),
  );
  const { CDK_CONTEXT_JSON: _ignored, CDK_DEFAULT_ACCOUNT: _a, CDK_DEFAULT_REGION: _r, ...env } = process.env;
  const run = spawnSync('sh', ['-c', cdkJson.app], {
    cwd: projectRoot,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
    env: {
      ...env,
      PATH: [join(projectRoot, 'node_modules', '.bin'), env.PATH].join(delimiter),
      CDK_OUTDIR: outdir,
      CONTEXT_OVERFLOW_LOCATION_ENV: contextFile,
    },
  });
  if (run.status !== 0) throw new Error(synthError(`${run.stderr}\n${run.stdout}`, run.status));
  return readdirSync(outdir)
    .filter((f) => f.endsWith('.template.json'))
    .sort();
}

/**
 * What a failed synth printed about why: the error (e.g. «TooManyResourcesInStack» …) and the
 * construct it relates to, without node's echo of the minified source line and the stack trace.
 */
function synthError(output: string, status: number | null): string {
  const lines = output
    .split('\n')
    .filter(
      (l) =>
        l.trim() !== '' &&
        l.length < 2_000 && // node's echo of the minified line that threw
        !/^\s*\^+\s*$/.test(l) &&
        !/^\S+\.[cm]?js:\d+$/.test(l) &&
        !/^\s+(at |\.\.\.|\(no user code)/.test(l) &&
        !/^Node\.js v/.test(l),
    )
    .map((l) => (l.length > 600 ? `${l.slice(0, 600)}…` : l));
  return lines.length > 0
    ? lines.slice(0, 12).join('\n')
    : `the app exited with ${status} and printed nothing`;
}

/**
 * Runs cfn-lint on `templates` (paths) and returns its findings, installing the pinned cfn-lint
 * first when it is missing (as `npm run local:install` does). Throws when it cannot be installed
 * or its output is not its JSON report (a crash, a bad option).
 */
export function cfnLint(templates: string[]): CfnLintFinding[] {
  if (!existsSync(cfnLintPath)) ensureCfnLintInstalled((line) => console.error(`• ${line}`));
  const ignores = Object.keys(ignoredRules);
  const run = spawnSync(
    cfnLintPath,
    [
      '--format',
      'json',
      '--regions',
      ...regions,
      ...(ignores.length > 0 ? ['--ignore-checks', ...ignores] : []),
      '--',
      ...templates,
    ],
    { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 },
  );
  try {
    return JSON.parse(run.stdout) as CfnLintFinding[];
  } catch {
    throw new Error(`cfn-lint failed (exit ${run.status}): ${run.stderr || run.stdout}`.slice(0, 4000));
  }
}

/** Synthesizes `variant` under `workDir` and lints its templates. */
export function lintVariant(variant: LintVariant, workDir: string): VariantReport {
  const started = performance.now();
  let outdir = join(workDir, variant.name);
  let templates: string[];
  let synthError: string | undefined;
  try {
    templates = synthesize(variant, outdir);
  } catch (error) {
    synthError = (error as Error).message;
    if (!synthError.includes('TooManyResourcesInStack'))
      return {
        variant: variant.name,
        seconds: (performance.now() - started) / 1000,
        synthError,
        templates: [],
      };
    outdir = join(workDir, `${variant.name}-unlimited`);
    templates = synthesize(
      { name: variant.name, context: { ...variant.context, [stackResourceLimitContext]: 0 } },
      outdir,
    );
  }
  const findings = cfnLint(templates.map((t) => join(outdir, t)));
  return {
    variant: variant.name,
    seconds: (performance.now() - started) / 1000,
    ...(synthError ? { synthError } : {}),
    templates: templates.map((template) => ({
      template,
      resources: Object.keys(
        (JSON.parse(readFileSync(join(outdir, template), 'utf8')) as { Resources?: object }).Resources ?? {},
      ).length,
      findings: findings.filter((f) => f.Filename.endsWith(`/${template}`)),
    })),
  };
}

const count = (findings: CfnLintFinding[], level: CfnLintFinding['Level']) =>
  findings.filter((f) => f.Level === level);

/** Rule ids with their counts, e.g. "W3005 ×2, W1030". */
const byRule = (findings: CfnLintFinding[]) =>
  Object.entries(
    findings.reduce<Record<string, number>>((acc, f) => {
      acc[f.Rule.Id] = (acc[f.Rule.Id] ?? 0) + 1;
      return acc;
    }, {}),
  )
    .map(([id, n]) => (n > 1 ? `${id} ×${n}` : id))
    .join(', ');

/** Prints a report; returns whether it passes (synthesized, no errors). */
export function printReport(report: VariantReport): boolean {
  const head = `${report.variant} (${report.seconds.toFixed(1)} s)`;
  let ok = report.synthError === undefined;
  if (report.synthError) {
    console.log(`✗ ${head}: DOES NOT SYNTHESIZE\n${report.synthError.replace(/^/gm, '    ')}`);
    if (report.templates.length > 0)
      console.log(
        `  cfn-lint on a second synth with CDK's resource check lifted (${stackResourceLimitContext}=0), to show every other problem:`,
      );
  } else console.log(`${head}: ${report.templates.length} template(s)`);
  for (const t of report.templates) {
    const errors = count(t.findings, 'Error');
    const warnings = count(t.findings, 'Warning');
    const infos = count(t.findings, 'Informational');
    if (errors.length > 0) ok = false;
    console.log(
      `  ${errors.length > 0 ? '✗' : '✓'} ${t.template.padEnd(56)} ${String(t.resources).padStart(4)} resources   ${errors.length} errors   ${warnings.length} warnings${warnings.length > 0 ? ` (${byRule(warnings)})` : ''}${infos.length > 0 ? `   ${infos.length} informational (${byRule(infos)})` : ''}`,
    );
    // Every error; one example of each warning rule.
    const examples = [
      ...errors.slice(0, 20),
      ...warnings.filter((w, i) => warnings.findIndex((x) => x.Rule.Id === w.Rule.Id) === i),
    ];
    for (const f of examples)
      console.log(
        `      ${f.Level === 'Error' ? 'E' : 'W'} ${f.Rule.Id} ${(f.Location.Path ?? []).join('/')} (line ${f.Location.Start.LineNumber}): ${f.Message.length > 300 ? `${f.Message.slice(0, 300)}…` : f.Message}`,
      );
    if (errors.length > 20) console.log(`      … and ${errors.length - 20} more errors`);
  }
  return ok;
}

runScript(import.meta.url, async () => {
  const wanted = process.argv.slice(2);
  const unknown = wanted.filter((w) => !lintVariants.some((v) => v.name === w));
  if (unknown.length > 0) {
    console.error(
      `unknown variant(s) ${unknown.join(', ')}; known: ${lintVariants.map((v) => v.name).join(', ')}`,
    );
    return 2;
  }
  const variants = wanted.length > 0 ? lintVariants.filter((v) => wanted.includes(v.name)) : lintVariants;
  const workDir = mkdtempSync(join(tmpdir(), 'homeostat-cfn-lint-'));
  const version = spawnSync(cfnLintPath, ['--version'], { encoding: 'utf8' }).stdout?.trim();
  console.log(
    `${version || 'cfn-lint (not installed)'} on ${variants.map((v) => v.name).join(', ')} — regions ${regions.join(', ')}; ignored rules: ${Object.keys(ignoredRules).join(', ') || 'none'}\n`,
  );
  let failed = 0;
  try {
    for (const variant of variants) if (!printReport(lintVariant(variant, workDir))) failed += 1;
  } finally {
    rmSync(workDir, { recursive: true, force: true });
  }
  console.log(
    failed === 0
      ? `\n✓ ${variants.length} of ${variants.length} variants synthesize without cfn-lint errors`
      : `\n✗ ${failed} of ${variants.length} variants fail (above: the synth error or the cfn-lint errors)`,
  );
  return failed === 0 ? 0 : 1;
});
