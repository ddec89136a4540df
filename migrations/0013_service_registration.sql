-- Which deployed registration (a WatchedService's CloudFormation custom resource: "<stack id>/<logical id>")
-- last declared the service. A delete unregisters the service only when it comes from that same
-- registration: a WatchedService moved to another stack (created there, then deleted here) or
-- declared twice must not unwatch a service another registration still declares.
-- NULL: registered before this column, by the CLI, or by the local harness.
ALTER TABLE watched_services ADD COLUMN registered_by text;
