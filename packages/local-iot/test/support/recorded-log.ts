import type { GatewayLogEntry, GatewayLogSink } from '../../src/gateway/gateway-log';
import { withTimeout } from './wait';

/** The log entries of one kind (`'publish'` is one of the kinds a `MessageLogEntry` has). */
export type LogEntryOf<E extends GatewayLogEntry['event']> = EntryWithEvent<GatewayLogEntry, E>;

type EntryWithEvent<Entry, E> = Entry extends { readonly event: infer Event }
  ? E extends Event
    ? Entry
    : never
  : never;

/** Fields a log entry must carry, each compared with `===`. */
export type LogFields = Partial<Record<string, unknown>>;

/**
 * Collects the gateway's log entries (give it `sink`) and lets a test wait for one as it is written, so no
 * test polls or sleeps.
 */
export class RecordedLog {
  readonly entries: GatewayLogEntry[] = [];
  /** Each re-checks its condition after every new entry and returns true once it resolved. */
  readonly #waiters: (() => boolean)[] = [];

  readonly sink: GatewayLogSink = (entry) => {
    this.entries.push(entry);
    for (const waiter of [...this.#waiters]) {
      if (waiter()) this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
    }
  };

  /** The entries (with their `time`) of `event` that carry every one of `fields`, in the order logged. */
  matching<E extends GatewayLogEntry['event']>(event: E, fields: LogFields = {}): LogEntryOf<E>[] {
    return this.entries.filter(
      (entry): entry is LogEntryOf<E> =>
        entry.event === event &&
        Object.entries(fields).every(
          ([key, value]) => (entry as unknown as Record<string, unknown>)[key] === value,
        ),
    );
  }

  /** Resolves with the first entry (already logged or future) of `event` matching `fields`. */
  async waitFor<E extends GatewayLogEntry['event']>(
    event: E,
    fields: LogFields = {},
  ): Promise<LogEntryOf<E>> {
    const [first] = await this.waitForCount(event, fields, 1);
    return first as LogEntryOf<E>;
  }

  /** Resolves with the entries of `event` matching `fields` as soon as there are `count` of them. */
  waitForCount<E extends GatewayLogEntry['event']>(
    event: E,
    fields: LogFields,
    count: number,
  ): Promise<LogEntryOf<E>[]> {
    const found = (): LogEntryOf<E>[] | undefined => {
      const matches = this.matching(event, fields);
      return matches.length >= count ? matches : undefined;
    };
    const already = found();
    if (already) return Promise.resolve(already);
    return withTimeout(
      new Promise((resolve) =>
        this.#waiters.push(() => {
          const matches = found();
          if (matches) resolve(matches);
          return matches !== undefined;
        }),
      ),
      `${count} log entr${count === 1 ? 'y' : 'ies'} ${event} ${JSON.stringify(fields)}; got ${JSON.stringify(this.entries.map((e) => e.event))}`,
    );
  }

  /** Entries of one kind, without their `time`. */
  of<E extends GatewayLogEntry['event']>(event: E): Omit<LogEntryOf<E>, 'time'>[] {
    return this.matching(event).map(({ time: _time, ...rest }) => rest as Omit<LogEntryOf<E>, 'time'>);
  }
}
