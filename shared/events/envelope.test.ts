import { describe, expect, it } from 'vitest';
import { buildEnvelope, deterministicEventId, envelopeSchema } from './envelope.ts';

describe('deterministicEventId', () => {
  it('is stable for the same type and cause, so a redelivery yields the same id', () => {
    expect(deterministicEventId('signal.received', 'evt-1')).toBe(
      deterministicEventId('signal.received', 'evt-1'),
    );
  });

  it('differs across causes and across types', () => {
    const ids = new Set([
      deterministicEventId('signal.received', 'evt-1'),
      deterministicEventId('signal.received', 'evt-2'),
      deterministicEventId('incident.opened', 'evt-1'),
    ]);
    expect(ids.size).toBe(3);
  });

  it('is shaped like a version-5 UUID', () => {
    expect(deterministicEventId('t', 'c')).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
  });
});

describe('buildEnvelope', () => {
  it('fills the DESIGN envelope and passes its schema', () => {
    const envelope = buildEnvelope({
      type: 'signal.received',
      source: 'homeostat.perceive',
      time: new Date('2026-11-20T10:00:00Z'),
      causationId: 'evt-1',
      data: { x: 1 },
    });
    expect(envelope).toEqual({
      id: deterministicEventId('signal.received', 'evt-1'),
      type: 'signal.received',
      source: 'homeostat.perceive',
      time: '2026-11-20T10:00:00.000Z',
      incidentId: null,
      correlationId: 'evt-1',
      causationId: 'evt-1',
      data: { x: 1 },
    });
    expect(envelopeSchema.safeParse(envelope).success).toBe(true);
  });

  it('rejects a source outside homeostat.<agent>', () => {
    const envelope = buildEnvelope({
      type: 't',
      source: 'aws.ecs',
      time: new Date(),
      causationId: 'c',
      data: null,
    });
    const parsed = envelopeSchema.safeParse(envelope);
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues[0]?.message).toBe('source must be homeostat.<agent>');
  });
});
