-- Two database roles: the migrator connects as the schema owner (this file runs as it), the
-- agents as a login that is a member of homeostat_runtime. The runtime role reads and writes
-- rows and nothing else: it owns no object, so it cannot ALTER or DROP a table, nor disable
-- or drop the append-only triggers; the append-only tables (audit log, incident timeline,
-- outcomes) grant it INSERT and SELECT only. It is NOLOGIN: in Neon, create the agents'
-- login with SQL (not in the console, which makes every role it creates a neon_superuser):
--   CREATE ROLE homeostat_agent LOGIN PASSWORD '…' IN ROLE homeostat_runtime;
-- Roles belong to the whole server (a Neon branch): another database may have created it.
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'homeostat_runtime') THEN
    CREATE ROLE homeostat_runtime NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;
  END IF;
END
$$;

GRANT USAGE ON SCHEMA public TO homeostat_runtime;
REVOKE CREATE ON SCHEMA public FROM homeostat_runtime;

-- Rows of every table: read and write.
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO homeostat_runtime;
-- Facts: appended and read, never changed or removed (the triggers refuse it too).
REVOKE UPDATE, DELETE, TRUNCATE ON audit_log, incident_timeline, outcomes FROM homeostat_runtime;
-- The migrator's ledger: the agents may read which migrations ran, never record one.
REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON schema_migrations FROM homeostat_runtime;
-- bigserial ids.
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO homeostat_runtime;

-- Tables and sequences later migrations create (run by the same owner) get the same grants;
-- a migration that adds an append-only table revokes UPDATE, DELETE, TRUNCATE on it.
ALTER DEFAULT PRIVILEGES IN SCHEMA public
  GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO homeostat_runtime;
ALTER DEFAULT PRIVILEGES IN SCHEMA public
  GRANT USAGE, SELECT ON SEQUENCES TO homeostat_runtime;
