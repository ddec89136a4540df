-- When each incident last changed state: the sweep finds incidents that stopped making progress
-- (a lost event, an agent's retries exhausted) and hands them to humans instead of letting them
-- hold their service's live-incident slot for good. Signals joining an incident bump updated_at,
-- so updated_at cannot tell progress from noise; this column only moves with the state.
ALTER TABLE incidents ADD COLUMN state_changed_at timestamptz;
UPDATE incidents SET state_changed_at = updated_at WHERE state_changed_at IS NULL;
ALTER TABLE incidents ALTER COLUMN state_changed_at SET DEFAULT now();
ALTER TABLE incidents ALTER COLUMN state_changed_at SET NOT NULL;

CREATE FUNCTION incidents_state_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.state IS DISTINCT FROM OLD.state THEN
    NEW.state_changed_at := now();
  END IF;
  RETURN NEW;
END;
$$;
CREATE TRIGGER incidents_state_changed
  BEFORE UPDATE OF state ON incidents
  FOR EACH ROW EXECUTE FUNCTION incidents_state_changed();

CREATE INDEX incidents_live_progress_idx ON incidents (state_changed_at)
  WHERE state NOT IN ('resolved', 'failed', 'escalated', 'self_resolved');
CREATE INDEX remediation_steps_in_flight_idx ON remediation_steps (status, updated_at)
  WHERE status IN ('planned', 'executing', 'executed', 'dry_run');
