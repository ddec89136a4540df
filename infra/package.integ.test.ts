/**
 * The installable package, end to end: `npm run build`, `npm pack`, then a CDK
 * app outside the repository that installs only the tarball, aws-cdk-lib and
 * constructs (no esbuild, no tsx, no TypeScript), writes plain ESM with
 * `new Homeostat(…)` and `new WatchedService(…, { service, homeostat })`, and
 * synths. Needs the npm registry (or npm's cache), not the emulator.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentNames, projectRoot } from './bundling.ts';

interface Resource {
  Type: string;
  Properties?: Record<string, unknown>;
}
interface PackedFile {
  path: string;
  size: number;
}

const manifest = JSON.parse(readFileSync(join(projectRoot, 'package.json'), 'utf8')) as {
  devDependencies: Record<string, string>;
};
const work = mkdtempSync(join(tmpdir(), 'homeostat-package-'));
const app = join(work, 'app');
const installed = join(app, 'node_modules', 'homeostat');
const run = (command: string, args: string[], cwd: string) =>
  execFileSync(command, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 600_000 });

/** The stack the fixture app defines: a Fargate service in its own cluster, Homeostat, and the service watched. */
const fixtureApp = `import { App, Stack } from 'aws-cdk-lib';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import { Homeostat, WatchedService } from 'homeostat';

class ShopStack extends Stack {
  constructor(scope, id, props) {
    super(scope, id, props);
    const cluster = new ecs.Cluster(this, 'Cluster', { clusterName: 'shop' });
    const taskDefinition = new ecs.FargateTaskDefinition(this, 'Task');
    taskDefinition.addContainer('web', { image: ecs.ContainerImage.fromRegistry('public.ecr.aws/nginx/nginx:stable') });
    const service = new ecs.FargateService(this, 'Service', { cluster, taskDefinition, serviceName: 'api' });
    const homeostat = new Homeostat(this, 'Homeostat');
    new WatchedService(this, 'Api', { service, homeostat });
  }
}

const app = new App({ outdir: 'cdk.out', context: { 'homeostat:runbooksDir': 'runbooks' } });
new ShopStack(app, 'Shop');
app.synth();
`;

/** The same app in TypeScript, type-checked against the package's declarations (never run). */
const typedApp = `import { App, Stack } from 'aws-cdk-lib';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import { Homeostat, type HomeostatProps, WatchedService } from 'homeostat';

const stack = new Stack(new App(), 'Shop');
const cluster = new ecs.Cluster(stack, 'Cluster');
const taskDefinition = new ecs.FargateTaskDefinition(stack, 'Task');
const service: ecs.IBaseService = new ecs.FargateService(stack, 'Service', { cluster, taskDefinition });
const props: HomeostatProps = {};
const homeostat = new Homeostat(stack, 'Homeostat', props);
new WatchedService(stack, 'Api', { service, homeostat });
// @ts-expect-error the declarations are typed: a number is no service
new WatchedService(stack, 'Wrong', { service: 42, homeostat });
`;

const userRunbook = 'bad-deployment.md';
let packed: { filename: string; size: number; unpackedSize: number; files: PackedFile[] };
let template: { Resources: Record<string, Resource> };

beforeAll(() => {
  expect(work.startsWith(projectRoot)).toBe(false);
  run('npm', ['run', 'build'], projectRoot);
  const out = run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', work], projectRoot);
  packed = (JSON.parse(out) as (typeof packed)[])[0] as typeof packed;
  process.stderr.write(
    `homeostat tarball: ${(packed.size / 1e6).toFixed(1)} MB packed, ${(packed.unpackedSize / 1e6).toFixed(1)} MB unpacked, ${packed.files.length} files\n`,
  );

  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'shop', private: true, type: 'module' }));
  run(
    'npm',
    [
      'install',
      '--prefer-offline',
      '--no-audit',
      '--no-fund',
      join(work, packed.filename),
      `aws-cdk-lib@${manifest.devDependencies['aws-cdk-lib']}`,
      `constructs@${manifest.devDependencies.constructs}`,
    ],
    app,
  );
}, 900_000);

afterAll(() => rmSync(work, { recursive: true, force: true }));

const resources = (type: string) => Object.entries(template.Resources).filter(([, r]) => r.Type === type);
const mentions = (value: unknown, ...names: string[]) => names.some((n) => JSON.stringify(value).includes(n));

describe('the package', () => {
  it('holds compiled JavaScript, declarations and prebuilt agents; no sources, tests or harness', () => {
    const paths = packed.files.map((f) => f.path);
    expect(paths).toContain('dist/infra/index.js');
    expect(paths).toContain('dist/infra/index.d.ts');
    for (const agent of agentNames) expect(paths).toContain(`dist/assets/${agent}/index.mjs`);
    expect(paths).toContain('dist/assets/migrator/migrations/0001_init.sql');
    expect(paths.some((p) => p.startsWith('dist/assets/migrator/runbooks/'))).toBe(true);
    expect(paths.filter((p) => p.endsWith('.ts') && !p.endsWith('.d.ts'))).toEqual([]);
    expect(paths.filter((p) => /\.test\.|localstack\/|(^|\/)functions\//.test(p))).toEqual([]);
  });

  it('installs without any build tool: no esbuild, tsx, TypeScript or test runner', () => {
    for (const tool of ['esbuild', 'tsx', 'typescript', 'vitest', '@biomejs/biome', 'aws-cdk'])
      expect(existsSync(join(app, 'node_modules', tool)), tool).toBe(false);
  });

  it('resolves every module its compiled JavaScript imports: its own files, and packages from the installed dependencies', () => {
    const script = `
      import { existsSync, readdirSync, readFileSync } from 'node:fs';
      import { dirname, join } from 'node:path';
      const files = (dir) => readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
        e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith('.js') ? [join(dir, e.name)] : []);
      const packages = new Set();
      const missingFiles = [];
      for (const file of [...files('node_modules/homeostat/dist/infra'), ...files('node_modules/homeostat/dist/shared')])
        for (const [, specifier] of readFileSync(file, 'utf8').matchAll(/(?:from |import\\()['"]([^'"]+)['"]/g)) {
          if (specifier.startsWith('.')) {
            if (!existsSync(join(dirname(file), specifier))) missingFiles.push(file + ': ' + specifier);
          } else if (!specifier.startsWith('node:')) packages.add(specifier);
        }
      const missingPackages = [...packages].filter((s) => { try { import.meta.resolve(s); return false; } catch { return true; } });
      console.log(JSON.stringify({ count: packages.size, missingPackages, missingFiles }));`;
    const { count, missingPackages, missingFiles } = JSON.parse(
      run(process.execPath, ['--input-type=module', '-e', script], app),
    );
    expect(count).toBeGreaterThan(10);
    expect(missingPackages).toEqual([]);
    expect(missingFiles).toEqual([]);
  });

  it('runs the homeostat command from the installed package', () => {
    const help = spawnSync(join(app, 'node_modules', '.bin', 'homeostat'), ['--help'], {
      cwd: app,
      encoding: 'utf8',
    });
    expect(help.status, help.stderr).toBe(0);
    // The usage goes to standard error (as for a mistaken command).
    expect(help.stdout + help.stderr).toContain('usage: homeostat <command>');
  });

  it('type-checks an app written against its declarations', () => {
    writeFileSync(join(app, 'check.ts'), typedApp);
    writeFileSync(
      join(app, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          target: 'ES2023',
          strict: true,
          noEmit: true,
          skipLibCheck: true,
          types: [],
        },
        files: ['check.ts'],
      }),
    );
    const tsc = spawnSync(
      process.execPath,
      [join(projectRoot, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', app],
      { cwd: app, encoding: 'utf8' },
    );
    expect(tsc.stdout, tsc.stdout).toBe('');
    expect(tsc.status).toBe(0);
  });
});

describe('an app that installs it synthesizes', () => {
  beforeAll(() => {
    writeFileSync(join(app, 'app.mjs'), fixtureApp);
    // The user's own runbooks (homeostat:runbooksDir), to be shipped next to the prebuilt migrator.
    mkdirSync(join(app, 'runbooks'));
    cpSync(join(projectRoot, 'shared', 'runbooks', userRunbook), join(app, 'runbooks', userRunbook));
    run(process.execPath, ['app.mjs'], app);
    template = JSON.parse(readFileSync(join(app, 'cdk.out', 'Shop.template.json'), 'utf8'));
  }, 300_000);

  const service = () => {
    const found = resources('AWS::ECS::Service');
    expect(found).toHaveLength(1);
    return found[0] as [string, Resource];
  };
  const clusterId = () => (resources('AWS::ECS::Cluster')[0] as [string, Resource])[0];

  it('tags the service homeostat:managed', () => {
    expect(service()[1].Properties?.Tags).toContainEqual({ Key: 'homeostat:managed', Value: 'true' });
  });

  it("creates the service's alarms on its own metrics", () => {
    const [serviceId] = service();
    const onService = resources('AWS::CloudWatch::Alarm').filter(
      ([, r]) =>
        mentions(r.Properties, 'AWS/ECS', 'ECS/ContainerInsights') &&
        mentions(r.Properties, serviceId, '"api"'),
    );
    expect(onService.length).toBeGreaterThanOrEqual(3);
  });

  it('registers the service through a custom resource naming its cluster and service', () => {
    const [serviceId] = service();
    const registrations = Object.values(template.Resources).filter(
      (r) =>
        (r.Type.startsWith('Custom::') || r.Type === 'AWS::CloudFormation::CustomResource') &&
        mentions(r.Properties, serviceId, '"api"') &&
        mentions(r.Properties, clusterId(), '"shop"'),
    );
    expect(registrations).toHaveLength(1);
  });

  it("deploys every agent from the package's prebuilt asset, byte for byte", () => {
    const deployed = new Map<string, string>();
    for (const [id, r] of resources('AWS::Lambda::Function')) {
      const env = (r.Properties?.Environment as { Variables?: Record<string, string> } | undefined)
        ?.Variables;
      const agent = env?.POWERTOOLS_SERVICE_NAME?.replace(/^homeostat-/, '');
      if (!agent || agent === env?.POWERTOOLS_SERVICE_NAME) continue;
      const key = (r.Properties?.Code as { S3Key?: string } | undefined)?.S3Key ?? '';
      const asset = join(app, 'cdk.out', `asset.${key.replace(/\.zip$/, '')}`);
      expect(readFileSync(join(asset, 'index.mjs')), id).toEqual(
        readFileSync(join(installed, 'dist', 'assets', agent, 'index.mjs')),
      );
      expect(r.Properties?.Handler).toBe('index.handler');
      deployed.set(agent, asset);
    }
    // Every agent but the MCP server (off unless context homeostat:mcp is set).
    expect([...deployed.keys()].sort()).toEqual(agentNames.filter((a) => a !== 'mcp').sort());
    const migrator = deployed.get('migrator') ?? '';
    expect(existsSync(join(migrator, 'migrations', '0001_init.sql'))).toBe(true);
    expect(existsSync(join(migrator, 'runbooks', userRunbook))).toBe(true);
    expect(readFileSync(join(migrator, 'user-runbooks', userRunbook), 'utf8')).toBe(
      readFileSync(join(app, 'runbooks', userRunbook), 'utf8'),
    );
  });
});
