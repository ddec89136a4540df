-- Knowledge base: a graph of problems, solutions, runbooks and incidents searchable by meaning,
-- the outcome of every executed action with success rates derived from them, the audit log,
-- and an embedding cache.

CREATE TYPE knowledge_node_kind AS ENUM (
  'problem', 'solution', 'pattern', 'runbook', 'service', 'incident', 'action', 'agent');
CREATE TYPE knowledge_relation AS ENUM (
  'solves', 'causes', 'requires', 'similar_to', 'evolves_into', 'triggers', 'leads_to',
  'mitigates', 'depends_on', 'conflicts_with');
CREATE TYPE outcome_result AS ENUM ('resolved', 'no_effect', 'worse', 'undone', 'error');

CREATE TABLE knowledge_nodes (
  id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  kind         knowledge_node_kind NOT NULL,
  -- Natural key within the kind: a root cause ('oom'), an action, 'cluster/service', an
  -- incident id, a runbook chunk ('oom#2'). Upserts go through (kind, key).
  key          text NOT NULL CHECK (key <> ''),
  title        text NOT NULL,
  content      text NOT NULL DEFAULT '',
  -- sha256 of title and content: ingesting the same text again changes nothing.
  content_hash text NOT NULL CHECK (content_hash ~ '^[0-9a-f]{64}$'),
  payload      jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(payload) = 'object'),
  -- Filters for "similar past incidents" (set on incident, problem and pattern nodes).
  cluster      text,
  service      text,
  fingerprint  text,
  search       tsvector GENERATED ALWAYS AS (
                 setweight(to_tsvector('english', title), 'A') ||
                 setweight(to_tsvector('english', content), 'B')) STORED,
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now(),
  UNIQUE (kind, key)
);
CREATE INDEX knowledge_nodes_search_idx ON knowledge_nodes USING gin (search);
CREATE INDEX knowledge_nodes_service_idx ON knowledge_nodes (kind, cluster, service);
CREATE INDEX knowledge_nodes_fingerprint_idx ON knowledge_nodes (kind, fingerprint);

-- A node's embeddings, one per model. Vectors of different models are not comparable, so
-- every search names its model; the offline model's vector is always written, so search
-- still works (on that model) while Bedrock is unavailable.
CREATE TABLE knowledge_embeddings (
  node_id      uuid NOT NULL REFERENCES knowledge_nodes (id) ON DELETE CASCADE,
  model        text NOT NULL,
  -- The node content this vector was computed from; a changed node is re-embedded.
  content_hash text NOT NULL,
  embedding    vector(1024) NOT NULL,
  -- Copies of the node's search filters (kept by the triggers below): an HNSW scan can only
  -- apply filters on its own table, and with iterative scans it keeps walking until enough
  -- rows pass them. Filtering through a join makes the planner drop the index for a full scan.
  kind         knowledge_node_kind NOT NULL,
  cluster      text,
  service      text,
  fingerprint  text,
  created_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (node_id, model)
);
CREATE INDEX knowledge_embeddings_hnsw_idx ON knowledge_embeddings
  USING hnsw (embedding vector_cosine_ops);

CREATE FUNCTION knowledge_embedding_copy_filters() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  SELECT n.kind, n.cluster, n.service, n.fingerprint INTO NEW.kind, NEW.cluster, NEW.service, NEW.fingerprint
    FROM knowledge_nodes n WHERE n.id = NEW.node_id;
  RETURN NEW;
END;
$$;
CREATE TRIGGER knowledge_embeddings_copy_filters
  BEFORE INSERT OR UPDATE ON knowledge_embeddings
  FOR EACH ROW EXECUTE FUNCTION knowledge_embedding_copy_filters();

CREATE FUNCTION knowledge_node_push_filters() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  -- Any update will do: the BEFORE trigger above copies every filter afresh.
  UPDATE knowledge_embeddings SET kind = NEW.kind WHERE node_id = NEW.id;
  RETURN NULL;
END;
$$;
CREATE TRIGGER knowledge_nodes_push_filters
  AFTER UPDATE OF kind, cluster, service, fingerprint ON knowledge_nodes
  FOR EACH ROW
  WHEN ((OLD.kind, OLD.cluster, OLD.service, OLD.fingerprint)
        IS DISTINCT FROM (NEW.kind, NEW.cluster, NEW.service, NEW.fingerprint))
  EXECUTE FUNCTION knowledge_node_push_filters();

CREATE TABLE knowledge_edges (
  from_id    uuid NOT NULL REFERENCES knowledge_nodes (id) ON DELETE CASCADE,
  relation   knowledge_relation NOT NULL,
  to_id      uuid NOT NULL REFERENCES knowledge_nodes (id) ON DELETE CASCADE,
  weight     double precision NOT NULL DEFAULT 1 CHECK (weight >= 0),
  payload    jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(payload) = 'object'),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (from_id, relation, to_id),
  CHECK (from_id <> to_id)
);
CREATE INDEX knowledge_edges_to_idx ON knowledge_edges (to_id, relation);

-- One row per executed action. Facts do not change: append-only. No foreign key to
-- incidents: outcomes outlive incident retention and may be imported from other stacks.
CREATE TABLE outcomes (
  id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  -- Incident and step: a redelivered event records its outcome once.
  idempotency_key    text NOT NULL UNIQUE,
  incident_id        uuid NOT NULL,
  cluster            text NOT NULL,
  service            text NOT NULL,
  fingerprint        text NOT NULL,
  root_cause         text NOT NULL,
  action             text NOT NULL,
  parameters         jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(parameters) = 'object'),
  result             outcome_result NOT NULL,
  started_at         timestamptz NOT NULL,
  finished_at        timestamptz NOT NULL CHECK (finished_at >= started_at),
  -- Incident opened → resolved, when the action resolved it.
  time_to_resolve_ms bigint CHECK (time_to_resolve_ms >= 0),
  recorded_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX outcomes_fingerprint_idx ON outcomes (fingerprint, action);
CREATE INDEX outcomes_root_cause_idx ON outcomes (root_cause, action);
CREATE INDEX outcomes_incident_idx ON outcomes (incident_id);
CREATE TRIGGER outcomes_append_only
  BEFORE UPDATE OR DELETE ON outcomes FOR EACH ROW EXECUTE FUNCTION reject_change();

-- Success rate of each action, per fingerprint and per root cause, computed on read.
--
-- Each outcome weighs 0.5^(age / half-life): recent evidence counts more, because services,
-- images and traffic change. Resolved counts as a success; no_effect, worse, undone and error
-- as failures. The rate is the mean of Beta(prior_successes + S, prior_failures + F), so an
-- action with no history sits at the prior (0.5 by default) and one lucky run cannot look
-- certain. lower_bound is mean − 1.2816·sd (≈ the 10th percentile): a cautious ranking key.
--
-- A function rather than a maintained table: the weights depend on "now", so stored rates
-- would go stale between outcomes, and outcomes are few (one per executed action).
CREATE FUNCTION action_success_rates(
  half_life_days  double precision DEFAULT 30,
  prior_successes double precision DEFAULT 1,
  prior_failures  double precision DEFAULT 1,
  as_of           timestamptz DEFAULT now())
RETURNS TABLE (scope text, key text, action text, outcomes bigint, successes double precision,
               failures double precision, rate double precision, lower_bound double precision,
               last_outcome_at timestamptz)
LANGUAGE sql STABLE AS $$
  WITH weighted AS (
    SELECT fingerprint, root_cause, action, finished_at, result = 'resolved' AS success,
           power(0.5, greatest(extract(epoch FROM as_of - finished_at), 0) / 86400.0 / half_life_days) AS w
      FROM outcomes
     WHERE finished_at <= as_of
  ), scoped AS (
    SELECT 'fingerprint'::text AS scope, fingerprint AS key, action, finished_at, success, w FROM weighted
    UNION ALL
    SELECT 'root_cause'::text, root_cause, action, finished_at, success, w FROM weighted
  ), sums AS (
    SELECT scope, key, action, count(*) AS outcomes,
           coalesce(sum(w) FILTER (WHERE success), 0) AS s,
           coalesce(sum(w) FILTER (WHERE NOT success), 0) AS f,
           max(finished_at) AS last_outcome_at
      FROM scoped GROUP BY scope, key, action
  ), beta AS (
    SELECT *, prior_successes + s AS a, prior_failures + f AS b FROM sums
  )
  SELECT scope, key, action, outcomes, s, f, a / (a + b),
         greatest(0, a / (a + b) - 1.2816 * sqrt(a * b / ((a + b) ^ 2 * (a + b + 1)))),
         last_outcome_at
    FROM beta
$$;

-- Every agent decision and action, with who decided, a hash of the inputs, and the result.
CREATE TABLE audit_log (
  id          bigserial PRIMARY KEY,
  at          timestamptz NOT NULL DEFAULT now(),
  actor       text NOT NULL CHECK (actor <> ''),
  action      text NOT NULL CHECK (action <> ''),
  incident_id uuid,
  inputs_hash text NOT NULL CHECK (inputs_hash ~ '^[0-9a-f]{64}$'),
  inputs      jsonb NOT NULL DEFAULT '{}',
  result      text NOT NULL CHECK (result <> ''),
  detail      jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_incident_idx ON audit_log (incident_id, id);
CREATE INDEX audit_log_at_idx ON audit_log (at);
CREATE TRIGGER audit_log_append_only
  BEFORE UPDATE OR DELETE ON audit_log FOR EACH ROW EXECUTE FUNCTION reject_change();
CREATE TRIGGER audit_log_no_truncate
  BEFORE TRUNCATE ON audit_log FOR EACH STATEMENT EXECUTE FUNCTION reject_change();
CREATE TRIGGER incident_timeline_no_truncate
  BEFORE TRUNCATE ON incident_timeline FOR EACH STATEMENT EXECUTE FUNCTION reject_change();

-- The same text is never embedded twice by the same model.
CREATE TABLE embedding_cache (
  model        text NOT NULL,
  content_hash text NOT NULL CHECK (content_hash ~ '^[0-9a-f]{64}$'),
  embedding    vector(1024) NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (model, content_hash)
);

-- Service registry: an autonomy level per service (the default) and per action (overrides).
CREATE FUNCTION autonomy_levels_valid(levels jsonb) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
  SELECT jsonb_typeof(levels) = 'object'
     AND NOT EXISTS (SELECT 1 FROM jsonb_each(levels)
                      WHERE value NOT IN ('"observe"'::jsonb, '"approve"'::jsonb, '"auto"'::jsonb))
$$;
ALTER TABLE watched_services
  ADD COLUMN default_autonomy text NOT NULL DEFAULT 'observe'
    CHECK (default_autonomy IN ('observe', 'approve', 'auto')),
  ADD CONSTRAINT watched_services_autonomy_check CHECK (autonomy_levels_valid(autonomy));
