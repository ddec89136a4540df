-- Remediation: at most one active remediation per service (a lease), every step recorded once
-- (idempotency key) with its pre-state snapshot and outcome, approvals spent once, and the
-- revisions that stayed steady (rollback targets).

CREATE TABLE remediation_leases (
  cluster     text NOT NULL,
  service     text NOT NULL,
  incident_id uuid NOT NULL REFERENCES incidents (id),
  acquired_at timestamptz NOT NULL,
  -- A crashed agent's lease lapses instead of blocking the service for ever.
  expires_at  timestamptz NOT NULL CHECK (expires_at > acquired_at),
  PRIMARY KEY (cluster, service)
);

CREATE TABLE remediation_steps (
  id              bigserial PRIMARY KEY,
  -- '<incident>:<step>': a redelivered event finds its step and never acts twice.
  idempotency_key text NOT NULL UNIQUE,
  incident_id     uuid NOT NULL REFERENCES incidents (id),
  step            integer NOT NULL CHECK (step >= 1),
  cluster         text NOT NULL,
  service         text NOT NULL,
  fingerprint     text NOT NULL,
  action          text NOT NULL,
  parameters      jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(parameters) = 'object'),
  mode            text NOT NULL CHECK (mode IN ('auto', 'observe', 'approve')),
  status          text NOT NULL CHECK (status IN (
                    'planned', 'awaiting_approval', 'rejected', 'expired', 'executing', 'executed',
                    'dry_run', 'resolved', 'no_effect', 'worse', 'failed')),
  policy_version  text NOT NULL,
  -- The service before the action: what undo restores.
  snapshot        jsonb,
  undone          boolean NOT NULL DEFAULT false,
  executed_at     timestamptz,
  verify_at       timestamptz,
  verified_at     timestamptz,
  detail          jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(detail) = 'object'),
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  UNIQUE (incident_id, step)
);
CREATE INDEX remediation_steps_service_idx ON remediation_steps (cluster, service, executed_at DESC);
CREATE INDEX remediation_steps_fingerprint_idx ON remediation_steps (fingerprint, status);

CREATE TABLE approvals (
  nonce        text PRIMARY KEY,
  incident_id  uuid NOT NULL REFERENCES incidents (id),
  step         integer NOT NULL,
  binding_hash text NOT NULL CHECK (binding_hash ~ '^[0-9a-f]{64}$'),
  expires_at   timestamptz NOT NULL,
  decision     text CHECK (decision IN ('approved', 'rejected')),
  decided_by   text,
  decided_at   timestamptz,
  created_at   timestamptz NOT NULL DEFAULT now(),
  CHECK ((decision IS NULL) = (decided_at IS NULL))
);
CREATE INDEX approvals_incident_idx ON approvals (incident_id);

-- Each revision a service ran steadily, and for how long: a rollback goes to the latest one
-- that stayed steady long enough.
CREATE TABLE steady_revisions (
  cluster         text NOT NULL,
  service         text NOT NULL,
  task_definition text NOT NULL,
  first_steady_at timestamptz NOT NULL,
  last_steady_at  timestamptz NOT NULL CHECK (last_steady_at >= first_steady_at),
  PRIMARY KEY (cluster, service, task_definition)
);
