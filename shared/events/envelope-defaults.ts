import { createHash } from 'node:crypto';

/** The envelope fields a documentation example may leave out. */
export type EnvelopeField = 'version' | 'id' | 'account' | 'time' | 'region';

/** A field the event did not carry, the value read in its place and where it came from. */
export interface MissingField {
  field: EnvelopeField;
  value: string;
  from: string;
}

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const isMissing = (value: unknown) => value === undefined || value === null;

/** Timestamps the detail of AWS events carries, most telling first (alarm state, task stop, update, creation). */
const detailTimes: readonly [string, (detail: Json) => unknown][] = [
  ['detail.state.timestamp', (d) => (isObject(d.state) ? d.state.timestamp : undefined)],
  ['detail.stoppedAt', (d) => d.stoppedAt],
  ['detail.updatedAt', (d) => d.updatedAt],
  ['detail.createdAt', (d) => d.createdAt],
];

/** `arn:partition:service:region:account:resource` → region and account (either may be empty). */
function arnParts(arn: string): { region: string; account: string } | null {
  const parts = arn.split(':');
  if (parts[0] !== 'arn' || parts.length < 6) return null;
  return { region: parts[3] ?? '', account: parts[4] ?? '' };
}

/** The ARNs the event names, with where each was found: its resources, then the detail's own ARN fields. */
function arnsOf(event: Json): [string, string][] {
  const found: [string, string][] = [];
  if (Array.isArray(event.resources))
    event.resources.forEach((r, i) => {
      if (typeof r === 'string') found.push([`resources[${i}]`, r]);
    });
  if (isObject(event.detail))
    for (const [key, value] of Object.entries(event.detail))
      if (typeof value === 'string' && value.startsWith('arn:')) found.push([`detail.${key}`, value]);
  return found;
}

function fromArns(event: Json, part: 'region' | 'account'): { value: string; from: string } | null {
  for (const [from, arn] of arnsOf(event)) {
    const value = arnParts(arn)?.[part];
    if (value) return { value, from };
  }
  return null;
}

function timeOf(event: Json, now: Date): { value: string; from: string } {
  const detail = isObject(event.detail) ? event.detail : {};
  for (const [from, read] of detailTimes) {
    const raw = read(detail);
    const parsed = typeof raw === 'string' ? new Date(raw) : null;
    if (parsed && !Number.isNaN(parsed.getTime())) return { value: parsed.toISOString(), from };
  }
  return { value: now.toISOString(), from: 'the time it was read' };
}

/**
 * The event with its missing envelope fields filled in, and which they were.
 *
 * EventBridge delivers every event with the whole envelope — `version`, `id`,
 * `detail-type`, `source`, `account`, `time`, `region`, `resources`, `detail` (Amazon
 * EventBridge User Guide, "Amazon EventBridge events": AWS service event metadata) — but
 * AWS's documentation often prints snippets without `time` and `region`, some without
 * `account`, `id` or `version` (e.g. the Fargate Spot termination notice in the Amazon ECS
 * Developer Guide). A reader for people (`homeostat explain-event`) fills them in from the
 * event itself where it can — region and account from the ARNs it names, the time from the
 * detail's own timestamps, a content hash as id — and reports each one. Perception does not
 * use this: from the bus, a missing envelope field is a malformed event. Fields that are
 * present are never changed, even when malformed; `source`, `detail-type` and `detail` are
 * never invented. Pure apart from the hash; the input is not modified.
 */
export function withEnvelopeDefaults(event: unknown, now: Date): { event: unknown; missing: MissingField[] } {
  if (!isObject(event)) return { event, missing: [] };
  const missing: MissingField[] = [];
  const fill = (field: EnvelopeField, found: { value: string; from: string }) => {
    if (isMissing(event[field])) missing.push({ field, ...found });
  };
  fill('version', { value: '0', from: 'the EventBridge envelope version' });
  fill('id', {
    value: `undocumented-${createHash('sha256').update(JSON.stringify(event)).digest('hex').slice(0, 16)}`,
    from: 'a hash of the event',
  });
  fill('account', fromArns(event, 'account') ?? { value: 'unknown', from: 'nowhere: no ARN names it' });
  fill('time', timeOf(event, now));
  fill('region', fromArns(event, 'region') ?? { value: 'unknown', from: 'nowhere: no ARN names it' });
  if (missing.length === 0) return { event, missing };
  return { event: { ...event, ...Object.fromEntries(missing.map((m) => [m.field, m.value])) }, missing };
}
