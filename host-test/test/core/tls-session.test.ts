// The TLS session kept across deep sleep (core/tls-session): offered only to the broker, certificate and
// lifetime it was made for; dropped when expired, corrupted, refused, or the settings change. The keeper
// speaks the SDK's cache interface, so these tests call it as the SDK's TLS handshake does.
import { describe, expect, it } from "vitest";
import { MemorySlot } from "./fakes";
import { TLS_SESSION_RECORD_BYTES, TlsSessionKeeper, decodeTlsSession, encodeTlsSession, type TlsSessionBinding, type TlsSessionEvent } from "../../../modules/core/tls-session";

const HOUR = 3_600_000;
const cert = Uint8Array.from({ length: 300 }, (_, i) => (i * 7) & 0xff);
const binding: TlsSessionBinding = { host: "broker.local", port: 8883, serverName: "broker.local", alpn: "", certificate: cert, lifetimeSec: 3600 };
const id = Uint8Array.from({ length: 32 }, (_, i) => i + 1).buffer;
const secret = Uint8Array.from({ length: 48 }, (_, i) => 200 - i).buffer;
const bytesOf = (b: ArrayBuffer | undefined) => (b ? [...new Uint8Array(b)] : undefined);

function wake(slot: MemorySlot, now: { t: number }) {
  const events: TlsSessionEvent[] = [];
  const keeper = new TlsSessionKeeper({ slot, now: () => now.t, onEvent: (e) => events.push(e) });
  return { keeper, events };
}

/** A full handshake as the SDK makes it: nothing offered, then saveSession. */
function fullHandshake(keeper: TlsSessionKeeper, b: TlsSessionBinding = binding) {
  keeper.bind(b);
  const offered = keeper.getByHost(b.serverName);
  keeper.saveSession(b.serverName, id, secret);
  return offered;
}

describe("TlsSessionKeeper", () => {
  it("after a full handshake, a wake offers the same session ID and master secret; its age counts from the full handshake", () => {
    const slot = new MemorySlot();
    const now = { t: 1_767_000_000_000 };
    const first = wake(slot, now);
    expect(fullHandshake(first.keeper)).toBeUndefined();
    expect(first.events).toEqual([{ action: "none", reason: "no stored session" }, { action: "saved", resumed: false }]);
    expect(slot.bytes!.length).toBeLessThanOrEqual(TLS_SESSION_RECORD_BYTES);

    now.t += 10 * 60_000;
    const second = wake(slot, now);
    second.keeper.bind(binding);
    const offered = second.keeper.getByHost("broker.local");
    expect(bytesOf(offered?.id)).toEqual(bytesOf(id));
    expect(bytesOf(offered?.secret)).toEqual(bytesOf(secret));
    expect(second.keeper.offered).toBe(true);
    second.keeper.saveSession("broker.local", id, secret); // resumed: the SDK saves the same session again
    expect(second.events).toEqual([{ action: "offered", ageMs: 600_000 }, { action: "saved", resumed: true }]);
    expect(slot.writes).toBe(1); // a resumption writes nothing

    now.t += HOUR - 600_000; // one hour after the full handshake: the broker has forgotten it
    const third = wake(slot, now);
    third.keeper.bind(binding);
    expect(third.keeper.getByHost("broker.local")).toBeUndefined();
    expect(third.events).toEqual([{ action: "dropped", reason: expect.stringMatching(/^expired \(3600 s old, the broker keeps sessions 3600 s\)/) }]);
    expect(slot.bytes).toBeUndefined();
  });

  it("drops the session when the broker settings, the client certificate or the lifetime change", () => {
    const changes: Partial<TlsSessionBinding>[] = [
      { host: "other.local" },
      { port: 443 },
      { serverName: "x.local" },
      { alpn: "x-amzn-mqtt-ca" },
      { certificate: Uint8Array.from(cert, (b, i) => (i === 299 ? b ^ 1 : b)) },
      { lifetimeSec: 300 },
    ];
    for (const change of changes) {
      const slot = new MemorySlot();
      const now = { t: 1_767_000_000_000 };
      fullHandshake(wake(slot, now).keeper);
      const next = wake(slot, now);
      next.keeper.bind({ ...binding, ...change });
      expect(next.events, JSON.stringify(Object.keys(change))).toEqual([{ action: "dropped", reason: "broker settings or client certificate changed" }]);
      expect(next.keeper.getByHost(change.serverName ?? "broker.local")).toBeUndefined();
      expect(slot.bytes).toBeUndefined();
    }
  });

  it("a corrupted record is never offered (CRC), and the slot is wiped", () => {
    const slot = new MemorySlot();
    const now = { t: 1_767_000_000_000 };
    fullHandshake(wake(slot, now).keeper);
    slot.bytes![40] ^= 0xff; // inside the master secret
    const next = wake(slot, now);
    next.keeper.bind(binding);
    expect(next.keeper.getByHost("broker.local")).toBeUndefined();
    expect(next.events[0]).toEqual({ action: "dropped", reason: "stored session unreadable (bad CRC)" });
    expect(slot.bytes).toBeUndefined();
  });

  it("a refused resumption keeps the new session (the SDK deletes the old ID after saving the new one)", () => {
    const slot = new MemorySlot();
    const now = { t: 1_767_000_000_000 };
    fullHandshake(wake(slot, now).keeper);
    const next = wake(slot, now);
    next.keeper.bind(binding);
    expect(next.keeper.getByHost("broker.local")).toBeDefined();
    const newId = Uint8Array.from({ length: 32 }, () => 9).buffer;
    next.keeper.saveSession("broker.local", newId, secret); // the broker answered with a full handshake
    next.keeper.deleteSessionID(id);
    expect(next.keeper.holds).toBe(true);
    const third = wake(slot, now);
    third.keeper.bind(binding);
    expect(bytesOf(third.keeper.getByHost("broker.local")?.id)).toEqual(bytesOf(newId));
    third.keeper.deleteSessionID(); // no ID: whatever is kept
    expect(slot.bytes).toBeUndefined();
  });

  it("forget() drops it (a TLS failure); a clock stepped back drops it; lifetime 0 keeps nothing", () => {
    const slot = new MemorySlot();
    const now = { t: 1_767_000_000_000 };
    fullHandshake(wake(slot, now).keeper);
    const w = wake(slot, now);
    w.keeper.forget("TLS handshake failed");
    expect(w.events).toEqual([{ action: "dropped", reason: "TLS handshake failed" }]);
    expect(slot.bytes).toBeUndefined();

    fullHandshake(wake(slot, now).keeper);
    now.t -= 5 * 60_000;
    const back = wake(slot, now);
    back.keeper.bind(binding);
    expect(back.keeper.getByHost("broker.local")).toBeUndefined();
    expect(back.events).toEqual([{ action: "dropped", reason: "the clock reads before the session was made" }]);

    const none = wake(slot, now);
    fullHandshake(none.keeper, { ...binding, lifetimeSec: 0 });
    expect(slot.bytes).toBeUndefined();
  });

  it("offers nothing to another server name, serves no session by ID, and ignores sessions it cannot resume", () => {
    const slot = new MemorySlot();
    const now = { t: 1_767_000_000_000 };
    const w = wake(slot, now);
    fullHandshake(w.keeper);
    expect(w.keeper.getByHost("elsewhere.local")).toBeUndefined();
    expect(w.keeper.getByID(id)).toBeUndefined();
    const before = slot.writes;
    w.keeper.saveSession("broker.local", new ArrayBuffer(0), secret); // a broker that gives no session ID
    w.keeper.saveSession("broker.local", id, new ArrayBuffer(12));
    w.keeper.saveSession("elsewhere.local", new Uint8Array(8).fill(1).buffer, secret);
    expect(slot.writes).toBe(before);
  });

  it("encodes and decodes a record; rejects wrong field sizes", () => {
    const session = { savedAt: 1_767_000_000_123, binding: 0xdeadbeef, id: new Uint8Array(id), secret: new Uint8Array(secret) };
    expect(decodeTlsSession(encodeTlsSession(session))).toEqual({ ok: true, session });
    expect(decodeTlsSession(encodeTlsSession({ ...session, secret: new Uint8Array(47) }))).toEqual({ ok: false, reason: "master secret of 47 bytes" });
    expect(decodeTlsSession(encodeTlsSession({ ...session, id: new Uint8Array(0) }))).toEqual({ ok: false, reason: "session ID of 0 bytes" });
  });
});
