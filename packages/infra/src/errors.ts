/**
 * Base class of every error `@iot-custom-auth/infra` throws on purpose: a construct prop, a context value or a
 * key file that cannot work. The message names the problem and the fix; `bin/app.ts` prints it as one line.
 * Its `name` is the class name, set here once for any subclass (this package is never minified).
 */
export class InfraError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}
