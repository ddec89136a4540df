-- Approvals: one token per decision. A request carries an approve token and a reject token;
-- only their sha256 hashes are stored (a database reader cannot decide anything), and each
-- decides only its own choice for its own step. The deciding principal and the door it came
-- through are recorded; a request nobody decided in time is marked expired by the sweep.
-- Rows from before this migration have no hashes: their links are refused, the CLI still works.
ALTER TABLE approvals
  ADD COLUMN approve_token_hash text CHECK (approve_token_hash ~ '^[0-9a-f]{64}$'),
  ADD COLUMN reject_token_hash  text CHECK (reject_token_hash ~ '^[0-9a-f]{64}$'),
  ADD COLUMN decided_via        text CHECK (decided_via IN ('link', 'cli', 'expiry')),
  ADD CONSTRAINT approvals_distinct_tokens CHECK (approve_token_hash IS DISTINCT FROM reject_token_hash
                                                  OR approve_token_hash IS NULL),
  DROP CONSTRAINT approvals_decision_check,
  ADD CONSTRAINT approvals_decision_check CHECK (decision IN ('approved', 'rejected', 'expired')),
  -- A human decision names who decided; an expiry is nobody's.
  ADD CONSTRAINT approvals_decided_by_check CHECK (decision IS NULL OR decision = 'expired' OR decided_by IS NOT NULL);

-- The sweep's question: which undecided requests are past their expiry.
CREATE INDEX approvals_pending_expiry_idx ON approvals (expires_at) WHERE decision IS NULL;
