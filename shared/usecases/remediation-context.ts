/**
 * What the policy needs to decide, read fresh for every decision: the kill
 * switch, the service's state and registry entry, its recent actions, the
 * breaker's count and the remediation lease (taken or renewed here).
 */

import type { RemediationSettings } from '../config/remediation.ts';
import type { ServiceState } from '../domain/actions.ts';
import { type PolicyContext, policyVersion } from '../domain/policy.ts';
import type { EventPublisher, IncidentRecord, WatchedServiceRecord } from '../domain/ports.ts';
import type { ServiceRef } from '../domain/signal.ts';
import type { IncidentEscalatedData } from '../events/catalog.ts';
import { detailTypes } from '../events/detail-types.ts';
import { buildEnvelope, type Envelope } from '../events/envelope.ts';
import type { RemediationStore } from './remediation-ports.ts';

export interface KillSwitch {
  read(): Promise<{ engaged: boolean; reason: string | null }>;
}

export interface PolicyInputs {
  store: RemediationStore;
  killSwitch: KillSwitch;
  registry: { watchedService(ref: ServiceRef): Promise<WatchedServiceRecord | null> };
  serviceState: { read(ref: ServiceRef): Promise<ServiceState | null> };
  settings: RemediationSettings;
}

export type PolicyContextResult =
  | { ok: true; ctx: PolicyContext; killSwitchReason: string | null }
  | { ok: false; reason: string };

export async function policyContextFor(
  incident: IncidentRecord,
  now: Date,
  inputs: PolicyInputs,
): Promise<PolicyContextResult> {
  const ref = incident.service;
  const { settings } = inputs;
  const [watched, service, killSwitch] = await Promise.all([
    inputs.registry.watchedService(ref),
    inputs.serviceState.read(ref),
    inputs.killSwitch.read(),
  ]);
  if (!watched) return { ok: false, reason: `${ref.cluster}/${ref.service} is not a watched service` };
  if (!service) return { ok: false, reason: `${ref.cluster}/${ref.service} no longer exists in ECS` };
  const [recentActions, ineffectiveRemediations, leaseHeldBy] = await Promise.all([
    inputs.store.recentActions(ref, new Date(now.getTime() - settings.policy.rateLimit.windowMs)),
    inputs.store.ineffectiveCount(incident.fingerprint, new Date(now.getTime() - settings.breakerWindowMs)),
    inputs.store.acquireLease(ref, incident.id, now, settings.leaseTtlMs),
  ]);
  return {
    ok: true,
    killSwitchReason: killSwitch.reason,
    ctx: {
      now,
      killSwitch: killSwitch.engaged,
      service,
      autonomy: {
        default: watched.autonomy?.default ?? settings.defaultAutonomy,
        perAction: watched.autonomy?.perAction ?? {},
      },
      allowedActions: watched.allowedActions,
      recentActions,
      ineffectiveRemediations,
      leaseHeldBy,
      // The experiment's own autonomy comes with the chaos agent; until then its incidents follow the service's.
      chaos: incident.chaosExperimentId ? { experimentId: incident.chaosExperimentId, autonomy: null } : null,
      settings: settings.policy,
    },
  };
}

/** What a policy decision records of its context in the audit log (with the decision's own inputs). */
export function policyAuditInputs(context: Extract<PolicyContextResult, { ok: true }>) {
  const { ctx } = context;
  return {
    killSwitch: ctx.killSwitch,
    killSwitchReason: context.killSwitchReason,
    autonomy: ctx.autonomy,
    allowedActions: ctx.allowedActions,
    recentActions: ctx.recentActions.length,
    ineffectiveRemediations: ctx.ineffectiveRemediations,
    leaseHeldBy: ctx.leaseHeldBy,
    chaos: ctx.chaos,
    service: ctx.service,
    policyVersion,
  };
}

/** Publishes what a handled event produced and marks it published (the outbox keeps it until then). */
export async function publishPending(
  deps: { store: RemediationStore; bus: EventPublisher },
  causationId: string,
): Promise<Envelope[]> {
  const pending = await deps.store.pending(causationId);
  if (pending.length === 0) return [];
  await deps.bus.publish(pending);
  await deps.store.markPublished(pending.map((e) => e.id));
  return pending;
}

/** incident.escalated for a remediation step's incident, from `source`. */
export function stepEscalation(
  step: { incidentId: string; service: ServiceRef },
  source: string,
  causationId: string,
  reason: string,
  at: Date,
): Envelope<IncidentEscalatedData> {
  return buildEnvelope<IncidentEscalatedData>({
    type: detailTypes.incidentEscalated,
    source,
    time: at,
    incidentId: step.incidentId,
    correlationId: step.incidentId,
    causationId,
    data: { incidentId: step.incidentId, service: step.service, reason },
  });
}
