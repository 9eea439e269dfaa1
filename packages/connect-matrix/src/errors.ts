/**
 * Base class of every error thrown by `@iot-custom-auth/connect-matrix`: the harness cannot run (not in a
 * checkout, the stack lacks an output). `npm start` prints its message in one line and exits 2.
 */
export class ConnectMatrixError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ConnectMatrixError';
  }
}
