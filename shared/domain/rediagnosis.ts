/**
 * Re-diagnosis: when a live incident receives fault evidence of a kind its
 * diagnosis never saw (an ECS task failure after a latency alarm, say), the
 * next step is not planned from the old answer; the incident is diagnosed
 * again first. Pure.
 */

/** A signal as the diagnosis saw it, or as it arrived since. */
export interface SignalSeen {
  kind: string;
  name: string;
  classification: string;
}

const key = (s: SignalSeen) => `${s.kind}:${s.name}`;

/**
 * Fault signals that arrived since the diagnosis whose kind and name it did
 * not see, as `kind:name` (each once, in arrival order). Repeats of a symptom
 * it saw, recoveries and benign events are not new evidence.
 */
export function newFaultEvidence(seen: readonly SignalSeen[], arrived: readonly SignalSeen[]): string[] {
  const known = new Set(seen.map(key));
  return [...new Set(arrived.filter((s) => s.classification === 'fault').map(key))].filter(
    (k) => !known.has(k),
  );
}
