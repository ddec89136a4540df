-- Judgement: the mechanism the evidence shows, the facts the effect model reads
-- (computed by code, never by a model) and the fix a human should make. Null on
-- diagnoses recorded before mechanisms existed; the planner then keeps the
-- catalog's own checks only.
ALTER TABLE diagnoses ADD COLUMN judgement jsonb CHECK (judgement IS NULL OR jsonb_typeof(judgement) = 'object');
