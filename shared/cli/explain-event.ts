import { InvalidEventError } from '../domain/errors.ts';
import { fingerprintOf, symptomKey } from '../domain/fingerprint.ts';
import { type BenignMechanism, benignMechanismText, toSignal } from '../domain/signal.ts';
import { type MissingField, withEnvelopeDefaults } from '../events/envelope-defaults.ts';
import { parseInbound } from '../events/inbound.ts';

export interface Explanation {
  kind: 'fault' | 'recovery' | 'benign' | 'ignored';
  cluster: string | null;
  service: string | null;
  fingerprint: string | null;
  signal: unknown;
  /** Whether the service is in the registry; null when no database was consulted. */
  watched: boolean | null;
  reason?: string;
  /** Envelope fields the event lacked (as AWS documentation examples often do) and what was read instead. */
  missing: MissingField[];
}

export interface CliOutput {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/**
 * How Homeostat reads one raw EventBridge event: the normalised signal, the
 * service (as far as the event says; alarm tags and the registry's alarm
 * prefixes need AWS and the database), the fingerprint and the classification.
 * An event pasted from AWS's documentation may lack envelope fields (`time`,
 * `region`, sometimes `account`, `id`, `version`): they are filled in from the
 * event itself (withEnvelopeDefaults) and listed under `missing`.
 */
export async function explainEvent(
  text: string,
  options: {
    json: boolean;
    isWatched?: (cluster: string, service: string) => Promise<boolean>;
    now?: () => Date;
  },
): Promise<CliOutput> {
  let event: unknown;
  try {
    event = JSON.parse(text);
  } catch (error) {
    return { exitCode: 2, stdout: '', stderr: `not JSON: ${(error as Error).message}\n` };
  }
  const read = await explainParsedEvent(event, options);
  if (!read.ok) return { exitCode: 1, stdout: '', stderr: `invalid event: ${read.error}\n` };
  const { explanation } = read;
  if (options.json) return { exitCode: 0, stdout: `${JSON.stringify(explanation, null, 2)}\n`, stderr: '' };
  const lines = [
    `kind:        ${explanation.kind}${explanation.reason ? ` (${explanation.reason})` : ''}`,
    `service:     ${explanation.cluster ? `${explanation.cluster}/${explanation.service}` : 'not named by the event (alarm tags or registry prefixes may resolve it)'}`,
    `watched:     ${explanation.watched === null ? 'unknown (no database consulted)' : explanation.watched ? 'yes' : 'no — would be counted and ignored'}`,
    `fingerprint: ${explanation.fingerprint ?? '-'}`,
    ...explanation.missing.map(
      (m, i) => `${i === 0 ? 'missing:    ' : '            '} ${m.field} — read as ${m.value} (${m.from})`,
    ),
  ];
  if (explanation.signal) lines.push('signal:', JSON.stringify(explanation.signal, null, 2));
  return { exitCode: 0, stdout: `${lines.join('\n')}\n`, stderr: '' };
}

/** How Homeostat reads one event already parsed from JSON (the CLI and the MCP tool explain_event). */
export async function explainParsedEvent(
  input: unknown,
  options: {
    isWatched?: (cluster: string, service: string) => Promise<boolean>;
    now?: () => Date;
  },
): Promise<{ ok: true; explanation: Explanation } | { ok: false; error: string }> {
  const filled = withEnvelopeDefaults(input, options.now?.() ?? new Date());
  const event = filled.event;
  try {
    const parsed = parseInbound(event);
    if (parsed.status === 'unknown')
      return {
        ok: true,
        explanation: {
          kind: 'ignored',
          cluster: null,
          service: null,
          fingerprint: null,
          signal: null,
          watched: null,
          reason: `Homeostat does not handle ${parsed.source} "${parsed.detailType}"`,
          missing: filled.missing,
        },
      };
    const signal = toSignal(parsed.inbound, event);
    const service = signal.service;
    const mechanism = signal.attributes.benignMechanism as BenignMechanism | undefined;
    return {
      ok: true,
      explanation: {
        kind: signal.classification,
        ...(mechanism ? { reason: benignMechanismText[mechanism] } : {}),
        cluster: service?.cluster ?? null,
        service: service?.service ?? null,
        fingerprint: fingerprintOf(service, symptomKey(signal)),
        signal: { ...signal, occurredAt: signal.occurredAt.toISOString(), raw: undefined },
        watched:
          service && options.isWatched ? await options.isWatched(service.cluster, service.service) : null,
        missing: filled.missing,
      },
    };
  } catch (error) {
    if (error instanceof InvalidEventError) return { ok: false, error: error.message };
    throw error;
  }
}
