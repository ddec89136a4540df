import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { knowledgeDbConnector } from '#shared/adapters/knowledge-db.ts';
import { PostgresPerceptionStore } from '#shared/adapters/perception-store.ts';
import { databaseEnvSchema, loadEnv } from '#shared/config/env.ts';
import { parseServiceRegistration } from '#shared/config/service-registration.ts';
import { createLogger } from '#shared/observability/logger.ts';

const logger = createLogger('homeostat-registry');

/** What the CDK provider framework expects back (aws-cdk-lib custom-resources Provider, onEvent). */
export interface RegistryResponse {
  /** `<cluster>/<service>`: a new one on update makes CloudFormation delete the old registration. */
  PhysicalResourceId: string;
  Data: { Cluster: string; Service: string; Outcome: string };
}

/**
 * The service registry's custom resource (Custom::HomeostatWatchedService, one
 * per WatchedService, through the CDK provider framework): Create and Update
 * upsert the columns a deploy owns (the operator's autonomy, fallback and
 * secrets decisions stay), Delete unregisters the service — only when this
 * registration (stack id + logical id) declared it last. Properties arrive as
 * strings from CloudFormation and are validated by the schema the construct
 * used at synth (shared/config/service-registration.ts). Throws on invalid
 * properties or an unreachable database, which fails the stack operation
 * (CloudFormation rolls back) instead of leaving a service silently unwatched.
 * Event shape: https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/crpg-ref-requests.html
 */
export const handler = async (event: CloudFormationCustomResourceEvent): Promise<RegistryResponse> => {
  const owner = `${event.StackId}/${event.LogicalResourceId}`;
  if (event.RequestType === 'Delete' && !registeredHere(event)) {
    // A create that failed (invalid properties, database down) registered nothing; its rollback
    // must not fail too, or the stack would be stuck in ROLLBACK_FAILED.
    logger.info('nothing registered under this id; nothing to unregister', {
      physicalResourceId: event.PhysicalResourceId,
      owner,
    });
    return {
      PhysicalResourceId: event.PhysicalResourceId,
      Data: { Cluster: '', Service: '', Outcome: 'absent' },
    };
  }
  const registration = parseServiceRegistration(
    event.ResourceProperties,
    `${event.LogicalResourceId} (${event.RequestType})`,
  );
  const ref = { cluster: registration.cluster, service: registration.service };
  const physicalId = `${ref.cluster}/${ref.service}`;
  const pool = await knowledgeDbConnector(loadEnv(databaseEnvSchema))();
  try {
    const store = new PostgresPerceptionStore(pool);
    if (event.RequestType === 'Delete') {
      // The physical id is what was registered; the properties are the ones it was registered with.
      const outcome = await store.unregisterDeployedService(ref, owner);
      logger.info('watched service unregistered', { watchedService: physicalId, outcome, owner });
      return {
        PhysicalResourceId: event.PhysicalResourceId,
        Data: { Cluster: ref.cluster, Service: ref.service, Outcome: outcome },
      };
    }
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

/** Whether a Delete's physical id is one a successful Create or Update returned (`<cluster>/<service>` of its properties). */
function registeredHere(event: CloudFormationCustomResourceEvent & { RequestType: 'Delete' }): boolean {
  const { cluster, service } = event.ResourceProperties as { cluster?: unknown; service?: unknown };
  return (
    typeof cluster === 'string' &&
    typeof service === 'string' &&
    event.PhysicalResourceId === `${cluster}/${service}`
  );
}
