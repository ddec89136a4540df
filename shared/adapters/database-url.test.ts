import { describe, expect, it } from 'vitest';
import { ConfigurationError } from '../domain/errors.ts';
import { resolveDatabaseUrl } from './database-url.ts';

const secrets: Record<string, string> = {
  'homeostat/database-url': 'postgres://agent@neon/db',
  'homeostat/database-owner-url': '{"url":"postgres://owner@neon/db"}',
  'not-a-url': 'mysql://x',
};
const readSecret = async (id: string) => {
  const value = secrets[id];
  if (value === undefined) throw new Error(`no secret ${id}`);
  return value;
};

describe('resolveDatabaseUrl', () => {
  it('gives the agents the runtime URL: DATABASE_URL first, else its secret', async () => {
    expect(await resolveDatabaseUrl({ DATABASE_URL: 'postgres://local/db' }, { readSecret })).toBe(
      'postgres://local/db',
    );
    expect(
      await resolveDatabaseUrl(
        {
          DATABASE_URL_SECRET_ID: 'homeostat/database-url',
          DATABASE_OWNER_URL_SECRET_ID: 'homeostat/database-owner-url',
        },
        { readSecret },
      ),
    ).toBe('postgres://agent@neon/db');
  });

  it("gives the migrator the owner's URL (a JSON secret's url field) and says nothing of a fallback", async () => {
    const told: string[] = [];
    const url = await resolveDatabaseUrl(
      {
        DATABASE_URL_SECRET_ID: 'homeostat/database-url',
        DATABASE_OWNER_URL_SECRET_ID: 'homeostat/database-owner-url',
      },
      { role: 'owner', readSecret, onFallback: (m) => told.push(m) },
    );
    expect(url).toBe('postgres://owner@neon/db');
    expect(told).toEqual([]);
    expect(
      await resolveDatabaseUrl(
        { DATABASE_URL: 'postgres://agent@local/db', DATABASE_OWNER_URL: 'postgres://owner@local/db' },
        { role: 'owner', readSecret },
      ),
    ).toBe('postgres://owner@local/db');
  });

  it("falls back to the agents' URL for the migrator when only one is configured, and says so", async () => {
    const told: string[] = [];
    const url = await resolveDatabaseUrl(
      { DATABASE_URL_SECRET_ID: 'homeostat/database-url' },
      { role: 'owner', readSecret, onFallback: (m) => told.push(m) },
    );
    expect(url).toBe('postgres://agent@neon/db');
    expect(told).toHaveLength(1);
    expect(told[0]).toMatch(
      /no owner database URL .*secret homeostat\/database-url.*agents run with its privileges/,
    );
  });

  it('refuses a secret that holds no postgres URL, naming it', async () => {
    const error = await resolveDatabaseUrl({ DATABASE_URL_SECRET_ID: 'not-a-url' }, { readSecret }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ConfigurationError);
    expect((error as Error).message).toMatch(/secret not-a-url does not hold a postgres:\/\/ URL/);
  });
});
