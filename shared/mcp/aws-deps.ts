/**
 * The MCP server's real dependencies — the operator CLI's own: the database
 * (DATABASE_URL, DATABASE_URL_SECRET_ID, or the stack's secret), the kill-switch
 * parameter, the approval function (invoked as the caller, like `homeostat
 * approve`), ECS for the service's state and the bus for approval.requested,
 * reached with the usual AWS profile/region variables (AWS_ENDPOINT_URL for
 * the local stack). `HOMEOSTAT_KILL_SWITCH_PARAMETER`, `HOMEOSTAT_BUS_NAME` and
 * `HOMEOSTAT_APPROVE_FUNCTION` name them directly; unset, the stack's outputs do.
 * `HOMEOSTAT_REMEDIATION` holds the remediation settings the policy applies
 * (the stack's, for the Lambda; defaults otherwise — the act agent checks the
 * deployed policy again before anything runs).
 */
import { randomBytes } from 'node:crypto';
import { ECSClient } from '@aws-sdk/client-ecs';
import { SSMClient } from '@aws-sdk/client-ssm';
import { clientDefaults, lazyAsync } from '../adapters/aws-clients.ts';
import { PostgresChaosStore } from '../adapters/chaos-store.ts';
import type { Pool } from '../adapters/database.ts';
import { createEmbeddingModels } from '../adapters/embeddings.ts';
import { createEventBridgeClient, EventBridgePublisher } from '../adapters/event-bus.ts';
import { reportIncidents } from '../adapters/incident-views.ts';
import { SsmKillSwitch } from '../adapters/kill-switch.ts';
import { PostgresKnowledgeStore } from '../adapters/knowledge-store.ts';
import { PostgresPerceptionStore } from '../adapters/perception-store.ts';
import { PostgresRemediationStore } from '../adapters/remediation-store.ts';
import { newNonce } from '../adapters/remediation-wiring.ts';
import { ServiceStateReader } from '../adapters/service-state.ts';
import { awsApprovalDeps, callerArn } from '../cli/approve.ts';
import { stackOutput } from '../cli/cli-config.ts';
import { explainParsedEvent } from '../cli/explain-event.ts';
import { awsOperateDeps, cliPool } from '../cli/operate-aws.ts';
import { remediationSettingsFromEnv } from '../config/remediation.ts';
import { systemClock } from '../domain/ports.ts';
import { searchKnowledge } from '../usecases/knowledge.ts';
import type { ApprovalIssuer } from '../usecases/plan.ts';
import { requestRemediation } from '../usecases/request-remediation.ts';
import type { HomeostatMcpDeps } from './server.ts';

/**
 * Requests filed over MCP carry no links. The server never holds the approval
 * signing key, so it cannot mint a link that approves: its tokens are signed
 * with a key made for the one request and forgotten (only their hashes are
 * stored, as always), and the request is decided through the approval
 * function, under IAM — `homeostat approve|reject` or this server's tools.
 */
export const linklessApprovals: ApprovalIssuer = {
  secret: async () => randomBytes(32).toString('hex'),
  baseUrl: null,
  newNonce,
};

/** A denied Lambda invocation, said in words: who may decide is IAM's decision. */
function denied(error: unknown, principal: string, functionName: string): Error {
  const e = error as Error;
  if (e.name === 'AccessDeniedException' || /not authori[sz]ed/i.test(e.message))
    return new Error(
      `not permitted: ${principal} may not invoke the approval function ${functionName} (IAM decides who may approve): ${e.message}`,
    );
  return e;
}

export async function awsMcpDeps(options: {
  mode: 'stdio' | 'http';
  stack: string;
  /** The caller, when the transport knows it (the Function URL's IAM caller); else STS says. */
  principal?: string;
}): Promise<{ deps: HomeostatMcpDeps; close(): Promise<void> }> {
  const { stack } = options;
  const pools: Pool[] = [];
  const pool = lazyAsync(async () => {
    const p = await cliPool(stack);
    pools.push(p);
    return p;
  });
  const operate = await awsOperateDeps(stack, pool);
  const principal = options.principal
    ? async () => options.principal as string
    : lazyAsync(async () => callerArn());
  const killSwitchParameter = lazyAsync(
    async () => process.env.HOMEOSTAT_KILL_SWITCH_PARAMETER || stackOutput(stack, 'KillSwitchParameterName'),
  );
  // The bus lets only the agents publish their events: the Lambda (no HOMEOSTAT_BUS_NAME) leaves
  // approval.requested to the outbox relay; a person's process tries, and falls back to the relay too.
  const busName = lazyAsync(async () =>
    options.mode === 'stdio'
      ? process.env.HOMEOSTAT_BUS_NAME || stackOutput(stack, 'BusName')
      : process.env.HOMEOSTAT_BUS_NAME || null,
  );
  const ecs = new ECSClient(clientDefaults);
  const ssm = new SSMClient(clientDefaults);
  const events = createEventBridgeClient();
  const settings = remediationSettingsFromEnv(process.env.HOMEOSTAT_REMEDIATION);
  const knowledge = async () => {
    const p = await pool();
    return {
      store: new PostgresKnowledgeStore(p),
      embeddings: createEmbeddingModels(p, {
        model: process.env.HOMEOSTAT_EMBEDDING_MODEL || 'homeostat-hash-v1',
        bedrockEndpoint: process.env.BEDROCK_ENDPOINT,
      }),
    };
  };
  const approvals = options.mode === 'stdio' ? await awsApprovalDeps() : null;

  const deps: HomeostatMcpDeps = {
    mode: options.mode,
    principal,
    incidents: operate.deps.incidents,
    killSwitch: operate.deps.killSwitch,
    knowledge: {
      search: async (text, limit) => searchKnowledge(text, await knowledge(), limit),
      runbooks: async () => new PostgresKnowledgeStore(await pool()).runbooks(),
      runbook: async (id) => new PostgresKnowledgeStore(await pool()).runbook(id),
    },
    explain: async (event) => {
      const registry = new PostgresPerceptionStore(await pool());
      return explainParsedEvent(event, {
        isWatched: async (cluster, service) => (await registry.watchedService({ cluster, service })) !== null,
      });
    },
    reportIncidents: async (since, until) => reportIncidents(await pool(), since, until),
    gameDays: async (since, until) => new PostgresChaosStore(await pool()).records(since, until),
    requestRemediation: async (request) => {
      const p = await pool();
      const store = new PostgresRemediationStore(p);
      const registry = new PostgresPerceptionStore(p);
      const bus = await busName();
      return requestRemediation(request, {
        store,
        registry,
        serviceState: new ServiceStateReader(ecs, registry, (ref, running) =>
          store.lastKnownGood(ref, running, settings.minSteadyMs),
        ),
        killSwitch: new SsmKillSwitch(ssm, await killSwitchParameter(), 0),
        settings,
        approvals: linklessApprovals,
        ...(bus ? { bus: new EventBridgePublisher(events, bus) } : {}),
        clock: systemClock,
      });
    },
    ...(approvals
      ? {
          async decide(request: { incidentId: string; decision: 'approve' | 'reject'; decidedBy: string }) {
            const functionName = await approvals.functionName({
              stack,
              fn: process.env.HOMEOSTAT_APPROVE_FUNCTION || undefined,
            });
            try {
              return await approvals.invoke(functionName, request);
            } catch (error) {
              throw denied(error, request.decidedBy, functionName);
            }
          },
        }
      : {}),
  };
  return {
    deps,
    async close() {
      operate.close();
      ecs.destroy();
      ssm.destroy();
      events.destroy();
      await Promise.all(pools.map((p) => p.end()));
    },
  };
}
