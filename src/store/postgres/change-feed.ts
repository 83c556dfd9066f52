/**
 * The PostgreSQL change feed between processes. Every transaction that advances the config
 * version sends `pg_notify(CHANNEL, version)` before it commits, so PostgreSQL delivers the
 * notification at commit, in commit order, to every session listening on the channel. Each store
 * keeps one session connection of its own (not from the pool: a pooled connection is shared and
 * may be closed) that LISTENs and turns notifications into notices for the store's listeners.
 *
 * Notifications are lost while that connection is down, so two things cover for it: a poll of the
 * committed version (about a second; a cheap one-row read) that notices any version it has not
 * announced, and after a reconnect (with backoff) a `reload` notice at the version then.
 */
import pg from 'pg';
import type { ControlChangeNotice } from '../types.js';
import { redactUrl } from './connection.js';

/** The notification channel of the control database's feed. */
export const CHANNEL = 'flagscope_control';

export interface PgChangeFeedOptions {
  url: string;
  /** Reads the committed config version (`SELECT version FROM config_state`). */
  readVersion: () => Promise<number>;
  log: (line: string) => void;
  /** Milliseconds between polls of the committed version; 0: no poll. */
  pollMs: number;
  /** The first delay before reconnecting the LISTEN connection; it doubles up to `maxReconnectMs`. */
  reconnectMs: number;
  maxReconnectMs: number;
}

/** The listeners of one store, told of commits made by this process and by every other one. */
export class PgChangeFeed {
  private readonly listeners = new Set<(notice: ControlChangeNotice) => void>();
  /** The highest config version announced to the listeners. */
  private announced = 0;
  private client: pg.Client | undefined;
  private pollTimer: NodeJS.Timeout | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private polling = false;
  private pollFailing = false;
  private delay: number;
  private closed = false;

  constructor(private readonly options: PgChangeFeedOptions) {
    this.delay = options.reconnectMs;
  }

  /** Connects the LISTEN session and starts the poll; resolves once notifications flow. */
  async start(initialVersion: number): Promise<void> {
    this.announced = initialVersion;
    this.client = await this.connect();
    if (this.options.pollMs > 0) {
      this.pollTimer = setInterval(() => void this.poll(), this.options.pollMs);
      this.pollTimer.unref();
    }
  }

  /** Adds a listener; returns its removal. */
  listen(listener: (notice: ControlChangeNotice) => void): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  /** Announces a commit of this process, with its changes. */
  notifyLocal(notice: ControlChangeNotice): void {
    this.deliver(notice);
  }

  /** Reads the committed version now and announces it if it is new (what the timer does every `pollMs`). */
  async poll(): Promise<void> {
    if (this.polling || this.closed) return;
    this.polling = true;
    try {
      const version = await this.options.readVersion();
      if (this.pollFailing) this.options.log('control store: the version poll works again');
      this.pollFailing = false;
      this.deliver({ configVersion: version });
    } catch (e) {
      if (!this.pollFailing && !this.closed) this.options.log(`control store: cannot poll the config version: ${(e as Error).message}`);
      this.pollFailing = true;
    } finally {
      this.polling = false;
    }
  }

  /** The backend process id of the LISTEN session (for tests and diagnostics), when connected. */
  get listenPid(): number | undefined {
    return (this.client as (pg.Client & { processID?: number }) | undefined)?.processID;
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.pollTimer !== undefined) clearInterval(this.pollTimer);
    if (this.reconnectTimer !== undefined) clearTimeout(this.reconnectTimer);
    this.listeners.clear();
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => undefined);
  }

  private deliver(notice: ControlChangeNotice): void {
    if (this.closed) return;
    // A bare version already announced says nothing new; a local commit's changes still go out
    // (its own NOTIFY may have come back first), and listeners skip what they have applied.
    if (notice.reload !== true && notice.changes === undefined && notice.configVersion <= this.announced) return;
    this.announced = Math.max(this.announced, notice.configVersion);
    for (const listener of this.listeners) {
      try {
        listener(notice);
      } catch {
        // A listener's failure is its own: it catches up from `changesSince` on the next notice.
      }
    }
  }

  private async connect(): Promise<pg.Client> {
    const client = new pg.Client({ connectionString: this.options.url, application_name: 'flagscope-listen', keepAlive: true });
    let lost = false;
    const onLost = (reason: string): void => {
      if (lost) return;
      lost = true;
      client.removeAllListeners('notification');
      if (this.client === client) this.client = undefined;
      if (this.closed) return;
      this.options.log(`control store: LISTEN connection to ${redactUrl(this.options.url)} lost (${reason}); reconnecting`);
      this.scheduleReconnect();
    };
    client.on('error', (e) => onLost(e.message));
    client.on('end', () => onLost('connection ended'));
    client.on('notification', (message) => {
      if (message.channel !== CHANNEL) return;
      const version = Number(message.payload);
      if (Number.isSafeInteger(version)) this.deliver({ configVersion: version });
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${CHANNEL}`);
    } catch (e) {
      lost = true;
      await client.end().catch(() => undefined);
      throw e;
    }
    return client;
  }

  private scheduleReconnect(): void {
    if (this.closed || this.reconnectTimer !== undefined) return;
    const delay = this.delay;
    this.delay = Math.min(this.delay * 2, this.options.maxReconnectMs);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      void this.reconnect();
    }, delay);
    this.reconnectTimer.unref();
  }

  private async reconnect(): Promise<void> {
    if (this.closed) return;
    let client: pg.Client;
    try {
      client = await this.connect();
    } catch (e) {
      this.options.log(`control store: cannot reconnect the LISTEN connection: ${(e as Error).message}`);
      this.scheduleReconnect();
      return;
    }
    if (this.closed) {
      await client.end().catch(() => undefined);
      return;
    }
    this.client = client;
    this.delay = this.options.reconnectMs;
    // Notifications sent while the connection was down are lost: tell the listeners to re-read.
    try {
      const version = await this.options.readVersion();
      this.options.log('control store: LISTEN connection restored; reloading');
      this.deliver({ configVersion: version, reload: true });
    } catch (e) {
      this.options.log(`control store: cannot read the config version after reconnecting: ${(e as Error).message}`);
      this.deliver({ configVersion: this.announced, reload: true });
    }
  }
}
