/**
 * Who holds which client id; a newer connection with the same id takes the session over. Generic so that it
 * knows nothing of what a session is: the gateway keeps `MqttSession`s in it.
 */
export class SessionRegistry<Session> {
  readonly #byClientId = new Map<string, Session>();

  /** Makes `session` the holder of `clientId`; returns the previous holder, if any. */
  claim(clientId: string, session: Session): Session | undefined {
    const previous = this.#byClientId.get(clientId);
    this.#byClientId.set(clientId, session);
    return previous === session ? undefined : previous;
  }

  /** Forgets `clientId` if `session` still holds it (a taken-over session must not evict its successor). */
  release(clientId: string, session: Session): void {
    if (this.#byClientId.get(clientId) === session) this.#byClientId.delete(clientId);
  }

  /** The connected session holding `clientId`. */
  get(clientId: string): Session | undefined {
    return this.#byClientId.get(clientId);
  }

  /** How many client ids are held: the connected clients. */
  get size(): number {
    return this.#byClientId.size;
  }
}
