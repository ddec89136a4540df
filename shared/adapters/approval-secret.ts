import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { minSecretBytes } from '../domain/approval.ts';
import { ConfigurationError } from '../domain/errors.ts';
import { lazyAsync } from './aws-clients.ts';
import { readSecret } from './parameters.ts';

/**
 * The approval signing key from Secrets Manager (HOMEOSTAT_APPROVAL_SECRET_ARN), read once per
 * container: the plan agent signs approval links with it, the approve agent checks them. Its own
 * module, so the approve agent does not bundle the remediation wiring (ECS, SSM, the settings).
 * ConfigurationError when the ARN is unset or the key is shorter than minSecretBytes.
 */
export function approvalSecret(secretArn: string | undefined, client: () => SecretsManagerClient) {
  return lazyAsync(async () => {
    if (!secretArn) throw new ConfigurationError('HOMEOSTAT_APPROVAL_SECRET_ARN is not set');
    const value = await readSecret(secretArn, { client: client() });
    if (Buffer.byteLength(value) < minSecretBytes)
      throw new ConfigurationError(`the approval secret must hold at least ${minSecretBytes} bytes`);
    return value;
  });
}
