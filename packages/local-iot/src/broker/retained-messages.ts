import { AWS_IOT_MESSAGE_BROKER_QUOTAS as QUOTAS } from '@iot-custom-auth/protocol';
import type { GatewayClock } from '../gateway/gateway-clock';

/** Quotas on retained messages, for the whole broker (AWS IoT counts them per account). */
export interface RetainedLimits {
  /** Retained messages kept at once. */
  readonly maxMessages: number;
  /** Bytes of retained messages kept at once (as each would be sent: topic, payload, properties). */
  readonly maxBytes: number;
  /** Retained messages one topic may take per second. */
  readonly publishesPerSecondPerTopic: number;
  /** Retained messages the broker takes per second, all topics together. */
  readonly publishesPerSecondPerAccount: number;
}

/**
 * AWS IoT Core's retained-message quotas (see `AWS_IOT_MESSAGE_BROKER_QUOTAS`), and [choice] a local bound
 * on their bytes: AWS's 500,000 messages of up to 128 KB each would be 64 GB on a developer's machine, so
 * local-iot also keeps at most 64 MiB of them (a thousand of the 64 KB messages a device might keep as
 * state), whichever limit comes first.
 */
export const RETAINED_DEFAULTS: RetainedLimits = {
  maxMessages: QUOTAS.maxRetainedMessagesPerAccount,
  maxBytes: 64 * 1024 * 1024,
  publishesPerSecondPerTopic: QUOTAS.retainedPublishesPerSecondPerTopic,
  publishesPerSecondPerAccount: QUOTAS.retainedPublishesPerSecondPerAccount,
};

interface Entry<M> {
  readonly message: M;
  readonly bytes: number;
  /** Clock time it was stored, for the per-topic rate. */
  readonly storedAt: number;
}

/**
 * One retained message per topic, within `RetainedLimits`: a message a quota refuses changes nothing, and
 * the caller answers the client with the reason. Clearing (an empty retained PUBLISH) is never refused: it
 * is how a device frees what it holds, and AWS IoT applies its count quota only to "payloads greater than
 * 0 bytes". [choice] The rates count the messages stored, not the requests refused.
 */
export class RetainedMessages<M> {
  readonly limits: RetainedLimits;
  readonly #clock: GatewayClock;
  readonly #isLive: (message: M) => boolean;
  readonly #entries = new Map<string, Entry<M>>();
  #bytes = 0;
  /** Start (clock time) of the current one-second window of the account rate, and its count. */
  #windowStart = Number.NEGATIVE_INFINITY;
  #windowCount = 0;

  /** @param isLive Whether a message may still be sent (false once its Message Expiry Interval passed). */
  constructor(limits: RetainedLimits, clock: GatewayClock, isLive: (message: M) => boolean) {
    this.limits = limits;
    this.#clock = clock;
    this.#isLive = isLive;
  }

  /** Retained messages kept, expired ones not yet swept included. */
  get count(): number {
    return this.#entries.size;
  }

  /** Their bytes. */
  get bytes(): number {
    return this.#bytes;
  }

  /** The live retained message of `topic`; an expired one is forgotten. */
  get(topic: string): M | undefined {
    const entry = this.#entries.get(topic);
    if (!entry) return undefined;
    if (this.#isLive(entry.message)) return entry.message;
    this.clear(topic);
    return undefined;
  }

  /** Topics with a live retained message. */
  topics(): string[] {
    return [...this.#entries].filter(([, entry]) => this.#isLive(entry.message)).map(([topic]) => topic);
  }

  /**
   * Keeps `message` (of `bytes`) as the retained message of `topic`, replacing the one before; returns why a
   * quota refuses it instead, naming the quota and what to do.
   */
  store(topic: string, message: M, bytes: number): string | undefined {
    const now = this.#clock.now();
    const refusal = this.#rateRefusal(topic, now) ?? this.#sizeRefusal(topic, bytes);
    if (refusal) return refusal;
    this.clear(topic);
    this.#entries.set(topic, { message, bytes, storedAt: now });
    this.#bytes += bytes;
    this.#windowCount += 1;
    return undefined;
  }

  /** Forgets the retained message of `topic`, if any. */
  clear(topic: string): void {
    const entry = this.#entries.get(topic);
    if (!entry) return;
    this.#entries.delete(topic);
    this.#bytes -= entry.bytes;
  }

  #rateRefusal(topic: string, now: number): string | undefined {
    const { publishesPerSecondPerTopic, publishesPerSecondPerAccount } = this.limits;
    const previous = this.#entries.get(topic);
    const elapsedMs = previous ? now - previous.storedAt : Number.POSITIVE_INFINITY;
    if (elapsedMs < 1000 / publishesPerSecondPerTopic) {
      return `'${topic}' took a retained message ${Math.round(elapsedMs)} ms ago: a topic takes at most ${publishesPerSecondPerTopic} retained message${publishesPerSecondPerTopic === 1 ? '' : 's'} per second (AWS IoT Core quota "Retained message publish requests per second per topic"); publish state changes less often`;
    }
    if (now - this.#windowStart >= 1000) {
      this.#windowStart = now;
      this.#windowCount = 0;
    }
    if (this.#windowCount >= publishesPerSecondPerAccount) {
      return `${this.#windowCount} retained messages were already stored this second: at most ${publishesPerSecondPerAccount} per second (AWS IoT Core quota "Retained message publish requests per second per account"); retry later`;
    }
    return undefined;
  }

  #sizeRefusal(topic: string, bytes: number): string | undefined {
    const refusal = (): string | undefined => {
      const replaced = this.#entries.get(topic);
      const count = this.#entries.size + (replaced ? 0 : 1);
      const total = this.#bytes - (replaced?.bytes ?? 0) + bytes;
      const { maxMessages, maxBytes } = this.limits;
      if (count > maxMessages) {
        return `${this.#entries.size} retained messages are kept, the most there may be (AWS IoT Core quota "Maximum number of retained messages per account", ${maxMessages}); clear some with an empty retained PUBLISH`;
      }
      if (total > maxBytes) {
        return `retained messages hold ${this.#bytes} bytes and this ${bytes}-byte one would pass local-iot's bound of ${maxBytes} bytes of retained messages (it stands in for AWS IoT Core's per-account count quota); clear some with an empty retained PUBLISH`;
      }
      return undefined;
    };
    if (!refusal()) return undefined;
    // Expired messages still count until swept: sweep only when a quota is reached, then decide again.
    for (const [expiredTopic, entry] of this.#entries) {
      if (!this.#isLive(entry.message)) this.clear(expiredTopic);
    }
    return refusal();
  }
}
