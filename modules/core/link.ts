// The link: the button's MQTT connection and its lifetime, in both connection modes.
//
// - "on-demand" (battery): a message opens a connection and it closes when the message is done.
// - "persistent": the link comes up at start() and stays up; clicks publish on it. While no message is in
//   flight the link keeps itself up: a connect that does not become ready in connectTimeoutMs is dropped,
//   and a dropped link reconnects after a jittered backoff (no reconnect storm when a broker
//   restarts under many buttons). A link that stayed up for stableAfterMs earns a fresh backoff; one that
//   flaps keeps backing off. A refused link (CloseKind "auth") is not retried until the next message.
//
// While a message holds the link (take() … release()) the flow drives connecting, timeouts and retries;
// the link only reports ready / message / close to it.
//
// A close the transport reports stops the connection being ready at once, but is handled (retry,
// reconnect, outcome) from a 0 ms timer: the firmware's transport reports it from inside its socket's
// callback, even inside connect() or publish(); work done there runs under the SDK socket's callback
// (the headless firmware crashed in it) or re-enters the flow mid-publish.
//
// While the network is down (setOffline) the link opens nothing: no connection, no reconnect timer; it
// comes back up (persistent, idle) once the network does.
//
// Timers, one meaning each: connectTimer = the idle link's connect timeout; reconnectTimer = the backoff
// wait before the idle link reconnects. At most one of them runs, and neither while a message holds the link.

import type { Backoff } from "./backoff";
import type { ConnectionMode } from "./config";
import type { Clock, CloseKind, Log, MqttConnection, MqttConnector, TimerHandle, Timers } from "./ports";
import { errorText } from "./error-text";

export type LinkEvent =
  | { type: "connection"; phase: "connecting"; purpose: "message" | "link" }
  | { type: "connection"; phase: "ready"; connectMs: number }
  | { type: "connection"; phase: "closed"; kind: CloseKind; detail: string };

/** What the link reports to the flow. Connections are numbered so the flow can tell which one closed. */
export interface LinkHandlers {
  onReady(): void;
  onMessage(topic: string, payload: Uint8Array): void;
  /** Only while a message holds the link; an idle link handles its own closes. */
  onClose(kind: CloseKind, detail: string, connectionId: number, hungUpAfterPublish: boolean): void;
}

export interface LinkOptions {
  /** The flow passes "on-demand" for battery mode too (its deep sleep is the button's business). */
  mode: Exclude<ConnectionMode, "battery">;
  connector: MqttConnector;
  /** The topic every connection subscribes to (the button's acks). */
  subscribe: string;
  timers: Timers;
  clock: Clock;
  log: Log;
  /** The idle link's connect timeout. */
  connectTimeoutMs: number;
  /** Delays between the idle link's reconnects. */
  backoff: Backoff;
  /** A link that stayed up this long before it dropped starts its backoff afresh. */
  stableAfterMs: number;
  emit(event: LinkEvent): void;
  handlers: LinkHandlers;
}

interface Connection {
  id: number;
  connection: MqttConnection | undefined;
  ready: boolean;
  /** The transport reported the close; the link handles it from a 0 ms timer. */
  closing: boolean;
  openedAt: number;
  readyAt: number | undefined;
}

export class Link {
  private readonly options: LinkOptions;
  private current: Connection | undefined;
  private connections = 0;
  private held = false; // a message holds the link
  private blocked = false; // refused: no automatic reconnects until the next message
  private stopped = false;
  private suspended = false; // persistent, idle: the link is down on purpose (another connection needs the client id)
  private offline = false; // the network is down: nothing to connect over
  private connectTimer: TimerHandle | undefined;
  private reconnectTimer: TimerHandle | undefined;

  constructor(options: LinkOptions) {
    this.options = options;
  }

  /** Connected (and subscribed): publishing may start. */
  get ready(): boolean {
    return this.current?.ready === true;
  }

  // ---------------------------------------------------------------------------------------- lifecycle

  /** Boot: a persistent link comes up. */
  start(): void {
    if (this.options.mode === "persistent" && !this.current && !this.offline) this.open("link");
  }

  /**
   * The network went down (true) or came back (false). Down: the connection is closed without a close
   * event (the flow pauses itself) and nothing reconnects. Back: an idle persistent link comes up at once.
   */
  setOffline(offline: boolean): void {
    if (offline === this.offline) return;
    this.offline = offline;
    if (offline) {
      this.clearTimers();
      this.close();
    } else if (!this.held && !this.stopped && !this.blocked && !this.suspended) {
      this.start();
    }
  }

  /** Shuts down: closes the connection, clears the timers, never reconnects. */
  stop(): void {
    this.stopped = true;
    this.held = false;
    this.clearTimers();
    this.close();
  }

  /**
   * Persistent mode, no message in flight: closes the link and keeps it down until resume() or the next
   * message. The broker allows one connection per client id, so a connection of the button's own (a
   * certificate renewal) needs the link out of its way. False when there is nothing to suspend.
   */
  suspend(): boolean {
    if (this.options.mode !== "persistent" || this.held || this.stopped || this.blocked) return false;
    this.suspended = true;
    this.clearTimers();
    this.close();
    return true;
  }

  /** Ends a suspend(): the link comes up again (a new connection: it presents the certificate in use now). */
  resume(): void {
    if (!this.suspended) return;
    this.suspended = false;
    if (!this.held && !this.stopped && !this.blocked && !this.current && !this.offline) this.open("link");
  }

  // ------------------------------------------------------------------------------- a message's use

  /** A message takes the link: from now on the flow drives (re)connecting. */
  take(): void {
    this.held = true;
    this.suspended = false; // a message needs the link back
    this.clearTimers();
  }

  /**
   * The id of a connection that takes a publish now: the ready one, or, when the connector pipelines, one
   * still opening (its publish leaves in the first flight). Undefined when there is none.
   */
  get publishable(): number | undefined {
    const current = this.current;
    if (!current?.connection) return undefined;
    return current.ready || this.options.connector.publishesBeforeReady === true ? current.id : undefined;
  }

  /** Opens a connection for the message unless one is open or opening. */
  connect(): void {
    if (!this.current) this.open("message");
  }

  /** Publishes on the current connection (see publishable); returns its id. Throws if the connection refuses. */
  publish(topic: string, payload: Uint8Array): number {
    const current = this.current!;
    current.connection!.publish(topic, payload);
    return current.id;
  }

  /**
   * The message is done with the link: on-demand closes it; a refused persistent link closes and stays
   * down until the next message (retrying a refused identity would only loop).
   */
  release(refused: boolean): void {
    this.held = false;
    if (this.options.mode === "on-demand") this.close();
    else if (refused) {
      this.close();
      this.blocked = true;
    }
  }

  /** No message in flight: a persistent link brings itself back, or times out the connect a message began. */
  idle(): void {
    if (this.options.mode !== "persistent") return;
    if (!this.current) this.scheduleReconnect();
    else if (!this.current.ready) this.armConnectTimeout(this.current);
  }

  /** Closes the connection; none of its callbacks reaches the flow afterwards. */
  close(): void {
    const current = this.current;
    this.current = undefined; // first: no callback of this connection reaches the flow any more
    if (current?.connection) {
      try {
        current.connection.close();
      } catch (e) {
        this.options.log.warn(`close failed: ${errorText(e)}`);
      }
    }
  }

  // ---------------------------------------------------------------------------------- a connection

  private open(purpose: "message" | "link"): void {
    const { connector, subscribe, clock } = this.options;
    const current: Connection = { id: ++this.connections, connection: undefined, ready: false, closing: false, openedAt: clock.now(), readyAt: undefined };
    this.current = current;
    this.options.emit({ type: "connection", phase: "connecting", purpose });
    // Each handler first checks that its connection is still the current one: a late callback from an
    // old connection must never touch the flow. A ready reported from inside connect() is applied once
    // connect() has returned the connection object (publishing needs it).
    let returned = false;
    let readyEarly = false;
    const handlers = {
      onReady: () => {
        if (!returned) readyEarly = true;
        else if (this.current === current) this.onReady(current);
      },
      onMessage: (topic: string, payload: Uint8Array) => {
        if (this.current === current && !current.closing) this.options.handlers.onMessage(topic, payload);
      },
      onClose: (kind: CloseKind, detail: string, hungUpAfterPublish?: boolean) => {
        if (this.current !== current || current.closing) return;
        // Not ready from now on (nothing publishes on it), but what the close leads to (a retry, a
        // reconnect, an outcome) runs from a timer: the transport reports a close from inside its
        // socket's callback, and the SDK socket must not see new work (a new socket, a GC of the old
        // one) before that callback has returned.
        current.closing = true;
        current.ready = false;
        this.options.timers.set(() => {
          if (this.current === current) this.onClose(current, kind, detail, hungUpAfterPublish === true);
        }, 0);
      },
    };
    try {
      const connection = connector.connect({ subscribe }, handlers);
      returned = true;
      if (this.current === current) current.connection = connection;
      else connection.close(); // it already failed synchronously; release it
    } catch (e) {
      returned = true;
      if (this.current === current) this.onClose(current, "network", `connect threw: ${errorText(e)}`);
    }
    // The idle link's own connect timeout (a message's attempt has its own).
    if (purpose === "link" && this.current === current) this.armConnectTimeout(current);
    if (readyEarly && this.current === current) this.onReady(current);
  }

  private onReady(current: Connection): void {
    current.ready = true;
    current.readyAt = this.options.clock.now();
    this.blocked = false;
    if (!this.held) this.clearTimers(); // the idle link's connect timeout
    this.options.emit({ type: "connection", phase: "ready", connectMs: current.readyAt - current.openedAt });
    this.options.handlers.onReady();
  }

  private onClose(closed: Connection, kind: CloseKind, detail: string, hungUpAfterPublish = false): void {
    this.current = undefined;
    this.options.emit({ type: "connection", phase: "closed", kind, detail });
    if (this.held) {
      this.options.handlers.onClose(kind, detail, closed.id, hungUpAfterPublish);
      return;
    }
    this.options.log.warn(`connection closed (${kind}): ${detail}`);
    if (kind !== "auth") this.scheduleReconnect(closed);
    else if (this.options.mode === "persistent") {
      this.options.log.error("link not authorized: no automatic reconnect until the next click");
      this.blocked = true;
    }
  }

  // --------------------------------------------------------------------------- keeping the link up

  private armConnectTimeout(current: Connection): void {
    const { timers, log, connectTimeoutMs } = this.options;
    this.clearTimers();
    this.connectTimer = timers.set(() => {
      this.connectTimer = undefined;
      if (this.current === current && !current.ready && !this.held) {
        log.warn(`link connect timeout after ${connectTimeoutMs} ms`);
        this.close();
        this.scheduleReconnect();
      }
    }, connectTimeoutMs);
  }

  private scheduleReconnect(closed?: Connection): void {
    const { mode, clock, backoff, stableAfterMs, timers } = this.options;
    if (mode !== "persistent" || this.stopped || this.blocked || this.suspended || this.offline) return;
    if (closed?.readyAt !== undefined && clock.now() - closed.readyAt >= stableAfterMs) backoff.reset();
    const delayMs = backoff.next();
    this.clearTimers();
    this.reconnectTimer = timers.set(() => {
      this.reconnectTimer = undefined;
      if (!this.current && !this.held) this.open("link");
    }, delayMs);
  }

  private clearTimers(): void {
    if (this.connectTimer !== undefined) this.options.timers.clear(this.connectTimer);
    if (this.reconnectTimer !== undefined) this.options.timers.clear(this.reconnectTimer);
    this.connectTimer = undefined;
    this.reconnectTimer = undefined;
  }
}
