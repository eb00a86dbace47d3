// TLS 1.2 session resumption for the broker's node:tls server. A resumed (abbreviated) handshake is one
// round trip instead of two and skips the certificate exchange, the key exchange and both signatures —
// on an ESP32 the RSA signature alone costs 1–2 s. Two kinds of clients, two mechanisms:
// - session IDs (RFC 5246), which the firmware's TLS offers (it keeps its last session per server name):
//   node:tls caches nothing itself, so the sessions live here, in a bounded LRU with a lifetime;
// - session tickets (RFC 5077), which Node clients offer: node:tls issues them; their key is rotated every
//   lifetime, so no ticket outlives it.
// Resumption only skips the handshake's certificate work: the peer certificate stays the one verified at
// the full handshake, and every CONNECT still asks the registry (thingState, certificateState), so a thing
// deactivated or revoked since is refused at CONNECT. When the trust material changes (a new CRL),
// forgetAll() drops every session so the next handshake checks the certificate against it.
import { randomBytes } from "node:crypto";
import type tls from "node:tls";

export interface TlsSessionCacheOptions {
  /** Session IDs kept at most; the least recently used goes first. Default 10,000 (≈ 1.5 MB). */
  maxSessions?: number;
  /** How long a session (ID or ticket) may be resumed, seconds. At most 3600. Default 3600. */
  lifetimeSec?: number;
  /** Milliseconds clock; Date.now by default. */
  now?: () => number;
}

const MAX_LIFETIME_SEC = 3600;

export class TlsSessionCache {
  readonly maxSessions: number;
  readonly lifetimeSec: number;
  private readonly now: () => number;
  /** Hex session ID → session; Map order is recency (oldest first). */
  private readonly sessions = new Map<string, { data: Buffer; expiresAt: number }>();
  private rotation: NodeJS.Timeout | undefined;
  private server: tls.Server | undefined;

  constructor(options: TlsSessionCacheOptions = {}) {
    this.maxSessions = options.maxSessions ?? 10_000;
    this.lifetimeSec = options.lifetimeSec ?? MAX_LIFETIME_SEC;
    if (!Number.isInteger(this.maxSessions) || this.maxSessions < 1) throw new Error(`maxSessions must be a positive integer, got ${this.maxSessions}`);
    if (!Number.isInteger(this.lifetimeSec) || this.lifetimeSec < 1 || this.lifetimeSec > MAX_LIFETIME_SEC) {
      throw new Error(`lifetimeSec must be an integer in 1..${MAX_LIFETIME_SEC}, got ${this.lifetimeSec}`);
    }
    this.now = options.now ?? Date.now;
  }

  /** For tls.createServer and setSecureContext: how long OpenSSL itself accepts a session or ticket. */
  serverOptions(): { sessionTimeout: number } {
    return { sessionTimeout: this.lifetimeSec };
  }

  /** Serves session IDs from this cache and rotates the ticket key every lifetime. */
  attach(server: tls.Server): void {
    this.server = server;
    server.on("newSession", (id: Buffer, data: Buffer, done: () => void) => {
      this.store(id, data);
      done();
    });
    server.on("resumeSession", (id: Buffer, done: (err: Error | null, data: Buffer | null) => void) => {
      done(null, this.lookup(id) ?? null);
    });
    this.rotation = setInterval(() => this.rotateTicketKey(), this.lifetimeSec * 1000);
    this.rotation.unref();
  }

  detach(): void {
    if (this.rotation) clearInterval(this.rotation);
    this.rotation = undefined;
  }

  /** Trust changed: no session made under the old trust is resumed. */
  forgetAll(): void {
    this.sessions.clear();
    this.rotateTicketKey();
  }

  get size(): number {
    return this.sessions.size;
  }

  store(id: Buffer, data: Buffer): void {
    const key = id.toString("hex");
    this.sessions.delete(key);
    this.sessions.set(key, { data, expiresAt: this.now() + this.lifetimeSec * 1000 });
    while (this.sessions.size > this.maxSessions) this.sessions.delete(this.sessions.keys().next().value!);
  }

  lookup(id: Buffer): Buffer | undefined {
    const key = id.toString("hex");
    const entry = this.sessions.get(key);
    if (!entry) return undefined;
    this.sessions.delete(key);
    if (entry.expiresAt <= this.now()) return undefined;
    this.sessions.set(key, entry); // most recently used
    return entry.data;
  }

  private rotateTicketKey(): void {
    this.server?.setTicketKeys(randomBytes(48));
  }
}
