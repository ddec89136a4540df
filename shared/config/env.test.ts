import { describe, expect, it } from 'vitest';
import * as z from 'zod/mini';
import { ConfigurationError } from '../domain/errors.ts';
import { parseChaosSettings } from './chaos.ts';
import { envWithDatabase, jsonSettingFromEnv, loadEnv } from './env.ts';

const schema = envWithDatabase({ HOMEOSTAT_BUS_NAME: z.string().check(z.minLength(1)) });

describe('loadEnv', () => {
  it('accepts a local URL or a secret id', () => {
    expect(loadEnv(schema, { DATABASE_URL: 'postgres://x', HOMEOSTAT_BUS_NAME: 'b' }).DATABASE_URL).toBe(
      'postgres://x',
    );
    expect(
      loadEnv(schema, { DATABASE_URL_SECRET_ID: 's', HOMEOSTAT_BUS_NAME: 'b' }).DATABASE_URL_SECRET_ID,
    ).toBe('s');
  });

  it('names every missing variable in one ConfigurationError', () => {
    expect(() => loadEnv(schema, {})).toThrow(ConfigurationError);
    expect(() => loadEnv(schema, {})).toThrow(/HOMEOSTAT_BUS_NAME/);
    expect(() => loadEnv(schema, { HOMEOSTAT_BUS_NAME: 'b' })).toThrow(
      /DATABASE_URL: set DATABASE_URL \(local\) or DATABASE_URL_SECRET_ID/,
    );
  });

  it('rejects a URL that is not postgres', () => {
    expect(() => loadEnv(schema, { DATABASE_URL: 'mysql://x', HOMEOSTAT_BUS_NAME: 'b' })).toThrow(
      /DATABASE_URL/,
    );
  });
});

describe('JSON settings from the environment', () => {
  it('parses them, takes empty for {}, and names the variable when the JSON is broken', () => {
    const chaos = (json: string) =>
      jsonSettingFromEnv('HOMEOSTAT_X', json, (value) => parseChaosSettings(value, 'HOMEOSTAT_X'));
    expect(chaos('').guardrails.maxConcurrent).toBe(1);
    expect(chaos('{"guardrails":{"maxConcurrent":2}}').guardrails.maxConcurrent).toBe(2);
    expect(() => chaos('{oops')).toThrow(new ConfigurationError('HOMEOSTAT_X must be a JSON object'));
    expect(() => chaos('[1')).toThrow(/HOMEOSTAT_X must be a JSON object/);
    expect(() => chaos('{"guardrails":{"maxConcurrent":0}}')).toThrow(/HOMEOSTAT_X: guardrails/);
  });
});
