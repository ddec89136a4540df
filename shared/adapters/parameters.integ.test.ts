import {
  CreateSecretCommand,
  DeleteSecretCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { DeleteParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { afterAll, describe, expect, it } from 'vitest';
import { emulatorClientConfig, uniqueName } from '../../localstack/testing.ts';
import { ConfigurationError } from '../domain/errors.ts';
import { readParameter, readSecret, writeParameter } from './parameters.ts';

/** The one secret and parameter reader (Powertools Parameters) against the emulator's SSM and Secrets Manager. */
describe('secrets and parameters', () => {
  const ssm = new SSMClient(emulatorClientConfig());
  const secrets = new SecretsManagerClient(emulatorClientConfig());
  const parameter = `/homeostat-test/${uniqueName('param')}`;
  const secret = uniqueName('homeostat-test/secret');

  afterAll(async () => {
    await ssm.send(new DeleteParameterCommand({ Name: parameter })).catch(() => {});
    await secrets
      .send(new DeleteSecretCommand({ SecretId: secret, ForceDeleteWithoutRecovery: true }))
      .catch(() => {});
  });

  it('reads a parameter fresh by default, null while it does not exist; writes and deletes it', async () => {
    expect(await readParameter(ssm, parameter)).toBeNull();
    await writeParameter(ssm, parameter, 'primary');
    expect(await readParameter(ssm, parameter)).toBe('primary');
    await writeParameter(ssm, parameter, 'fallback');
    expect(await readParameter(ssm, parameter)).toBe('fallback');
    await writeParameter(ssm, parameter, null);
    expect(await readParameter(ssm, parameter)).toBeNull();
    await writeParameter(ssm, parameter, null); // already gone is fine
  });

  it('reuses a value read for maxAgeSeconds', async () => {
    await writeParameter(ssm, parameter, 'one');
    expect(await readParameter(ssm, parameter, { maxAgeSeconds: 60 })).toBe('one');
    await writeParameter(ssm, parameter, 'two');
    expect(await readParameter(ssm, parameter, { maxAgeSeconds: 60 })).toBe('one');
    expect(await readParameter(ssm, parameter)).toBe('two');
  });

  it("passes the SDK's own error on when a parameter cannot be read", async () => {
    const unreachable = new SSMClient({
      ...emulatorClientConfig(),
      endpoint: 'http://127.0.0.1:9',
      maxAttempts: 1,
    });
    const error = await readParameter(unreachable, parameter).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).name).not.toBe('GetParameterError');
  });

  it('reads a secret (cached for its max age), and names a missing one', async () => {
    await secrets.send(new CreateSecretCommand({ Name: secret, SecretString: 'postgres://agent@neon/db' }));
    expect(await readSecret(secret, { client: secrets })).toBe('postgres://agent@neon/db');
    await secrets.send(
      new PutSecretValueCommand({ SecretId: secret, SecretString: 'postgres://rotated@neon/db' }),
    );
    expect(await readSecret(secret, { client: secrets })).toBe('postgres://agent@neon/db');
    expect(await readSecret(secret, { client: secrets, maxAgeSeconds: 0 })).toBe(
      'postgres://rotated@neon/db',
    );

    const missing = await readSecret(uniqueName('homeostat-test/missing'), { client: secrets }).catch(
      (e: unknown) => e,
    );
    expect(missing).toBeInstanceOf(ConfigurationError);
    expect((missing as Error).message).toMatch(/secret homeostat-test\/missing-.* does not exist/);
  });
});
