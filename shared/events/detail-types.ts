/** Names of the detail-types on the homeostat bus (schemas in catalog.ts, kept apart so agents bundle only names). */
export const detailTypes = {
  signalReceived: 'signal.received',
  incidentOpened: 'incident.opened',
  incidentUpdated: 'incident.updated',
  incidentResolved: 'incident.resolved',
  diagnosisCompleted: 'diagnosis.completed',
  diagnosisRequested: 'diagnosis.requested',
  diagnosisRevised: 'diagnosis.revised',
  planApproved: 'plan.approved',
  approvalRequested: 'approval.requested',
  actionExecuted: 'action.executed',
  verificationDue: 'verification.due',
  remediationFailed: 'remediation.failed',
  incidentEscalated: 'incident.escalated',
  chaosInjected: 'chaos.injected',
  learningRecorded: 'learning.recorded',
} as const;

export type DetailType = (typeof detailTypes)[keyof typeof detailTypes];
