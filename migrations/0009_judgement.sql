-- Judgement: the mechanism the evidence shows, the facts the effect model reads
-- (computed by code, never by a model) and the fix a human should make. Null on
-- diagnoses recorded before mechanisms existed; the planner then keeps the
-- catalog's own checks only.
ALTER TABLE diagnoses ADD COLUMN judgement jsonb CHECK (judgement IS NULL OR jsonb_typeof(judgement) = 'object');

-- Re-diagnosis: a live incident that received new fault evidence is diagnosed again
-- before its next step. The row holds the latest answer; every answer is in the audit log.
ALTER TABLE diagnoses
  ADD COLUMN revision integer NOT NULL DEFAULT 1 CHECK (revision >= 1),
  ADD COLUMN revised_at timestamptz;
