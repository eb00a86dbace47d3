// What the button remembers across resets, through the Store port: the message counter (seq), the message
// waiting for its ack (pending) and the last accepted order (what a LONG press cancels).
//
// Rules that keep "one press = at most one pizza, and nothing lost":
// - A new message's seq is advanced and persisted, then the message is persisted as pending, all BEFORE
//   it is first sent (create()): an orderId is never reused across resets, and a reset never loses it.
// - With no seq in the store (new device, flash erase, NVS wipe) the counter is seeded from the wall clock
//   in seconds, not 1: orderIds from before an erase are never reused (the restaurant would answer a
//   reused one with its OLD ack: green LED, no pizza). With the clock unset (before 2025, wall-clock.ts) create() throws.
// - A pending message older than the expiry (by the Clock) is dropped rather than resent; an unreadable
//   one (flash corruption) is dropped with an error.
// - An ack ends a message: it is no longer pending (settle()).

import type { AckMessage, OrderMessage } from "./messages";
import { decodeOrder, encodeOrder } from "./messages";
import type { Clock, Log, Store } from "./ports";
import { CLOCK_SET_AFTER_MS, CLOCK_SET_AFTER_YEAR } from "./wall-clock";

/** Store keys (NVS: at most 15 characters). */
export const STORE_KEYS = { seq: "seq", pending: "pending", lastAccepted: "lastAccepted" } as const;

/** What is kept under STORE_KEYS.pending: the message itself and when it was created (Clock ms). */
export interface PendingMessage {
  message: OrderMessage;
  createdAt: number;
}

export interface MessageRecordOptions {
  store: Store;
  clock: Clock;
  log: Log;
  /** A pending message older than this is dropped instead of resent. */
  pendingExpiryMs: number;
}

export class MessageRecord {
  private readonly store: Store;
  private readonly clock: Clock;
  private readonly log: Log;
  private readonly pendingExpiryMs: number;

  constructor(options: MessageRecordOptions) {
    this.store = options.store;
    this.clock = options.clock;
    this.log = options.log;
    this.pendingExpiryMs = options.pendingExpiryMs;
  }

  /** The pending message if it is still worth resending; an expired or unreadable one is dropped. */
  live(): PendingMessage | undefined {
    const pending = this.pending();
    if (!pending) return undefined;
    const age = this.clock.now() - pending.createdAt;
    if (age > this.pendingExpiryMs) {
      this.log.warn(`pending ${pending.message.orderId} expired (${age} ms old): dropped`);
      this.store.remove(STORE_KEYS.pending);
      return undefined;
    }
    return pending;
  }

  /** The pending message, however old; an unreadable one is dropped. */
  pending(): PendingMessage | undefined {
    const raw = this.store.read(STORE_KEYS.pending);
    if (raw === undefined) return undefined;
    try {
      const record = JSON.parse(raw) as PendingMessage;
      // Re-validate through the wire codec: the store is outside our control (flash corruption).
      const check = decodeOrder(encodeOrder(record.message));
      if (!check.ok || typeof record.createdAt !== "number") throw new Error(check.ok ? "bad createdAt" : check.reason);
      return { message: check.value, createdAt: record.createdAt };
    } catch (e) {
      this.log.error(`unreadable pending message dropped: ${errorText(e)}`);
      this.store.remove(STORE_KEYS.pending);
      return undefined;
    }
  }

  /** The orderId of the last accepted order (what a LONG press with nothing pending cancels). */
  lastAccepted(): string | undefined {
    return this.store.read(STORE_KEYS.lastAccepted);
  }

  /**
   * Numbers a new message with the next seq, validates it, persists the seq and then the message as
   * pending. Throws (nothing sent, nothing half-written that could reuse an orderId) when the clock is
   * unset, the message is invalid or the store fails.
   */
  create(build: (seq: number) => OrderMessage): OrderMessage {
    const seq = this.nextSeq();
    const message = build(seq);
    encodeOrder(message); // validates (size, fields) before anything is persisted
    this.store.write(STORE_KEYS.seq, String(seq));
    const record: PendingMessage = { message, createdAt: this.clock.now() };
    this.store.write(STORE_KEYS.pending, JSON.stringify(record));
    return message;
  }

  /** An ack ends the message: it is no longer pending; remember what a later LONG may cancel. */
  settle(message: OrderMessage, ack: AckMessage): void {
    try {
      if (message.action === "order" && ack.status === "accepted") {
        this.store.write(STORE_KEYS.lastAccepted, message.orderId);
      }
      if (message.action === "cancel" && ack.status === "cancelled" && this.store.read(STORE_KEYS.lastAccepted) === message.cancels) {
        this.store.remove(STORE_KEYS.lastAccepted);
      }
      if (this.pending()?.message.orderId === message.orderId) this.store.remove(STORE_KEYS.pending);
    } catch (e) {
      this.log.error(`store update after ack failed: ${errorText(e)}`);
    }
  }

  /**
   * The seq for a new message. Seeds come from the wall clock in seconds: seq advances by one per order
   * and nobody orders more than a pizza a second for long, so every seq ever used is at most the clock's
   * seconds when it was made. A seed after an erase (which takes far longer than a second) is therefore
   * above every seq used before it. Throws when the clock is unset.
   */
  private nextSeq(): number {
    const raw = this.store.read(STORE_KEYS.seq);
    if (raw !== undefined) {
      const seq = Number(raw);
      if (/^(0|[1-9][0-9]*)$/.test(raw) && Number.isSafeInteger(seq + 1)) return seq + 1;
    }
    const now = this.clock.now();
    if (!(now >= CLOCK_SET_AFTER_MS)) {
      // 1970 seconds are far below the seqs of earlier orders: every orderId would repeat an old one.
      throw new Error(`wall clock not set (${now} ms since 1970, before ${CLOCK_SET_AFTER_YEAR}): cannot number a new order`);
    }
    const seconds = Math.floor(now / 1000);
    if (raw === undefined) {
      this.log.info(`no stored seq: starting at ${seconds} (wall clock seconds)`);
      return seconds;
    }
    // Unreadable (flash corruption): restarting low could reuse an orderId. One above the clock's seconds
    // is strictly above every plausible stored seq, even one made earlier in this same second.
    const recovered = seconds + 1;
    this.log.error(`stored seq unreadable (${JSON.stringify(raw)}): continuing from ${recovered}`);
    return recovered;
  }
}


function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
