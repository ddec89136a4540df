import { randomUUID } from 'node:crypto';
import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureChromium } from '../../localstack/harness.ts';
import {
  emulatorEndpoint,
  startMigratedDatabase,
  type TestDatabase,
  uniqueName,
} from '../../localstack/testing.ts';
import { PostgresChaosStore } from '../adapters/chaos-store.ts';
import { PostgresPerceptionStore } from '../adapters/perception-store.ts';
import { runHomeostat } from '../testing/cli-process.ts';
import { watched } from '../testing/fakes.ts';
import { seedIncident } from '../testing/incidents.ts';

/**
 * The operator CLI as a process: PGlite through the Neon driver (DATABASE_URL +
 * DATABASE_WS_PROXY), the emulator's SSM for the kill switch and CloudFormation
 * for a stack that does not exist; the HTML report rendered in headless Chromium.
 */
describe('homeostat operator commands (process)', () => {
  let database: TestDatabase;
  const cluster = uniqueName('cli');
  const killSwitch = `/homeostat-test/${cluster}/kill-switch`;
  const dir = mkdtempSync(join(tmpdir(), 'homeostat-cli-'));
  let resolvedId: string;
  let openId: string;

  const cli = async (args: string[], env: Record<string, string | undefined> = {}) => {
    const base: Record<string, string | undefined> = {
      ...process.env,
      AWS_ENDPOINT_URL: emulatorEndpoint(),
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
      DATABASE_URL: database.db.url,
      DATABASE_WS_PROXY: database.db.wsProxy,
      HOMEOSTAT_KILL_SWITCH_PARAMETER: killSwitch,
      USER: 'alice',
      ...env,
    };
    for (const [k, v] of Object.entries(env)) if (v === undefined) delete base[k];
    return runHomeostat(args, base);
  };

  beforeAll(async () => {
    database = await startMigratedDatabase();
    await new PostgresPerceptionStore(database.pool, {}, 0).registerService({
      ...watched(cluster, 'api'),
      autonomy: { default: 'approve' },
    });
    const day = 86_400_000;
    resolvedId = await seedIncident(database.pool, {
      cluster,
      service: 'api',
      state: 'resolved',
      title: 'api-memory <b>high</b>',
      openedAt: new Date(Date.now() - 2 * day),
      closedAfterMs: 95_000,
      rootCause: 'oom',
      tokens: { input: 800, output: 200 },
      costUsd: 0.006,
      steps: [
        { action: 'scale_out', status: 'worse', undone: true },
        { action: 'rollback_task_definition', status: 'resolved' },
      ],
    });
    await database.pool.query(
      `INSERT INTO incident_timeline (incident_id, at, kind, detail) VALUES ($1, now() - interval '2 days', 'signal', '{"name":"api-memory-high"}'),
              ($1, now() - interval '2 days' + interval '1 minute', 'verify:undone', '{"action":"scale_out","outcome":"worse"}')`,
      [resolvedId],
    );
    openId = await seedIncident(database.pool, {
      cluster,
      service: 'api',
      state: 'awaiting_approval',
      openedAt: new Date(Date.now() - 60_000),
      rootCause: 'crash_loop',
      steps: [{ action: 'restart_service', mode: 'approve', status: 'awaiting_approval' }],
    });
    // A game day: an injected, reverted, scored experiment, and a refused one.
    const chaos = new PostgresChaosStore(database.pool);
    const run = (name: string) => ({
      id: randomUUID(),
      experiment: name,
      kind: 'bad_deployment' as const,
      target: { cluster, service: 'api' },
      requestedBy: 'schedule:weekly',
      idempotencyKey: randomUUID(),
      injection: { kind: 'bad_deployment' as const, fault: 'command' as const, variable: 'X', value: 'y' },
      expectedRootCauses: ['bad_deployment'],
      durationMinutes: 15,
    });
    const reserved = (await chaos.reserve(run('weekly-bad-release'), 1)).run;
    await chaos.markInjected(reserved, { desiredCount: 3, taskDefinition: 'api:1' }, new Date(), new Date(), [
      'deployed api:2',
    ]);
    await chaos.markReverted(reserved, false, ['already running api:1'], new Date());
    await chaos.saveScore(reserved.id, {
      incidentId: null,
      detected: true,
      timeToDetectMs: 21_000,
      diagnosedRootCause: 'bad_deployment',
      diagnosisCorrect: true,
      mitigated: true,
      timeToMitigateMs: 64_000,
      undoUsed: false,
      revertNeeded: false,
      score: 100,
      final: true,
    });
    await chaos.record(run('friday-chaos'), {
      state: 'refused',
      guard: 'window',
      reason: 'outside the allowed chaos windows',
    });
    await database.pool.query(
      `INSERT INTO autonomy_recommendations (cluster, service, action, from_level, to_level, evidence, steps)
       VALUES ($1, 'api', 'restart_service', 'approve', 'auto', 5, ARRAY['a:1','b:1','c:1','d:1','e:1'])`,
      [cluster],
    );
  });
  afterAll(async () => database?.stop());

  it('lists incidents as a table, only the open ones with --open, and as JSON', async () => {
    const all = await cli(['incidents']);
    expect(all.code).toBe(0);
    expect(all.stdout).toMatch(/^ID\s+SERVICE\s+STATE/);
    expect(all.stdout).toContain(resolvedId.slice(0, 8));
    const open = await cli(['incidents', '--open']);
    expect(open.stdout).toContain(openId.slice(0, 8));
    expect(open.stdout).not.toContain(resolvedId.slice(0, 8));
    const json = JSON.parse((await cli(['incidents', '--json', '--since', '7d'])).stdout);
    expect(json.map((i: { id: string }) => i.id)).toEqual(expect.arrayContaining([resolvedId, openId]));
    expect((await cli(['incidents', '--since', 'lately'])).code).toBe(2);
  });

  it('shows one incident by a short id: its story and timeline', async () => {
    const out = await cli(['show', resolvedId.slice(0, 8)]);
    expect(out.code).toBe(0);
    expect(out.stdout).toContain('What broke: oom');
    expect(out.stdout).toContain('1. ran scale_out: made it worse, undone');
    expect(out.stdout).toContain('Timeline (UTC):');
    expect(out.stdout).toMatch(/verify:undone\s+action=scale_out outcome=worse/);
    const missing = await cli(['show', 'ffffffff']);
    expect(missing).toMatchObject({ code: 1, stderr: 'no incident ffffffff\n' });
  });

  it('pulls the kill switch, reports it, and audits who did', async () => {
    expect((await cli(['kill-switch', 'on'])).stdout).toContain('kill switch ENGAGED');
    expect(JSON.parse((await cli(['kill-switch', 'status', '--json'])).stdout)).toMatchObject({
      engaged: true,
      value: 'on',
      parameter: killSwitch,
    });
    expect((await cli(['kill-switch', 'off'])).stdout).toContain('kill switch off');
    const { rows } = await database.pool.query(
      `SELECT actor, result FROM audit_log WHERE action = 'kill_switch.set' AND inputs->>'parameter' = $1 ORDER BY id`,
      [killSwitch],
    );
    expect(rows).toEqual([
      { actor: 'human:alice', result: 'engaged' },
      { actor: 'human:alice', result: 'released' },
    ]);
    expect((await cli(['kill-switch', 'sideways'])).code).toBe(2);
  });

  it('lists autonomy recommendations and applies a promotion as a human decision in the audit log', async () => {
    const recs = await cli(['autonomy', 'recommendations']);
    expect(recs.stdout).toMatch(
      new RegExp(`${cluster}/api\\s+restart_service\\s+approve\\s+auto\\s+5 right in a row`),
    );
    const set = await cli(['autonomy', 'set', `${cluster}/api`, 'restart_service', 'auto']);
    expect(set).toMatchObject({ code: 0, stderr: '' });
    expect(set.stdout).toContain('1 recommendation(s) closed');
    const got = JSON.parse((await cli(['autonomy', 'get', `${cluster}/api`, '--json'])).stdout);
    expect(got).toMatchObject({
      default: 'approve',
      perAction: { restart_service: 'auto' },
      openRecommendations: [],
    });
    const { rows } = await database.pool.query(
      `SELECT actor, result FROM audit_log WHERE action = 'autonomy.set' AND inputs->'service'->>'cluster' = $1`,
      [cluster],
    );
    expect(rows).toEqual([{ actor: 'human:alice', result: 'auto' }]);
    const decided = await database.pool.query(
      'SELECT decision, decided_by FROM autonomy_recommendations WHERE cluster = $1',
      [cluster],
    );
    expect(decided.rows).toEqual([{ decision: 'promoted', decided_by: 'human:alice' }]);
    expect((await cli(['autonomy', 'set', `${cluster}/api`, 'reboot_everything', 'auto'])).code).toBe(2);
    expect((await cli(['autonomy', 'set', `${cluster}/api`, 'scale_out', 'yolo'])).code).toBe(2);
    const unknown = await cli(['autonomy', 'get', `${cluster}/nope`]);
    expect(unknown).toMatchObject({ code: 1 });
    expect(unknown.stderr).toContain('is not a watched service');
  });

  it('lists chaos runs with their game-day scores and refusals, as a table and as JSON', async () => {
    const out = await cli(['chaos', 'list']);
    expect(out.code).toBe(0);
    expect(out.stdout).toContain(
      'game days: 2 runs, 1 injected, 1 refused; mean score 100/100, detected 100%',
    );
    expect(out.stdout).toMatch(
      /weekly-bad-release\s+\S+\s+reverted\s+100\s+yes\s+bad_deployment \(right\)\s+yes\s+21 s\s+1 min 4 s\s+no/,
    );
    expect(out.stdout).toMatch(/friday-chaos .*refused .*window: outside the allowed chaos windows/);
    const json = JSON.parse((await cli(['chaos', 'list', '--json'])).stdout);
    expect(json.summary).toMatchObject({ runs: 2, scored: 1, meanScore: 100, refused: 1 });
    expect(await cli(['chaos', 'explode'])).toMatchObject({ code: 2 });
    expect(await cli(['chaos', 'run'])).toMatchObject({ code: 2 });
  });

  it('asks the stack’s chaos agent to run an experiment, and says so when the stack does not exist', async () => {
    const out = await cli(['chaos', 'run', 'weekly-bad-release', '--stack', 'NoSuchStack']);
    expect(out.code).toBe(1);
    expect(out.stderr).toContain('Stack NoSuchStack not found in us-east-1: deploy it or pass --stack NAME');
  });

  it('says the stack does not exist when it has to find the database there, and exits 1', async () => {
    const out = await cli(['incidents', '--stack', 'NoSuchStack'], {
      DATABASE_URL: undefined,
      DATABASE_URL_SECRET_ID: undefined,
    });
    expect(out.code).toBe(1);
    expect(out.stderr).toContain('Stack NoSuchStack not found in us-east-1: deploy it or pass --stack NAME');
  });

  it('writes a self-contained HTML report that renders in headless Chromium with its charts', async () => {
    // On a fresh machine (root, apt reachable) this installs Debian's chromium, as local:install does.
    const executablePath = ensureChromium({ log: (line) => process.stderr.write(`[report test] ${line}\n`) });
    const html = join(dir, `report-${randomUUID()}.html`);
    const out = await cli(['report', '--since', '7d', '--html', html]);
    expect(out.code).toBe(0);
    expect(out.stderr).toContain(`wrote ${html}`);
    expect(out.stdout).toMatch(/rollback_task_definition\s+1\s+1\s+100%/);
    expect(out.stdout).toContain('game days: 2 runs');
    const browser = await chromium.launch({ executablePath, args: ['--no-sandbox'] });
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      const requests: string[] = [];
      page.on('request', (r) => requests.push(r.url()));
      await page.goto(`file://${html}`);
      expect(await page.title()).toMatch(/^Homeostat report/);
      for (const id of ['incidents-per-day', 'time-to-resolve', 'success-per-action', 'cost-per-day']) {
        expect(await page.locator(`#${id} svg`).count()).toBe(1);
      }
      expect(await page.locator('#incidents-per-day rect.bar').count()).toBeGreaterThan(0);
      expect(await page.locator('#success-per-action rect.bar').count()).toBe(2);
      expect(await page.locator('#incidents tr.incident').count()).toBeGreaterThanOrEqual(2);
      expect(await page.locator('#gamedays tr.gameday').count()).toBe(2);
      // The title quoted markup: shown as text, never rendered as HTML.
      expect(await page.locator('#incidents b:text("high")').count()).toBe(0);
      await page.locator('#incidents details').first().click();
      expect(await page.locator('#incidents details[open] li').count()).toBeGreaterThan(0);
      // Self-contained: nothing but the page itself was requested.
      expect(requests.filter((u) => !u.startsWith('file://'))).toEqual([]);
      const shot = join(dir, 'report.png');
      await page.screenshot({ path: shot, fullPage: true });
      expect(statSync(shot).size).toBeGreaterThan(10_000);
    } finally {
      await browser.close();
    }
  }, 600_000); // installing the browser on first use takes a minute or two
});
