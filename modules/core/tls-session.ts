// The TLS client's session cache, kept across deep sleep. A resumed TLS 1.2 handshake (RFC 5246 7.3,
// session ID) is one round trip and no certificate, key exchange or RSA signature: on an ESP32 that is the
// difference between a press of about a second and one of several. Resumption needs the session ID and the
// master secret of an earlier full handshake with the same broker; this keeps them in one RTC slot (memory
// that survives deep sleep and is lost on power-off), never in flash.
//
// It has the interface of the Moddable SDK's TLS cache (modules/crypt/ssl/ssl_cache.js: getByHost, getByID,
// saveSession, deleteSessionID), so the firmware maps it in as "ssl/cache" in place of the SDK's.
// Before each connection the transport binds it to what the session is only valid for: the broker's
// address, port, server name and ALPN, the client certificate presented, and the lifetime setting. A stored
// session is offered only when all of these are the same and it is younger than the broker's lifetime;
// otherwise it is dropped and the handshake is a full one. The transport also drops it on any TLS failure.
//
// A broker that refuses the offered session answers with a full handshake in the same connection (TLS
// itself); the session that handshake makes replaces the old one.
//
// Pure ECMAScript (runs on XS in the firmware and on Node in the tests).

import { ByteReader, ByteWriter, crc32, frameRtcRecord, unframeRtcRecord, type RtcSlot } from "./rtc-record";

/** The RTC slot bytes a stored session needs (session ID ≤ 32, master secret 48). */
export const TLS_SESSION_RECORD_BYTES = 128;

const MAGIC = "PTS1";
const VERSION = 1;
/** A clock that reads this much before the session's creation has been stepped back: the age is unknown. */
const CLOCK_SKEW_MS = 60_000;

/** What a stored session is valid for. Any difference drops it. */
export interface TlsSessionBinding {
  host: string;
  port: number;
  /** The name the broker's certificate was checked against (and the SDK's cache key). */
  serverName: string;
  alpn: string;
  /** The client certificate presented (DER): a renewed certificate must be seen by the broker in a full handshake. */
  certificate: Uint8Array;
  /** How long the broker resumes a session, seconds (0: never keep one). */
  lifetimeSec: number;
}

export type TlsSessionEvent =
  | { action: "offered"; ageMs: number }
  | { action: "none"; reason: string }
  | { action: "saved"; resumed: boolean }
  | { action: "dropped"; reason: string };

export interface TlsSessionKeeperOptions {
  slot: RtcSlot;
  /** Wall clock, epoch ms (the session's age is measured across sleeps). */
  now: () => number;
  onEvent?: (event: TlsSessionEvent) => void;
}

interface Session {
  savedAt: number;
  binding: number;
  id: Uint8Array;
  secret: Uint8Array;
}

/** The SDK cache's answer: the session to offer. */
export interface CachedSession {
  id: ArrayBuffer;
  secret: ArrayBuffer;
}

function bindingKey(b: TlsSessionBinding): number {
  const text = `${b.host}\n${b.port}\n${b.serverName}\n${b.alpn}\n${b.lifetimeSec}\n${crc32(b.certificate).toString(16)}:${b.certificate.length}`;
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i) & 0xff;
  return crc32(bytes);
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function toBytes(value: ArrayBuffer | Uint8Array): Uint8Array {
  return value instanceof Uint8Array ? value : new Uint8Array(value);
}

function toBuffer(bytes: Uint8Array): ArrayBuffer {
  return bytes.slice().buffer as ArrayBuffer;
}

export function encodeTlsSession(session: Session): Uint8Array {
  const payload = new ByteWriter().u8(VERSION).u64(session.savedAt).u16(session.binding >>> 16).u16(session.binding & 0xffff).bytes(session.id).bytes(session.secret).done();
  return frameRtcRecord(MAGIC, payload);
}

export function decodeTlsSession(bytes: Uint8Array | undefined): { ok: true; session: Session } | { ok: false; reason: string } {
  const framed = unframeRtcRecord(MAGIC, bytes);
  if (!framed.ok) return framed;
  try {
    const r = new ByteReader(framed.payload);
    if (r.u8() !== VERSION) return { ok: false, reason: "unknown version" };
    const savedAt = r.u64();
    const binding = ((r.u16() << 16) | r.u16()) >>> 0;
    const id = r.bytes();
    const secret = r.bytes();
    if (!r.atEnd) return { ok: false, reason: "trailing bytes" };
    if (id.length < 1 || id.length > 32) return { ok: false, reason: `session ID of ${id.length} bytes` };
    if (secret.length !== 48) return { ok: false, reason: `master secret of ${secret.length} bytes` };
    return { ok: true, session: { savedAt, binding, id, secret } };
  } catch (error) {
    return { ok: false, reason: error instanceof Error ? error.message : String(error) };
  }
}

export class TlsSessionKeeper {
  private readonly slot: RtcSlot;
  private readonly now: () => number;
  onEvent: ((event: TlsSessionEvent) => void) | undefined;
  /** undefined: not read from the slot yet; null: none. */
  private session: Session | null | undefined = undefined;
  private binding: { key: number; serverName: string; lifetimeMs: number } | undefined;
  /** The current connection's handshake offered a stored session (a failure then may be the session's fault). */
  offered = false;

  constructor(options: TlsSessionKeeperOptions) {
    this.slot = options.slot;
    this.now = options.now;
    this.onEvent = options.onEvent;
  }

  /** Before a connection: what the next handshake is for. A stored session for anything else is dropped. */
  bind(binding: TlsSessionBinding): void {
    this.binding = { key: bindingKey(binding), serverName: binding.serverName, lifetimeMs: binding.lifetimeSec * 1000 };
    this.offered = false;
    const session = this.load();
    if (!session) return;
    if (binding.lifetimeSec <= 0) this.drop("sessions are not kept (lifetime 0)");
    else if (session.binding !== this.binding.key) this.drop("broker settings or client certificate changed");
  }

  /** Forgets the stored session (a TLS failure, a new trust anchor): the next handshake is a full one. */
  forget(reason: string): void {
    if (this.load()) this.drop(reason);
  }

  /** True when a session is stored (whatever it is bound to). */
  get holds(): boolean {
    return !!this.load();
  }

  // The SDK cache interface (modules/crypt/ssl/ssl_cache.js), called by the SDK's TLS handshake.

  /** The session to offer the broker `host` (the TLS server name), if one is valid for the bound connection. */
  getByHost(host: string): CachedSession | undefined {
    const session = this.load();
    const binding = this.binding;
    if (!session) {
      this.onEvent?.({ action: "none", reason: "no stored session" });
      return undefined;
    }
    if (!binding || binding.serverName !== host) {
      this.onEvent?.({ action: "none", reason: "not bound to this server" });
      return undefined;
    }
    if (session.binding !== binding.key) {
      this.drop("broker settings or client certificate changed");
      return undefined;
    }
    const age = this.now() - session.savedAt;
    if (age < -CLOCK_SKEW_MS) {
      this.drop("the clock reads before the session was made");
      return undefined;
    }
    if (age >= binding.lifetimeMs) {
      this.drop(`expired (${Math.round(age / 1000)} s old, the broker keeps sessions ${binding.lifetimeMs / 1000} s)`);
      return undefined;
    }
    this.offered = true;
    this.onEvent?.({ action: "offered", ageMs: Math.max(0, age) });
    return { id: toBuffer(session.id), secret: toBuffer(session.secret) };
  }

  /** Server side of the SDK's TLS: the button never serves TLS, so it resumes nothing by ID. */
  getByID(_id: ArrayBuffer): CachedSession | undefined {
    return undefined;
  }

  /** After a finished handshake (full or resumed): keep the session. A resumption keeps its creation time. */
  saveSession(host: string, id: ArrayBuffer, secret: ArrayBuffer): void {
    const binding = this.binding;
    if (!binding || binding.serverName !== host || binding.lifetimeMs <= 0) return;
    const idBytes = toBytes(id);
    const secretBytes = toBytes(secret);
    if (idBytes.length < 1 || idBytes.length > 32 || secretBytes.length !== 48) return; // no resumable session
    const old = this.load();
    const resumed = !!old && old.binding === binding.key && sameBytes(old.id, idBytes);
    if (resumed) {
      this.onEvent?.({ action: "saved", resumed: true });
      return; // the same session: its age counts from the full handshake that made it
    }
    const session: Session = { savedAt: this.now(), binding: binding.key, id: idBytes.slice(), secret: secretBytes.slice() };
    this.session = session;
    this.slot.write(encodeTlsSession(session));
    this.onEvent?.({ action: "saved", resumed: false });
  }

  /**
   * The SDK drops a session the broker refused to resume (after saving the new one). Only that session
   * goes; without an ID, the stored one.
   */
  deleteSessionID(id?: ArrayBuffer): void {
    const session = this.load();
    if (!session) return;
    if (id !== undefined && !sameBytes(session.id, toBytes(id))) return;
    this.drop("the broker did not resume it");
  }

  private load(): Session | null {
    if (this.session !== undefined) return this.session;
    let bytes: Uint8Array | undefined;
    try {
      bytes = this.slot.read();
    } catch {
      bytes = undefined;
    }
    if (bytes === undefined || bytes.length === 0) {
      this.session = null;
      return null;
    }
    const decoded = decodeTlsSession(bytes);
    if (decoded.ok) {
      this.session = decoded.session;
      return decoded.session;
    }
    this.session = null;
    this.slot.clear();
    this.onEvent?.({ action: "dropped", reason: `stored session unreadable (${decoded.reason})` });
    return null;
  }

  private drop(reason: string): void {
    this.session = null;
    this.slot.clear();
    this.onEvent?.({ action: "dropped", reason });
  }
}
