/**
 * Base class of every error thrown by `@iot-custom-auth/local-iot`. Its `name` is the class name, set here
 * once for every subclass (this package is compiled by tsc and never minified, so class names survive).
 */
export class LocalIotError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/**
 * The synthesized stack cannot be served: `cdk.out` is missing or malformed, or the template uses something
 * local-iot cannot resolve. A configuration error (the CLI exits 2): the message names what and the fix.
 */
export class DeploymentError extends LocalIotError {}
