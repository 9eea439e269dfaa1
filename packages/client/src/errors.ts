/**
 * Base class of every error the connect client throws on purpose. `cli.ts` maps the subclasses to exit codes.
 * Its `name` is the class name, set here once for every subclass (this package is compiled by tsc and never
 * minified, so class names survive).
 */
export class ClientError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A flag is unknown, malformed or conflicts with another one. Exit code 2. */
export class UsageError extends ClientError {}

/**
 * The environment is not set up for a connection: no stack outputs, an unreadable key or CA file, a secret that
 * does not exist or cannot be read. Nothing was sent to the MQTT endpoint. Exit code 2.
 */
export class ConfigError extends ClientError {}

/** A call to an AWS service failed for a reason that may pass (network, throttling, a 5xx). Exit code 1. */
export class RuntimeError extends ClientError {}

/**
 * The MQTT connection was refused, failed or timed out, or did not end cleanly. `main()` has already printed
 * the full report (reason code, likely causes), so the CLI prints nothing more. Exit code 1.
 */
export class ConnectionFailedError extends ClientError {}

/**
 * Turns an AWS SDK v3 error into a `ConfigError` when retrying cannot help (4xx other than throttling, missing
 * credentials or region) or a `RuntimeError` otherwise, with `what` (e.g. "reading the device secret ...") and
 * the service's own error name and message, which never contain the secret value.
 */
export function awsCallError(what: string, error: unknown, fix: string): ConfigError | RuntimeError {
  const name = error instanceof Error ? error.name : 'Error';
  // The fix follows as its own sentence: drop the service's final period to avoid "..".
  const message = (error instanceof Error ? error.message : String(error)).replace(/\.\s*$/, '');
  const status = (error as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata
    ?.httpStatusCode;
  const throttled = status === 429 || /Throttl|TooManyRequests/i.test(name);
  const setupProblem =
    /CredentialsProviderError|ExpiredToken|UnrecognizedClient|InvalidClientTokenId|AccessDenied/i.test(
      name,
    ) || /Region is missing|Could not load credentials/i.test(message);
  const text = `${what} failed: ${name === 'Error' ? '' : `${name}: `}${message}`;
  if (setupProblem || (status !== undefined && status >= 400 && status < 500 && !throttled)) {
    return new ConfigError(`${text}. ${fix}`, { cause: error });
  }
  return new RuntimeError(`${text}. Check the network and try again.`, { cause: error });
}

/**
 * The exit code of a command that failed with `error`, after one line on stderr: 2 for usage and configuration
 * errors, 1 for a refused connect (already reported) and runtime errors, 1 and the stack for a bug.
 */
export function reportFailure(error: unknown, stderr: (text: string) => void): 0 | 1 | 2 {
  if (error instanceof ConnectionFailedError) return 1;
  if (error instanceof UsageError) {
    stderr(`Error: ${error.message}\nRun with --help for usage.\n`);
    return 2;
  }
  if (error instanceof ConfigError) {
    stderr(`Error: ${error.message}\n`);
    return 2;
  }
  if (error instanceof RuntimeError) {
    stderr(`Error: ${error.message}\n`);
    return 1;
  }
  stderr(
    `Unexpected error (please report it): ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  return 1;
}
