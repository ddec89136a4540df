import { describe, expect, it } from 'vitest';
import { newFaultEvidence } from './rediagnosis.ts';

const alarm = (name: string, classification = 'fault') => ({ kind: 'alarm', name, classification });
const task = (name: string, classification = 'fault') => ({ kind: 'task_stopped', name, classification });

describe('new fault evidence for a live incident', () => {
  it('names a fault of a kind the diagnosis never saw', () => {
    expect(
      newFaultEvidence(
        [alarm('api-latency-high')],
        [alarm('api-latency-high'), task('EssentialContainerExited')],
      ),
    ).toEqual(['task_stopped:EssentialContainerExited']);
  });

  it('ignores repeats of what it saw, recoveries and benign events', () => {
    expect(
      newFaultEvidence(
        [alarm('api-5xx-high')],
        [alarm('api-5xx-high'), alarm('api-5xx-high', 'recovery'), task('SpotInterruption', 'benign')],
      ),
    ).toEqual([]);
  });

  it('names each new symptom once', () => {
    expect(newFaultEvidence([], [alarm('a'), alarm('a'), alarm('b')])).toEqual(['alarm:a', 'alarm:b']);
  });
});
