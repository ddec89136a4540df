/**
 * Bundle budgets: the most bytes each agent's deployed bundle (the minified ESM
 * `index.mjs` that buildAgent produces with bundling.ts's settings, source map excluded)
 * may have. Recorded in infra/bundle-budgets.json; bundle-budget.test.ts fails the unit
 * tier when a bundle outgrows its budget or an agent has none; `npm run bench` shows them.
 *
 *   npm run bundle:budgets              sizes against budgets
 *   npm run bundle:budgets -- --update [agent…]  records today's sizes + 10% (of the named agents,
 *                                                or all; commit it, saying why they grew)
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runScript } from '../localstack/script.ts';
import { buildAgent } from './build-functions.ts';
import { type AgentName, agentNames, projectRoot } from './bundling.ts';

export const budgetsFile = join(projectRoot, 'infra', 'bundle-budgets.json');

/** Headroom a recorded budget leaves above the size it was recorded at. */
export const budgetHeadroom = 0.1;

/** How to move a budget on purpose (quoted in every failure). */
export const updateBudgetsHint =
  'if the growth is intended, run `npm run bundle:budgets -- --update` (today’s size + 10%) and commit infra/bundle-budgets.json saying why the bundle grew; otherwise find the new import (`npm run bench` lists the largest packages per agent; dist/meta/<agent>.json has the rest, e.g. for https://esbuild.github.io/analyze/)';

export interface BundleBudgets {
  /** What the numbers mean, for a reader of the JSON file. */
  readonly about: string;
  /** Bytes, per agent. */
  readonly budgets: Partial<Record<AgentName, number>>;
}

/** The recorded budgets. Throws when the file is missing or a budget is not a positive whole number of bytes. */
export function readBudgets(file = budgetsFile): BundleBudgets {
  const parsed = JSON.parse(readFileSync(file, 'utf8')) as BundleBudgets;
  for (const [agent, bytes] of Object.entries(parsed.budgets ?? {}))
    if (!Number.isInteger(bytes) || (bytes as number) <= 0)
      throw new Error(`${file}: the budget of ${agent} must be a positive number of bytes, got ${bytes}`);
  return parsed;
}

/** The budget recorded for a bundle of `bytes`: 10% headroom, rounded up to a whole KiB. */
export const budgetFor = (bytes: number): number => Math.ceil((bytes * (1 + budgetHeadroom)) / 1024) * 1024;

const kib = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`;

/**
 * Why `agent`'s bundle of `bytes` breaks its budget (over it, or no budget recorded),
 * or null when it fits. Sizes in bytes.
 */
export function budgetProblem(
  agent: string,
  bytes: number,
  budgets: BundleBudgets['budgets'],
): string | null {
  const budget = budgets[agent as AgentName];
  if (budget === undefined)
    return `${agent}: bundle is ${bytes} bytes (${kib(bytes)}) and has no budget in infra/bundle-budgets.json; ${updateBudgetsHint}`;
  if (bytes <= budget) return null;
  return `${agent}: bundle is ${bytes} bytes (${kib(bytes)}), over its budget of ${budget} bytes (${kib(budget)}) by ${bytes - budget} bytes; ${updateBudgetsHint}`;
}

runScript(import.meta.url, async () => {
  const update = process.argv.includes('--update');
  const named = process.argv.slice(2).filter((a) => a !== '--update');
  const unknown = named.filter((a) => !(agentNames as readonly string[]).includes(a));
  if (unknown.length > 0)
    throw new Error(`unknown agent(s) ${unknown.join(', ')}; agents: ${agentNames.join(', ')}`);
  const updating = (agent: AgentName) => update && (named.length === 0 || named.includes(agent));
  const current = readBudgets();
  const budgets: BundleBudgets['budgets'] = {};
  let over = 0;
  for (const agent of agentNames) {
    const { bytes } = await buildAgent(agent);
    const was = current.budgets[agent];
    budgets[agent] = updating(agent) ? budgetFor(bytes) : was;
    const problem = budgetProblem(agent, bytes, current.budgets);
    if (problem) over += 1;
    process.stdout.write(
      `${agent.padEnd(10)} ${String(bytes).padStart(9)} bytes   budget ${String(was ?? '—').padStart(9)}${updating(agent) ? ` → ${budgets[agent]}` : `   ${problem ? 'OVER' : 'ok'}`}\n`,
    );
  }
  if (update) {
    writeFileSync(budgetsFile, `${JSON.stringify({ about: current.about, budgets }, null, 2)}\n`);
    process.stdout.write(`\nwrote ${budgetsFile}: commit it with the reason the bundles grew\n`);
  } else if (over > 0) {
    process.stdout.write(`\n${over} bundle(s) over budget or without one; ${updateBudgetsHint}\n`);
    return 1;
  }
  return 0;
});
