-- Diagnoses: the accepted answer per incident, the evidence it cites, and what it cost.
CREATE TABLE diagnoses (
  incident_id           uuid PRIMARY KEY REFERENCES incidents (id),
  provider              text NOT NULL CHECK (provider IN ('offline', 'bedrock')),
  -- The model whose answer was accepted (null: the offline rules).
  model                 text,
  hypotheses            jsonb NOT NULL CHECK (jsonb_typeof(hypotheses) = 'array'),
  recommended_actions   text[] NOT NULL,
  insufficient_evidence boolean NOT NULL,
  -- The investigation as the diagnoser saw it: hypotheses cite these evidence ids.
  evidence              jsonb NOT NULL CHECK (jsonb_typeof(evidence) = 'array'),
  -- Tools that could not answer, and why.
  gaps                  jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(gaps) = 'array'),
  steps                 integer NOT NULL CHECK (steps >= 0),
  input_tokens          integer NOT NULL CHECK (input_tokens >= 0),
  output_tokens         integer NOT NULL CHECK (output_tokens >= 0),
  cost_usd              numeric(12, 6) NOT NULL CHECK (cost_usd >= 0),
  fallback_reason       text,
  started_at            timestamptz NOT NULL,
  completed_at          timestamptz NOT NULL CHECK (completed_at >= started_at)
);
CREATE INDEX diagnoses_completed_idx ON diagnoses (completed_at);
