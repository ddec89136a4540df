-- Chaos as the exam: every experiment run (refused, rehearsed or injected), what it changed and
-- how it was reverted, and its game-day score.

CREATE TABLE chaos_experiments (
  id                  uuid PRIMARY KEY,
  -- The configured experiment's name and fault kind.
  experiment          text NOT NULL CHECK (experiment <> ''),
  kind                text NOT NULL
                        CHECK (kind IN ('stop_tasks', 'scale_to', 'bad_deployment', 'break_dependency', 'fis')),
  cluster             text NOT NULL,
  service             text NOT NULL,
  -- schedule:<name>, human:<user>, …
  requested_by        text NOT NULL CHECK (requested_by <> ''),
  -- One run per scheduled firing (or CLI request): a redelivery finds it.
  idempotency_key     text NOT NULL UNIQUE,
  state               text NOT NULL CHECK (state IN ('refused', 'dry_run', 'injecting', 'injected', 'reverted',
                                                     'revert_failed', 'failed')),
  -- The guardrail that refused it, and why (or why injecting failed).
  guard               text,
  reason              text,
  -- The concrete change (domain Injection) and what the adapter recorded to undo it.
  injection           jsonb,
  pre_state           jsonb,
  expected_root_causes text[] NOT NULL DEFAULT '{}',
  duration_minutes    integer NOT NULL CHECK (duration_minutes > 0),
  requested_at        timestamptz NOT NULL DEFAULT now(),
  injected_at         timestamptz,
  revert_at           timestamptz,
  reverted_at         timestamptz,
  revert_attempts     integer NOT NULL DEFAULT 0 CHECK (revert_attempts >= 0),
  -- The fault was still there when the revert came (Homeostat had not repaired it).
  revert_needed       boolean,
  revert_detail       text,
  CHECK (state NOT IN ('injected', 'reverted', 'revert_failed') OR (injected_at IS NOT NULL AND revert_at IS NOT NULL)),
  CHECK (state <> 'refused' OR guard IS NOT NULL)
);
-- The concurrency guardrail counts these; one live experiment per service at most.
CREATE UNIQUE INDEX chaos_experiments_live_service_idx
  ON chaos_experiments (cluster, service) WHERE state IN ('injecting', 'injected');
CREATE INDEX chaos_experiments_requested_idx ON chaos_experiments (requested_at);

-- One score per injected experiment, recomputed until final.
CREATE TABLE game_day_scores (
  experiment_id        uuid PRIMARY KEY REFERENCES chaos_experiments (id),
  incident_id          uuid REFERENCES incidents (id),
  detected             boolean NOT NULL,
  time_to_detect_ms    bigint CHECK (time_to_detect_ms >= 0),
  diagnosed_root_cause text,
  diagnosis_correct    boolean NOT NULL,
  mitigated            boolean NOT NULL,
  time_to_mitigate_ms  bigint CHECK (time_to_mitigate_ms >= 0),
  undo_used            boolean NOT NULL,
  revert_needed        boolean,
  score                integer NOT NULL CHECK (score BETWEEN 0 AND 100),
  final                boolean NOT NULL,
  scored_at            timestamptz NOT NULL DEFAULT now()
);
