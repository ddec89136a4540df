import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildAgent } from './build-functions.ts';
import { budgetFor, budgetProblem, readBudgets, updateBudgetsHint } from './bundle-budget.ts';
import { agentNames } from './bundling.ts';

describe('bundle budgets', () => {
  const { budgets } = readBudgets();

  it('records a budget for every agent and for agents only', () => {
    expect(Object.keys(budgets).sort()).toEqual([...agentNames].sort());
  });

  // Each agent is bundled with the deploy-time settings (esbuild's API, as npm run build does).
  it.each(agentNames)('keeps the %s bundle within its budget', async (agent) => {
    const { bytes } = await buildAgent(agent);
    expect(bytes).toBeGreaterThan(10_000); // a real bundle, not an empty file
    const problem = budgetProblem(agent, bytes, budgets);
    expect(problem, problem ?? '').toBeNull();
  });

  it('says the size, the budget and how to move it when a bundle is over or has none', () => {
    const over = budgetProblem('plan', 900_000, { plan: 823_296 });
    expect(over).toContain('900000 bytes');
    expect(over).toContain('budget of 823296 bytes');
    expect(over).toContain('by 76704 bytes');
    expect(over).toContain(updateBudgetsHint);
    expect(budgetProblem('plan', 823_296, { plan: 823_296 })).toBeNull();
    expect(budgetProblem('plan', 1_000, {})).toMatch(/plan: bundle is 1000 bytes .* has no budget/);
  });

  it('records today’s size plus 10%, rounded up to a KiB', () => {
    expect(budgetFor(748_190)).toBe(823_296);
    expect(budgetFor(1024 / 1.1)).toBe(1024);
    expect(budgetFor(1)).toBe(1024);
  });

  it('refuses a budget that is not a positive number of bytes', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'homeostat-budgets-')), 'budgets.json');
    writeFileSync(file, JSON.stringify({ about: '', budgets: { plan: '800 KB' } }));
    expect(() => readBudgets(file)).toThrow(/budget of plan must be a positive number of bytes, got 800 KB/);
  });
});
