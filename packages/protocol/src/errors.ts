/**
 * Base class of every error thrown by `@iot-custom-auth/protocol`. Its `name` is the class name, set here once
 * for any subclass.
 */
export class ProtocolError extends Error {
  // Stated, not only inherited from the class: this code runs in the authorizer Lambda, which is bundled by
  // esbuild with --minify, and that renames classes (`new.target.name` alone would read e.g. "t" there). A
  // subclass states its own static `name` for the same reason.
  static override readonly name: string = 'ProtocolError';

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}
