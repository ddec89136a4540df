import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { knowledgeDbConnector } from '#shared/adapters/knowledge-db.ts';
import { PostgresPerceptionStore } from '#shared/adapters/perception-store.ts';
import { databaseEnvSchema, loadEnv } from '#shared/config/env.ts';
import { parseServiceRegistration } from '#shared/config/service-registration.ts';
import { createLogger } from '#shared/observability/logger.ts';

const logger = createLogger('homeostat-registry');

/** The outcome of one request: what the response to CloudFormation carries. */
export interface RegistryResponse {
  /** `<cluster>/<service>`: a new one on update makes CloudFormation delete the old registration. */
  PhysicalResourceId: string;
  Data: { Cluster: string; Service: string; Outcome: string };
}

/**
 * The service registry's custom resource (Custom::HomeostatWatchedService, one
 * per WatchedService): Create and Update
 * upsert the columns a deploy owns (the operator's autonomy, fallback and
 * secrets decisions stay), Delete unregisters the service — only when this
 * registration (stack id + logical id) declared it last. Properties arrive as
 * strings from CloudFormation and are validated by the schema the construct
 * used at synth (shared/config/service-registration.ts). Throws on invalid
 * properties or an unreachable database, which fails the stack operation
 * (CloudFormation rolls back) instead of leaving a service silently unwatched.
 * Event shape: https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/crpg-ref-requests.html
 */
export const register = async (event: CloudFormationCustomResourceEvent): Promise<RegistryResponse> => {
  const owner = `${event.StackId}/${event.LogicalResourceId}`;
  if (event.RequestType === 'Delete') return unregister(event.PhysicalResourceId, owner);
  const registration = parseServiceRegistration(
    event.ResourceProperties,
    `${event.LogicalResourceId} (${event.RequestType})`,
  );
  const ref = { cluster: registration.cluster, service: registration.service };
  const physicalId = `${ref.cluster}/${ref.service}`;
  const pool = await knowledgeDbConnector(loadEnv(databaseEnvSchema))();
  try {
    const store = new PostgresPerceptionStore(pool);
    await store.registerDeployedService(registration, owner);
    logger.info('watched service registered', {
      watchedService: physicalId,
      requestType: event.RequestType,
      owner,
    });
    return {
      PhysicalResourceId: physicalId,
      Data: { Cluster: ref.cluster, Service: ref.service, Outcome: 'registered' },
    };
  } catch (error) {
    logger.error('registration failed', {
      watchedService: physicalId,
      requestType: event.RequestType,
      error,
    });
    throw error;
  } finally {
    await pool.end();
  }
};

/**
 * Delete: unregisters the service named by the physical id a successful Create or Update
 * returned (`<cluster>/<service>`), only if this registration (`owner`) declared it last. It reads
 * nothing else of the request, so a schema change never makes an old registration undeletable. Any
 * other id (a Create that failed registered nothing) needs no database: a rollback must not fail
 * too, or the stack would be stuck in ROLLBACK_FAILED.
 */
async function unregister(physicalId: string, owner: string): Promise<RegistryResponse> {
  const [cluster, service, ...rest] = physicalId.split('/');
  if (!cluster || !service || rest.length > 0) {
    logger.info('nothing registered under this id; nothing to unregister', { physicalId, owner });
    return { PhysicalResourceId: physicalId, Data: { Cluster: '', Service: '', Outcome: 'absent' } };
  }
  const pool = await knowledgeDbConnector(loadEnv(databaseEnvSchema))();
  try {
    const outcome = await new PostgresPerceptionStore(pool).unregisterDeployedService(
      { cluster, service },
      owner,
    );
    logger.info('watched service unregistered', { watchedService: physicalId, outcome, owner });
    return { PhysicalResourceId: physicalId, Data: { Cluster: cluster, Service: service, Outcome: outcome } };
  } finally {
    await pool.end();
  }
}

/**
 * The Lambda-backed custom resource's handler (CloudFormation invokes it
 * asynchronously with the request): registers (`register`), then answers
 * CloudFormation by PUTting the response object to the request's pre-signed
 * ResponseURL — SUCCESS with the physical id and Data, or FAILED with the
 * reason, so a failure fails the stack operation at once instead of after
 * CloudFormation's one-hour wait. A response that cannot be delivered after
 * three attempts throws, and Lambda retries the whole (idempotent) request.
 * Response shape: https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/crpg-ref-responses.html
 */
export const handler = async (event: CloudFormationCustomResourceEvent): Promise<void> => {
  let response: Record<string, unknown>;
  try {
    const result = await register(event);
    response = { Status: 'SUCCESS', ...result };
  } catch (error) {
    response = {
      Status: 'FAILED',
      Reason: (error instanceof Error ? error.message : String(error)).slice(0, 1000),
      // A failed Create returns an id no Delete will mistake for a registration.
      PhysicalResourceId:
        'PhysicalResourceId' in event ? event.PhysicalResourceId : `unregistered:${event.RequestId}`,
    };
  }
  await respond(event, {
    ...response,
    StackId: event.StackId,
    RequestId: event.RequestId,
    LogicalResourceId: event.LogicalResourceId,
  });
};

/** PUTs `body` to the request's ResponseURL (an S3 pre-signed URL: no content type), 3 attempts. */
async function respond(
  event: CloudFormationCustomResourceEvent,
  body: Record<string, unknown>,
): Promise<void> {
  const json = JSON.stringify(body);
  let lastError: unknown;
  for (let attempt = 1; attempt <= 3; attempt += 1) {
    try {
      const answer = await fetch(event.ResponseURL, {
        method: 'PUT',
        body: json,
        headers: { 'content-type': '', 'content-length': String(Buffer.byteLength(json)) },
      });
      if (answer.ok) return;
      lastError = new Error(`ResponseURL answered ${answer.status}`);
    } catch (error) {
      lastError = error;
    }
    await new Promise((resolve) => setTimeout(resolve, 200 * 2 ** attempt));
  }
  logger.error('could not answer CloudFormation', { status: body.Status, error: lastError });
  throw lastError;
}
