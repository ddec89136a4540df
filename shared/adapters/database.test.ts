import { describe, expect, it } from 'vitest';
import { isTransientDatabaseError } from './database.ts';

const withCode = (code: string, message = 'x') => Object.assign(new Error(message), { code });

describe('isTransientDatabaseError', () => {
  it.each([
    ['connection refused', withCode('ECONNREFUSED')],
    ['connection failure class 08', withCode('08006')],
    ['admin shutdown', withCode('57P01')],
    ['too many connections', withCode('53300')],
    ['serialization failure', withCode('40001')],
    ['a dropped WebSocket', new Error('WebSocket connection closed')],
    ['a pool timeout', new Error('timeout exceeded when trying to connect')],
    [
      'a WebSocket ErrorEvent (not an Error) from a refused connection',
      { type: 'error', message: 'connect ECONNREFUSED' },
    ],
  ])('retries %s', (_name, error) => {
    expect(isTransientDatabaseError(error)).toBe(true);
  });

  it.each([
    ['a syntax error', withCode('42601', 'syntax error at or near "SELEC"')],
    ['a unique violation', withCode('23505', 'duplicate key value violates unique constraint')],
    [
      'an undefined table even if the message says connection',
      withCode('42P01', 'relation "connection" does not exist'),
    ],
    ['a non-error', 'connection lost'],
  ])('does not retry %s', (_name, error) => {
    expect(isTransientDatabaseError(error)).toBe(false);
  });
});
