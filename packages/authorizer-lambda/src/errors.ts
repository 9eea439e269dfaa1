/** Base class of every error thrown by `@iot-custom-auth/authorizer-lambda`. */
export class AuthorizerError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AuthorizerError';
  }
}

/**
 * The Lambda's configuration (its environment) is wrong. Thrown at cold start so the function fails loudly
 * and visibly (an init error in its logs) instead of denying every device for a reason nobody sees.
 */
export class ConfigError extends AuthorizerError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ConfigError';
  }
}

/** Why the device credentials could not be had: Secrets Manager failed or was slow, or the value is unusable. */
export type CredentialsUnavailableReason = 'SECRET_UNAVAILABLE' | 'SECRET_INVALID';

/**
 * The device credentials could not be read from Secrets Manager. The handler turns it into a deny (fail
 * closed); it never reaches AWS IoT as an exception. The message never contains the secret's value.
 */
export class CredentialsUnavailableError extends AuthorizerError {
  readonly reason: CredentialsUnavailableReason;

  constructor(reason: CredentialsUnavailableReason, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CredentialsUnavailableError';
    this.reason = reason;
  }
}
