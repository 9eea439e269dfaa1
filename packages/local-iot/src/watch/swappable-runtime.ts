import type { ConnectAttempt, ConnectAuthorizer, ConnectDecision } from '../auth/connect-types';
import type { HttpAuthorization, HttpAuthorizationRequest } from '../auth/custom-auth-pipeline';
import type { LocalRuntime } from '../local-runtime';

/** One deployment served, with the decisions it is still making. */
interface Generation {
  readonly runtime: LocalRuntime;
  inFlight: number;
  /** Set once a newer deployment replaced it: it closes as soon as its last decision is made. */
  retired?: () => void;
}

/**
 * The gateway's authorizer across deployments: every new decision (a CONNECT, a policy refresh, an HTTPS
 * request) goes to the deployment current when it starts, as AWS IoT uses the new authorizer and function
 * version for whatever comes after a deploy while connected clients keep their session until the next
 * refresh. A replaced deployment finishes the decisions it started, then its functions and API are closed.
 */
export class SwappableRuntime implements ConnectAuthorizer {
  #current: Generation;
  readonly #retiring = new Set<Promise<void>>();

  constructor(runtime: LocalRuntime) {
    this.#current = { runtime, inFlight: 0 };
  }

  /** The deployment new decisions go to. */
  get current(): LocalRuntime {
    return this.#current.runtime;
  }

  authorize(attempt: ConnectAttempt): Promise<ConnectDecision> {
    return this.#decide((runtime) => runtime.authorizer.authorize(attempt));
  }

  authorizeHttp(request: HttpAuthorizationRequest): Promise<HttpAuthorization> {
    return this.#decide((runtime) => runtime.authorizer.authorizeHttp(request));
  }

  /**
   * Serves `next` from now on and retires the current deployment: it is closed once the decisions it is
   * making are made. Returns the deployment replaced.
   */
  swap(next: LocalRuntime): LocalRuntime {
    const previous = this.#current;
    this.#current = { runtime: next, inFlight: 0 };
    const closed = new Promise<void>((resolve) => {
      previous.retired = resolve;
      if (previous.inFlight === 0) resolve();
    }).then(() => previous.runtime.close());
    this.#retiring.add(closed);
    const forget = (): void => void this.#retiring.delete(closed);
    closed.then(forget, forget);
    return previous.runtime;
  }

  /** Closes the current deployment and waits for the retired ones to close. */
  async close(): Promise<void> {
    await Promise.all([this.#current.runtime.close(), ...this.#retiring]);
  }

  async #decide<T>(decide: (runtime: LocalRuntime) => Promise<T>): Promise<T> {
    const generation = this.#current;
    generation.inFlight += 1;
    try {
      return await decide(generation.runtime);
    } finally {
      generation.inFlight -= 1;
      if (generation.inFlight === 0) generation.retired?.();
    }
  }
}
