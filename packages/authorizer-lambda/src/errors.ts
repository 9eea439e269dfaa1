/**
 * Base class of every error thrown by `@iot-custom-auth/authorizer-lambda`. Its `name` is the class name, set
 * here once for every subclass.
 *
 * Each class states its name as a static `name`: the Lambda is bundled by esbuild with --minify (by
 * packages/infra and the `bundle` script), which renames classes, so `new.target.name` alone would read e.g.
 * "t" in the Lambda's logs and init errors. Stating it here keeps the names right whatever the bundler's
 * settings (esbuild's `keepNames` would also do, but only where every bundling sets it).
 */
export class AuthorizerError extends Error {
  static override readonly name: string = 'AuthorizerError';

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/**
 * The Lambda's configuration (its environment) is wrong. Thrown at cold start so the function fails loudly
 * and visibly (an init error in its logs) instead of denying every device for a reason nobody sees.
 */
export class ConfigError extends AuthorizerError {
  static override readonly name = 'ConfigError';
}

/** Why the master secret could not be had: Secrets Manager failed or was slow, or the value is unusable. */
export type CredentialsUnavailableReason = 'SECRET_UNAVAILABLE' | 'SECRET_INVALID';

/**
 * The master secret could not be read from Secrets Manager. The handler turns it into a refusal (fail closed,
 * 0x87: the credentials were never checked); it never reaches AWS IoT as an exception. The message never
 * contains the secret's value.
 */
export class CredentialsUnavailableError extends AuthorizerError {
  static override readonly name = 'CredentialsUnavailableError';
  readonly reason: CredentialsUnavailableReason;

  constructor(reason: CredentialsUnavailableReason, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.reason = reason;
  }
}
