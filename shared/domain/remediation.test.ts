import { describe, expect, it } from 'vitest';
import { actionCatalog } from './actions.ts';
import {
  alreadyRestored,
  changedSince,
  IrreversibleActionError,
  operationsFor,
  type PreState,
  parametersToSnapshot,
  undoOperations,
} from './remediation.ts';
import { catalogActions } from './taxonomy.ts';

const before: PreState = {
  cluster: 'shop',
  service: 'api',
  desiredCount: 4,
  taskDefinition: 'arn:aws:ecs:us-east-1:1:task-definition/api:7',
  deploymentConfiguration: { minimumHealthyPercent: 100, maximumPercent: 200 },
  parameters: { '/shop/api/payments-mode': 'primary' },
};

describe('remediation operations', () => {
  it.each([
    ['restart_service', {}, [{ op: 'deploy', taskDefinition: null }], []],
    [
      'scale_out',
      { desiredCount: 6 },
      [{ op: 'set_desired_count', desiredCount: 6 }],
      [{ op: 'set_desired_count', desiredCount: 4 }],
    ],
    [
      'scale_in',
      { desiredCount: 3 },
      [{ op: 'set_desired_count', desiredCount: 3 }],
      [{ op: 'set_desired_count', desiredCount: 4 }],
    ],
    [
      'rollback_task_definition',
      { taskDefinition: 'api:6' },
      [{ op: 'deploy', taskDefinition: 'api:6' }],
      [{ op: 'deploy', taskDefinition: before.taskDefinition }],
    ],
    [
      'increase_memory',
      { memoryMiB: 768 },
      [{ op: 'deploy_with_memory', memoryMiB: 768 }],
      [{ op: 'deploy', taskDefinition: before.taskDefinition }],
    ],
    ['stop_task', { taskArn: 't-1' }, [{ op: 'stop_task', taskArn: 't-1' }], []],
    [
      'run_task',
      { taskDefinition: 'api-migrate:3' },
      [{ op: 'run_task', taskDefinition: 'api-migrate:3' }],
      [],
    ],
    [
      'switch_to_fallback',
      { parameterName: '/shop/api/payments-mode', value: 'fallback' },
      [
        { op: 'put_parameter', name: '/shop/api/payments-mode', value: 'fallback' },
        { op: 'deploy', taskDefinition: null },
      ],
      [
        { op: 'put_parameter', name: '/shop/api/payments-mode', value: 'primary' },
        { op: 'deploy', taskDefinition: before.taskDefinition },
      ],
    ],
    ['none', {}, [], []],
    ['escalate', { reason: 'r' }, [], []],
  ] as const)('%s: does and undoes', (action, parameters, does, undoes) => {
    expect(operationsFor(action, parameters)).toEqual(does);
    expect(undoOperations(action, parameters, before)).toEqual(undoes);
  });

  it('refuses to undo what cannot be undone, and what the snapshot lacks', () => {
    expect(() => undoOperations('rotate_secret_and_redeploy', { secretId: 's' }, before)).toThrow(
      IrreversibleActionError,
    );
    expect(() =>
      undoOperations('switch_to_fallback', { parameterName: '/other', value: 'x' }, before),
    ).toThrow(/no value of \/other/);
  });

  it('agrees with the catalog: every action the catalog calls reversible can be undone', () => {
    for (const action of catalogActions) {
      const spec = actionCatalog.get(action);
      const parameters =
        action === 'switch_to_fallback' ? { parameterName: '/shop/api/payments-mode', value: 'x' } : {};
      if (spec?.reversible) expect(() => undoOperations(action, parameters, before)).not.toThrow();
      else expect(() => undoOperations(action, parameters, before)).toThrow(IrreversibleActionError);
    }
  });

  it('snapshots the parameter a fallback switch changes', () => {
    expect(parametersToSnapshot('switch_to_fallback', { parameterName: '/p', value: 'v' })).toEqual(['/p']);
    expect(parametersToSnapshot('restart_service', {})).toEqual([]);
  });
});

describe('undo respects changes made after the action', () => {
  const after: PreState = { ...before, desiredCount: 8 };

  it('finds nothing changed while the action still holds', () => {
    expect(changedSince('scale_out', { desiredCount: 8 }, after, { ...after })).toEqual([]);
    expect(alreadyRestored('scale_out', { desiredCount: 8 }, before, after)).toBe(false);
  });

  it('names the field a person changed after the action (a deploy, a manual scale)', () => {
    // A human deploys revision 9 while Homeostat's rollback to 7 is being verified.
    const rolledBack: PreState = {
      ...before,
      taskDefinition: 'arn:aws:ecs:us-east-1:1:task-definition/api:7',
    };
    const deployed: PreState = {
      ...rolledBack,
      taskDefinition: 'arn:aws:ecs:us-east-1:1:task-definition/api:9',
    };
    expect(
      changedSince('rollback_task_definition', { taskDefinition: 'api:7' }, rolledBack, deployed),
    ).toEqual([
      'task definition is arn:aws:ecs:us-east-1:1:task-definition/api:9, the action left arn:aws:ecs:us-east-1:1:task-definition/api:7',
    ]);
    expect(changedSince('scale_out', { desiredCount: 8 }, after, { ...after, desiredCount: 6 })).toHaveLength(
      1,
    );
    // A fallback switch: the flag flipped back by hand, or a new revision deployed, are both someone else's.
    const flag = '/shop/api/payments-mode';
    const switched: PreState = { ...before, parameters: { [flag]: 'fallback' } };
    expect(
      changedSince('switch_to_fallback', { parameterName: flag, value: 'fallback' }, switched, {
        ...switched,
        parameters: { [flag]: 'primary' },
      }),
    ).toEqual([`parameter ${flag} is primary, the action left fallback`]);
  });

  it('sees an undo that already ran: the pre-state is back on every field the action set', () => {
    expect(alreadyRestored('scale_out', { desiredCount: 8 }, before, { ...after, desiredCount: 4 })).toBe(
      true,
    );
    // Actions with nothing to restore never count as restored.
    expect(alreadyRestored('restart_service', {}, before, before)).toBe(false);
    expect(changedSince('restart_service', {}, before, { ...before, desiredCount: 1 })).toEqual([]);
  });
});
