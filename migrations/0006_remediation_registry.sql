-- What a watched service lets remediation use: a fallback switch (an SSM parameter and the value
-- that turns the fallback on), one-off maintenance task definitions (run_task) and the secrets it
-- reads (rotate_secret_and_redeploy). `autonomy` (0002) holds {"default": level, "perAction": {…}}.
-- And how many verification checks a step has had: each check is claimed once, so a
-- scheduler firing twice does not check (or act) twice.

ALTER TABLE watched_services
  ADD COLUMN fallback jsonb CHECK (
    fallback IS NULL OR (jsonb_typeof(fallback -> 'parameterName') = 'string'
                         AND jsonb_typeof(fallback -> 'value') = 'string')),
  ADD COLUMN maintenance_tasks text[] NOT NULL DEFAULT '{}',
  ADD COLUMN secrets text[] NOT NULL DEFAULT '{}';

ALTER TABLE remediation_steps ADD COLUMN checks integer NOT NULL DEFAULT 0 CHECK (checks >= 0);
