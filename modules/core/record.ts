// What the button remembers across resets, through the Store port: the message counter (seq), the message
// waiting for its ack (pending) and the last accepted order (what a LONG press cancels).
//
// All three live under ONE store key, so each change of state is one atomic write (a reset sees the
// state before or after it, never half of it) and a press costs two writes, not four: create() writes the
// new seq with the new pending message, settle() the last accepted order with the pending one gone.
// A store in the one-key-each layout (seq, pending, lastAccepted), as devices in the field may hold it, is
// migrated on first read: its pending order survives the firmware update.
//
// Rules that keep "one press = at most one pizza, and nothing lost":
// - A new message's seq is advanced and persisted together with the message as pending, BEFORE it is
//   first sent (create()): an orderId is never reused across resets, and a reset never loses it.
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
import { errorText } from "./error-text";

/** The store key (NVS: at most 15 characters) holding seq, pending and lastAccepted as one JSON record. */
export const STORE_KEY = "record";

/** The one-key-each layout: read once to migrate, then removed. */
export const LEGACY_STORE_KEYS = { seq: "seq", pending: "pending", lastAccepted: "lastAccepted" } as const;

/** The pending message and when it was created (Clock ms). */
export interface PendingMessage {
  message: OrderMessage;
  createdAt: number;
}

/** What is kept under STORE_KEY. */
export interface StoredRecord {
  seq?: number;
  pending?: PendingMessage;
  lastAccepted?: string;
}

export interface MessageRecordOptions {
  store: Store;
  clock: Clock;
  log: Log;
  /** A pending message older than this is dropped instead of resent. */
  pendingExpiryMs: number;
}

/** A record as read: `found` tells a fresh store from one whose seq is unreadable. */
interface Loaded {
  found: boolean;
  seq: number | undefined;
  /** The stored seq, as found, when it is unusable (for the log). */
  badSeq?: string;
  pending: PendingMessage | undefined;
  lastAccepted: string | undefined;
}

export class MessageRecord {
  private readonly store: Store;
  private readonly clock: Clock;
  private readonly log: Log;
  private readonly pendingExpiryMs: number;
  /** The last record read, by its stored text: a press reads it several times; parse and validate it once. */
  private cache: { raw: string; record: Loaded } | undefined;

  constructor(options: MessageRecordOptions) {
    this.store = options.store;
    this.clock = options.clock;
    this.log = options.log;
    this.pendingExpiryMs = options.pendingExpiryMs;
  }

  /** The pending message if it is still worth resending; an expired or unreadable one is dropped. */
  live(): PendingMessage | undefined {
    const record = this.load();
    const pending = record.pending;
    if (!pending) return undefined;
    const age = this.clock.now() - pending.createdAt;
    if (age > this.pendingExpiryMs) {
      this.log.warn(`pending ${pending.message.orderId} expired (${age} ms old): dropped`);
      this.save({ ...record, pending: undefined });
      return undefined;
    }
    return pending;
  }

  /** The pending message, however old; an unreadable one is dropped. */
  pending(): PendingMessage | undefined {
    return this.load().pending;
  }

  /** The orderId of the last accepted order (what a LONG press with nothing pending cancels). */
  lastAccepted(): string | undefined {
    return this.load().lastAccepted;
  }

  /**
   * Numbers a new message with the next seq, validates it, and persists the seq and the message as
   * pending in one write. Throws (nothing sent, nothing written that could reuse an orderId) when the
   * clock is unset, the message is invalid or the store fails.
   */
  create(build: (seq: number) => OrderMessage): OrderMessage {
    const record = this.load();
    const seq = this.nextSeq(record);
    const message = build(seq);
    encodeOrder(message); // validates (size, fields) before anything is persisted
    this.save({ ...record, seq, pending: { message, createdAt: this.clock.now() } });
    return message;
  }

  /** An ack ends the message: it is no longer pending; remember what a later LONG may cancel. One write. */
  settle(message: OrderMessage, ack: AckMessage): void {
    try {
      const record = this.load();
      let { lastAccepted, pending } = record;
      if (message.action === "order" && ack.status === "accepted") lastAccepted = message.orderId;
      if (message.action === "cancel" && ack.status === "cancelled" && lastAccepted === message.cancels) lastAccepted = undefined;
      if (pending?.message.orderId === message.orderId) pending = undefined;
      if (lastAccepted !== record.lastAccepted || pending !== record.pending) this.save({ ...record, lastAccepted, pending });
    } catch (e) {
      this.log.error(`store update after ack failed: ${errorText(e)}`);
    }
  }

  // ------------------------------------------------------------------------------------------ storage

  private load(): Loaded {
    const raw = this.store.read(STORE_KEY);
    if (raw === undefined) return this.migrate();
    if (this.cache?.raw === raw) return this.cache.record;
    let stored: { seq?: unknown; pending?: unknown; lastAccepted?: unknown };
    try {
      const parsed: unknown = JSON.parse(raw);
      if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new Error("not an object");
      stored = parsed;
    } catch (e) {
      // Flash corruption: nothing in it can be trusted; the seq recovers from the clock (nextSeq).
      this.log.error(`unreadable record dropped (seq, pending message, last accepted): ${errorText(e)}`);
      return { found: true, seq: undefined, badSeq: raw.slice(0, 40), pending: undefined, lastAccepted: undefined };
    }
    const seq = validSeq(stored.seq);
    const pending = stored.pending === undefined ? undefined : this.validPending(stored.pending);
    const record: Loaded = {
      found: true,
      seq,
      ...(seq === undefined ? { badSeq: JSON.stringify(stored.seq) } : {}),
      pending,
      lastAccepted: typeof stored.lastAccepted === "string" ? stored.lastAccepted : undefined,
    };
    if (stored.pending !== undefined && !pending) this.trySave(record); // drop the unreadable message
    else this.cache = { raw, record };
    return record;
  }

  private save(record: Loaded | StoredRecord): void {
    const stored: StoredRecord = {};
    if (record.seq !== undefined) stored.seq = record.seq;
    if (record.pending) stored.pending = record.pending;
    if (record.lastAccepted !== undefined) stored.lastAccepted = record.lastAccepted;
    this.store.write(STORE_KEY, JSON.stringify(stored));
  }

  private trySave(record: Loaded): void {
    try {
      this.save(record);
    } catch (e) {
      this.log.error(`store write failed: ${errorText(e)}`);
    }
  }

  /** The pending message, re-validated through the wire codec: the store is outside our control. */
  private validPending(value: unknown): PendingMessage | undefined {
    try {
      const record = value as PendingMessage;
      const check = decodeOrder(encodeOrder(record.message));
      if (!check.ok || typeof record.createdAt !== "number") throw new Error(check.ok ? "bad createdAt" : check.reason);
      return { message: check.value, createdAt: record.createdAt };
    } catch (e) {
      this.log.error(`unreadable pending message dropped: ${errorText(e)}`);
      return undefined;
    }
  }

  /**
   * A store in the one-key-each layout. Their content becomes the record (one write), then those keys
   * go. Should the write fail, they stay and the next read tries again.
   */
  private migrate(): Loaded {
    const seqRaw = this.store.read(LEGACY_STORE_KEYS.seq);
    const pendingRaw = this.store.read(LEGACY_STORE_KEYS.pending);
    const lastAccepted = this.store.read(LEGACY_STORE_KEYS.lastAccepted);
    if (seqRaw === undefined && pendingRaw === undefined && lastAccepted === undefined) {
      return { found: false, seq: undefined, pending: undefined, lastAccepted: undefined };
    }
    let pending: PendingMessage | undefined;
    if (pendingRaw !== undefined) {
      try {
        pending = this.validPending(JSON.parse(pendingRaw));
      } catch (e) {
        this.log.error(`unreadable pending message dropped: ${errorText(e)}`);
      }
    }
    const seq = seqRaw !== undefined && /^(0|[1-9][0-9]*)$/.test(seqRaw) ? validSeq(Number(seqRaw)) : undefined;
    if (seq === undefined) this.log.error(`stored seq unreadable (${JSON.stringify(seqRaw) ?? "missing"}): not migrated`);
    const record: Loaded = { found: true, seq, ...(seq === undefined ? { badSeq: JSON.stringify(seqRaw) } : {}), pending, lastAccepted };
    try {
      this.save(record);
      for (const key of Object.values(LEGACY_STORE_KEYS)) this.store.remove(key);
      this.log.info(`store: seq, pending and lastAccepted migrated into "${STORE_KEY}"`);
    } catch (e) {
      this.log.error(`store migration failed (kept the old keys): ${errorText(e)}`);
    }
    return record;
  }

  /**
   * The seq for a new message. Seeds come from the wall clock in seconds: seq advances by one per order
   * and nobody orders more than a pizza a second for long, so every seq ever used is at most the clock's
   * seconds when it was made. A seed after an erase (which takes far longer than a second) is therefore
   * above every seq used before it. Throws when the clock is unset.
   */
  private nextSeq(record: Loaded): number {
    if (record.seq !== undefined && Number.isSafeInteger(record.seq + 1)) return record.seq + 1;
    const now = this.clock.now();
    if (!(now >= CLOCK_SET_AFTER_MS)) {
      // 1970 seconds are far below the seqs of earlier orders: every orderId would repeat an old one.
      throw new Error(`wall clock not set (${now} ms since 1970, before ${CLOCK_SET_AFTER_YEAR}): cannot number a new order`);
    }
    const seconds = Math.floor(now / 1000);
    if (!record.found) {
      this.log.info(`no stored seq: starting at ${seconds} (wall clock seconds)`);
      return seconds;
    }
    // Unreadable (flash corruption): restarting low could reuse an orderId. One above the clock's seconds
    // is strictly above every plausible stored seq, even one made earlier in this same second.
    const recovered = seconds + 1;
    this.log.error(`stored seq unreadable (${record.badSeq ?? "missing"}): continuing from ${recovered}`);
    return recovered;
  }
}

function validSeq(value: unknown): number | undefined {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0 ? value : undefined;
}
