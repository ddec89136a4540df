-- Foundation: pgvector for the knowledge base, and the signals the perception agent records.
CREATE EXTENSION IF NOT EXISTS vector;

CREATE TABLE signals (
  id               text PRIMARY KEY,              -- source event id: redelivery is a no-op
  kind             text NOT NULL CHECK (kind IN ('alarm')),
  name             text NOT NULL,
  state            text NOT NULL CHECK (state IN ('OK', 'ALARM', 'INSUFFICIENT_DATA')),
  previous_state   text,
  reason           text NOT NULL DEFAULT '',
  occurred_at      timestamptz NOT NULL,
  received_at      timestamptz NOT NULL DEFAULT now(),
  cluster          text,
  service          text,
  service_snapshot jsonb,
  raw              jsonb NOT NULL
);

CREATE INDEX signals_service_time_idx ON signals (cluster, service, occurred_at DESC);
