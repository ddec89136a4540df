/**
 * Domain error taxonomy. Agents throw these so Lambda retries and the failure
 * destination keep the event; expected outcomes are results, not errors.
 */
export class HomeostatError extends Error {
  override readonly name: string = 'HomeostatError';
}

/** The input is not something Homeostat can process; retrying will not help. */
export class InvalidEventError extends HomeostatError {
  override readonly name = 'InvalidEventError';
  constructor(
    message: string,
    readonly issues: readonly string[] = [],
    options?: ErrorOptions,
  ) {
    super(issues.length > 0 ? `${message}: ${issues.join('; ')}` : message, options);
  }
}

/** A dependency (database, AWS API) failed after retries; the event must be retried later. */
export class DependencyUnavailableError extends HomeostatError {
  override readonly name = 'DependencyUnavailableError';
  constructor(
    readonly dependency: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(`${dependency} unavailable: ${message}`, options);
  }
}

/** Configuration is missing or invalid; raised at cold start. */
export class ConfigurationError extends HomeostatError {
  override readonly name = 'ConfigurationError';
}

/** A migration already applied was edited afterwards, or a migration failed. */
export class MigrationError extends HomeostatError {
  override readonly name = 'MigrationError';
}

/** The service is gone (deleted mid-remediation): nothing to act on, nothing to undo. */
export class ServiceGoneError extends HomeostatError {
  override readonly name = 'ServiceGoneError';
}
