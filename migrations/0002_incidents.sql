-- Perception: every delivery, signal, incident and timeline entry; the watched-service registry.

-- Signals of every kind, with their symptom fingerprint and repeat count.
ALTER TABLE signals DROP CONSTRAINT signals_kind_check;
ALTER TABLE signals DROP CONSTRAINT signals_state_check;
ALTER TABLE signals
  ADD CONSTRAINT signals_kind_check
    CHECK (kind IN ('alarm', 'task_stopped', 'deployment', 'service_action', 'app', 'chaos')),
  ADD COLUMN classification text NOT NULL DEFAULT 'fault'
    CHECK (classification IN ('fault', 'recovery', 'benign')),
  ADD COLUMN fingerprint text,
  ADD COLUMN occurrences integer NOT NULL DEFAULT 1 CHECK (occurrences > 0),
  ADD COLUMN last_seen_at timestamptz,
  ADD COLUMN suppressed_reason text
    CHECK (suppressed_reason IN ('benign', 'recovery_without_incident')),
  ADD COLUMN attributes jsonb NOT NULL DEFAULT '{}';
UPDATE signals SET last_seen_at = occurred_at WHERE last_seen_at IS NULL;
ALTER TABLE signals ALTER COLUMN last_seen_at SET NOT NULL;
CREATE INDEX signals_fingerprint_idx ON signals (fingerprint, last_seen_at DESC);
CREATE INDEX signals_chaos_idx ON signals (cluster, service, occurred_at DESC) WHERE kind = 'chaos';

-- Every EventBridge event id ever delivered: a redelivery finds its row and is a no-op.
CREATE TABLE signal_events (
  event_id    text PRIMARY KEY,
  signal_id   text NOT NULL REFERENCES signals (id),
  received_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE incidents (
  id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  cluster             text NOT NULL,
  service             text NOT NULL,
  state               text NOT NULL DEFAULT 'open' CHECK (state IN (
                        'open', 'diagnosing', 'planned', 'awaiting_approval', 'acting', 'verifying',
                        'resolved', 'failed', 'escalated', 'self_resolved')),
  -- Optimistic concurrency: every update says which version it read.
  version             integer NOT NULL DEFAULT 1,
  title               text NOT NULL,
  fingerprint         text NOT NULL,
  opened_at           timestamptz NOT NULL,
  updated_at          timestamptz NOT NULL,
  last_signal_at      timestamptz NOT NULL,
  last_fault_at       timestamptz,
  recovery_seen_at    timestamptz,
  closed_at           timestamptz,
  signal_count        integer NOT NULL DEFAULT 1,
  chaos_experiment_id text,
  service_snapshot    jsonb
);
-- At most one live incident per service, even when two Lambdas race to open one.
CREATE UNIQUE INDEX incidents_one_live_per_service ON incidents (cluster, service)
  WHERE state NOT IN ('resolved', 'failed', 'escalated', 'self_resolved');
CREATE INDEX incidents_recovering_idx ON incidents (recovery_seen_at) WHERE recovery_seen_at IS NOT NULL;

ALTER TABLE signals ADD COLUMN incident_id uuid REFERENCES incidents (id);
CREATE INDEX signals_incident_idx ON signals (incident_id);

-- Append-only history of each incident.
CREATE TABLE incident_timeline (
  id          bigserial PRIMARY KEY,
  incident_id uuid NOT NULL REFERENCES incidents (id),
  at          timestamptz NOT NULL,
  kind        text NOT NULL,
  detail      jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX incident_timeline_incident_idx ON incident_timeline (incident_id, id);

CREATE FUNCTION reject_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP USING ERRCODE = 'restrict_violation';
END;
$$;
CREATE TRIGGER incident_timeline_append_only
  BEFORE UPDATE OR DELETE ON incident_timeline
  FOR EACH ROW EXECUTE FUNCTION reject_change();

-- Events to publish, written in the same transaction as the change they announce, so a
-- crash between commit and PutEvents loses nothing: a redelivery publishes what is left.
CREATE TABLE outbox (
  id           text PRIMARY KEY,
  seq          bigserial NOT NULL,
  causation_id text NOT NULL,
  envelope     jsonb NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  published_at timestamptz
);
CREATE INDEX outbox_pending_idx ON outbox (causation_id) WHERE published_at IS NULL;

-- Services Homeostat watches. Signals for anything else are counted and ignored.
CREATE TABLE watched_services (
  cluster         text NOT NULL,
  service         text NOT NULL,
  -- Alarms whose name starts with one of these belong to the service (for alarms without dimensions or tags).
  alarm_prefixes  text[] NOT NULL DEFAULT '{}',
  allowed_actions text[] NOT NULL DEFAULT '{}',
  autonomy        jsonb NOT NULL DEFAULT '{}',
  min_tasks       integer NOT NULL DEFAULT 1 CHECK (min_tasks >= 0),
  max_tasks       integer NOT NULL DEFAULT 10 CHECK (max_tasks >= min_tasks),
  registered_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (cluster, service)
);
