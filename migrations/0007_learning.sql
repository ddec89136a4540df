-- Learning and the operator's surface: what the learn agent made of each closed incident, the
-- autonomy promotions it recommends (humans decide), and one notification per incident and
-- channel (updated as the incident progresses rather than a message per event).

-- One row per closed incident the learn agent has summarised; a redelivery finds it.
CREATE TABLE incident_learnings (
  incident_id        uuid PRIMARY KEY REFERENCES incidents (id),
  cluster            text NOT NULL,
  service            text NOT NULL,
  fingerprint        text NOT NULL,
  outcome            text NOT NULL CHECK (outcome IN ('resolved', 'self_resolved', 'escalated', 'failed')),
  root_cause         text,
  -- The action that resolved it, when one did.
  resolved_by        text,
  time_to_resolve_ms bigint CHECK (time_to_resolve_ms >= 0),
  -- Times this fingerprint closed on the service inside the recurrence window, this one included.
  recurrence         integer NOT NULL DEFAULT 1 CHECK (recurrence >= 1),
  learned_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX incident_learnings_fingerprint_idx ON incident_learnings (cluster, service, fingerprint, learned_at);

-- "This action would have been right k times with no regression: promote it." Open until a
-- human decides (autonomy set, or dismiss); at most one open recommendation per target level.
CREATE TABLE autonomy_recommendations (
  id             bigserial PRIMARY KEY,
  cluster        text NOT NULL,
  service        text NOT NULL,
  action         text NOT NULL,
  from_level     text NOT NULL CHECK (from_level IN ('observe', 'approve')),
  to_level       text NOT NULL CHECK (to_level IN ('approve', 'auto')),
  evidence       integer NOT NULL CHECK (evidence >= 1),
  -- The steps (incident:step) that earned it.
  steps          text[] NOT NULL,
  recommended_at timestamptz NOT NULL DEFAULT now(),
  decision       text CHECK (decision IN ('promoted', 'dismissed')),
  decided_by     text,
  decided_at     timestamptz,
  CHECK ((decision IS NULL) = (decided_at IS NULL))
);
CREATE UNIQUE INDEX autonomy_recommendations_open_idx
  ON autonomy_recommendations (cluster, service, action, to_level) WHERE decision IS NULL;

-- The message each channel holds for an incident: Slack's message ts (updated in place), the
-- milestones already announced on channels that cannot update (webhook, SNS), and a digest of
-- the last text sent so a redelivered event sends nothing.
CREATE TABLE notifications (
  incident_id uuid NOT NULL REFERENCES incidents (id),
  channel     text NOT NULL CHECK (channel IN ('slack', 'sns')),
  message_ref text,
  milestones  text[] NOT NULL DEFAULT '{}',
  digest      text NOT NULL,
  sent        integer NOT NULL DEFAULT 1 CHECK (sent >= 1),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (incident_id, channel)
);

-- The registry's autonomy is {"default": level, "perAction": {action: level}} (0006), but the check
-- from 0003 required every top-level value to be a level, so no per-action level could be stored.
ALTER TABLE watched_services DROP CONSTRAINT watched_services_autonomy_check;
CREATE FUNCTION service_autonomy_valid(autonomy jsonb) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
  SELECT jsonb_typeof(autonomy) = 'object'
     AND (NOT autonomy ? 'default' OR autonomy -> 'default' IN ('"observe"'::jsonb, '"approve"'::jsonb, '"auto"'::jsonb))
     AND (NOT autonomy ? 'perAction' OR autonomy_levels_valid(autonomy -> 'perAction'))
     AND NOT EXISTS (SELECT 1 FROM jsonb_object_keys(autonomy) AS k WHERE k NOT IN ('default', 'perAction'))
$$;
ALTER TABLE watched_services
  ADD CONSTRAINT watched_services_autonomy_check CHECK (service_autonomy_valid(autonomy));
