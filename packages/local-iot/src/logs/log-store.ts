import { closeSync, writeSync } from 'node:fs';
import * as path from 'node:path';
import { ensurePrivateDirectory, openPrivateLogFile } from '../private-state-files';
import { TurnBatchedWriter } from './turn-batched-writer';

/** One log event as CloudWatch Logs stores it. */
export interface StoredLogEvent {
  readonly logStreamName: string;
  /** Milliseconds since the epoch: when the event happened. */
  readonly timestamp: number;
  /** Milliseconds since the epoch: when the store received it. */
  readonly ingestionTime: number;
  readonly message: string;
  /** Unique within the store, increasing in arrival order. */
  readonly eventId: string;
  /** Arrival order, for stable sorting and pagination. */
  readonly sequence: number;
}

/** A log group and what it holds. */
export interface StoredLogGroup {
  readonly name: string;
  readonly creationTime: number;
  readonly streams: ReadonlyMap<string, { readonly creationTime: number }>;
  readonly events: readonly StoredLogEvent[];
  readonly storedBytes: number;
}

/** Settings of a {@link LocalLogStore}. */
export interface LocalLogStoreOptions {
  /**
   * Where each group is also written as a file, one line per event (`<ISO time> <stream> <message>`),
   * 0600 in a 0700 directory. @default none (memory only)
   */
  readonly directory?: string;
  /**
   * Most events kept in memory per group; older ones are dropped first (the file keeps them). Bounds
   * local-iot's memory under a connect storm. @default 50_000
   */
  readonly maxEventsPerGroup?: number;
  /** The clock events are stamped with. @default Date.now */
  readonly now?: () => number;
}

const DEFAULT_MAX_EVENTS_PER_GROUP = 50_000;

/**
 * Local CloudWatch Logs: log groups of log streams of events, written by local-iot at the moment things
 * happen (the Lambda functions' lines, AWS IoT's `AWSIotLogsV2` entries) and read through the local
 * CloudWatch Logs API (`FilterLogEvents`, `DescribeLogGroups`). A write is synchronous, so a record written
 * before a CONNACK is readable by the time the client has the CONNACK.
 */
export class LocalLogStore {
  private readonly groups = new Map<string, MutableGroup>();
  /**
   * Each group's file, written once per event-loop turn (see TurnBatchedWriter) with one synchronous write:
   * a regular file takes it into the page cache at once, without a trip through libuv's thread pool.
   */
  private readonly files = new Map<string, { readonly fd: number; readonly lines: TurnBatchedWriter }>();
  private readonly maxEvents: number;
  private readonly now: () => number;
  private sequence = 0;

  constructor(private readonly options: LocalLogStoreOptions = {}) {
    this.maxEvents = options.maxEventsPerGroup ?? DEFAULT_MAX_EVENTS_PER_GROUP;
    this.now = options.now ?? Date.now;
    if (options.directory !== undefined) ensurePrivateDirectory(options.directory);
  }

  /** Creates `name` when it does not exist yet (as Lambda and AWS IoT create their groups on first write). */
  createLogGroup(name: string): void {
    if (!this.groups.has(name)) {
      this.groups.set(name, {
        name,
        creationTime: this.now(),
        streams: new Map(),
        events: [],
        storedBytes: 0,
      });
      // The group's file exists from now on, so a path printed at start-up can be opened (empty) at once.
      this.fileFor(name);
    }
  }

  /** Appends one event (the group and stream are created on first use). */
  put(groupName: string, streamName: string, message: string, timestamp = this.now()): void {
    this.createLogGroup(groupName);
    const group = this.groups.get(groupName) as MutableGroup;
    if (!group.streams.has(streamName)) group.streams.set(streamName, { creationTime: this.now() });
    const sequence = ++this.sequence;
    group.events.push({
      logStreamName: streamName,
      timestamp,
      ingestionTime: this.now(),
      message,
      eventId: String(sequence).padStart(20, '0'),
      sequence,
    });
    group.storedBytes += Buffer.byteLength(message);
    if (group.events.length > this.maxEvents) {
      const dropped = group.events.splice(0, group.events.length - this.maxEvents);
      for (const event of dropped) group.storedBytes -= Buffer.byteLength(event.message);
    }
    this.fileFor(groupName)?.writeLine(`${new Date(timestamp).toISOString()} ${streamName} ${message}`);
  }

  /** The group called `name`, or undefined. */
  group(name: string): StoredLogGroup | undefined {
    return this.groups.get(name);
  }

  /** Every group, by name. */
  groupNames(): string[] {
    return [...this.groups.keys()].sort();
  }

  /** The file group `name` is written to, when the store writes files. */
  filePath(name: string): string | undefined {
    const { directory } = this.options;
    return directory === undefined ? undefined : path.join(directory, logFileName(name));
  }

  /** Writes what is queued and closes the files. Safe to call twice. */
  close(): Promise<void> {
    for (const { fd, lines } of this.files.values()) {
      lines.close();
      closeSync(fd);
    }
    this.files.clear();
    return Promise.resolve();
  }

  private fileFor(groupName: string): TurnBatchedWriter | undefined {
    const file = this.filePath(groupName);
    if (file === undefined) return undefined;
    let opened = this.files.get(groupName);
    if (opened === undefined) {
      const fd = openPrivateLogFile(file);
      // A failed write (a full disk) drops that turn's lines from the file only: the memory copy and the API
      // still serve them, and the gateway goes on.
      opened = { fd, lines: new TurnBatchedWriter((chunk) => writeWhole(fd, chunk)) };
      this.files.set(groupName, opened);
    }
    return opened.lines;
  }
}

interface MutableGroup {
  readonly name: string;
  readonly creationTime: number;
  readonly streams: Map<string, { readonly creationTime: number }>;
  readonly events: StoredLogEvent[];
  storedBytes: number;
}

/** `/aws/lambda/fn` → `aws-lambda-fn.log`: one flat, readable file name per group. */
export function logFileName(groupName: string): string {
  const flat = groupName.replace(/^\/+/, '').replace(/[^A-Za-z0-9._-]+/g, '-');
  return `${flat || 'group'}.log`;
}

/** Writes all of `chunk` to `fd` (a write to a regular file may take fewer bytes than asked). */
function writeWhole(fd: number, chunk: string): void {
  const bytes = Buffer.from(chunk);
  for (let offset = 0; offset < bytes.length;) offset += writeSync(fd, bytes, offset);
}
