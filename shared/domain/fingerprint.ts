import { createHash } from 'node:crypto';
import type { ServiceRef, Signal } from './signal.ts';

/**
 * Strips what differs between occurrences of the same symptom — ARNs, ids,
 * addresses, timestamps, numbers — so "task 1a2b… OOM at 10:01" and
 * "task 9f8e… OOM at 10:07" fingerprint the same.
 */
export function normalizeReason(reason: string): string {
  return reason
    .replace(/arn:aws[a-z-]*:[^\s)"',]+/gi, '<arn>')
    .replace(/\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/gi, '<id>')
    .replace(/\becs-svc\/\d+/gi, '<deployment>')
    .replace(/\b\d{4}-\d{2}-\d{2}[t ][\d:.]+(z|[+-]\d{2}:?\d{2})?/gi, '<time>')
    .replace(/\(?\b\d{1,2}\/\d{1,2}\/\d{2,4} \d{1,2}:\d{2}(:\d{2})?\)?/g, '<time>')
    .replace(/\b\d{1,3}(\.\d{1,3}){3}(:\d+)?\b/g, '<ip>')
    .replace(/\b(?=[0-9a-f]*\d)[0-9a-f]{8,}\b/gi, '<id>')
    .replace(/\d+(\.\d+)?/g, '#')
    .replace(/\s+/g, ' ')
    .trim()
    .toLowerCase();
}

/** The symptom a signal describes, stable across occurrences. */
export function symptomKey(
  signal: Pick<Signal, 'kind' | 'name' | 'classification' | 'reason' | 'attributes'>,
): string {
  switch (signal.kind) {
    case 'alarm':
    case 'app':
      // The alarm (or app signal) name is the symptom; the reason carries datapoints.
      return `${signal.kind}|${signal.name}|${signal.classification}`;
    case 'task_stopped':
      return `${signal.kind}|${signal.name}|${signal.attributes.exitCode ?? ''}|${normalizeReason(signal.reason)}`;
    default:
      return `${signal.kind}|${signal.name}|${signal.classification}|${normalizeReason(signal.reason)}`;
  }
}

/** A short stable hash of (service, symptom). */
export function fingerprintOf(service: ServiceRef | null, symptom: string): string {
  const scope = service ? `${service.cluster}/${service.service}` : '-';
  return createHash('sha256').update(`${scope}\u0000${symptom}`).digest('hex').slice(0, 20);
}
