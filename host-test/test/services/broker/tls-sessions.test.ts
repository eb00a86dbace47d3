// TLS session resumption on the embedded broker: session IDs (what the firmware's TLS offers) from a
// bounded cache, tickets for Node clients, and no resumption past the registry: a thing deactivated since
// its last full handshake resumes TLS but is refused at CONNECT.
import { constants } from "node:crypto";
import tls from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningBroker } from "../../../../services/broker/broker";
import { TlsSessionCache } from "../../../../services/broker/tls-sessions";
import type { CloseKind } from "../../../../modules/core/ports";
import { MqttConnector, type ConnectionEvent } from "../../../device/mqtt-connector";
import type { DevPki } from "../../../../tools/pki/dev";
import { credentialsOf, devPki, removeDir, startTestBroker, tempDir, type Credentials } from "../../integration/fixtures";
import { acksOf } from "../../support/topics";

const THING = "pizza-button-01";

describe("TlsSessionCache: bounded, with a lifetime", () => {
  const id = (n: number) => Buffer.from([n]);
  it("keeps at most maxSessions, dropping the least recently used", () => {
    const cache = new TlsSessionCache({ maxSessions: 2 });
    cache.store(id(1), Buffer.from("one"));
    cache.store(id(2), Buffer.from("two"));
    expect(cache.lookup(id(1))?.toString()).toBe("one"); // 1 is now the most recent
    cache.store(id(3), Buffer.from("three"));
    expect(cache.size).toBe(2);
    expect(cache.lookup(id(2))).toBeUndefined();
    expect(cache.lookup(id(1))?.toString()).toBe("one");
    expect(cache.lookup(id(3))?.toString()).toBe("three");
  });

  it("a session past its lifetime is not resumed", () => {
    let now = 1_000_000;
    const cache = new TlsSessionCache({ lifetimeSec: 60, now: () => now });
    cache.store(id(1), Buffer.from("one"));
    now += 59_999;
    expect(cache.lookup(id(1))).toBeDefined();
    now += 1;
    expect(cache.lookup(id(1))).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it("refuses a lifetime above one hour, or a cache of nothing", () => {
    expect(() => new TlsSessionCache({ lifetimeSec: 3601 })).toThrow(/lifetimeSec/);
    expect(() => new TlsSessionCache({ maxSessions: 0 })).toThrow(/maxSessions/);
    expect(new TlsSessionCache().serverOptions()).toEqual({ sessionTimeout: 3600 });
  });
});

describe("the broker resumes TLS sessions, and still asks the registry on every CONNECT", () => {
  let dir: string;
  let dev: DevPki;
  let broker: RunningBroker;
  let device: Credentials;

  beforeAll(async () => {
    dir = tempDir("tls-sessions");
    dev = await devPki(dir);
    broker = await startTestBroker(dev);
    device = credentialsOf(dev.device);
  });

  afterAll(async () => {
    await broker?.close();
    removeDir(dir);
  });

  /** A TLS 1.2 client that offers no ticket (as the firmware's): only a session ID can resume it. */
  function handshake(session?: Buffer): Promise<{ resumed: boolean; session: Buffer | undefined }> {
    return new Promise((resolve, reject) => {
      let saved: Buffer | undefined;
      const socket = tls.connect({
        host: broker.host,
        port: broker.port,
        ...device,
        maxVersion: "TLSv1.2",
        secureOptions: constants.SSL_OP_NO_TICKET,
        ...(session ? { session } : {}),
      });
      socket.on("session", (s: Buffer) => (saved = s));
      socket.once("error", reject);
      socket.once("secureConnect", () => {
        const resumed = socket.isSessionReused();
        // The session arrives with the handshake's end; give it a turn, then leave.
        setImmediate(() => {
          socket.end();
          resolve({ resumed, session: saved });
        });
      });
    });
  }

  it("a client without tickets resumes by session ID", async () => {
    const first = await handshake();
    expect(first.resumed).toBe(false);
    expect(first.session).toBeDefined();
    const second = await handshake(first.session);
    expect(second.resumed).toBe(true);
  });

  it("a trust update (new CRL) forgets every session: the next handshake is a full one", async () => {
    const first = await handshake();
    broker.updateTrust(dev.pki.trustMaterial());
    expect((await handshake(first.session)).resumed).toBe(false);
  });

  it("a thing deactivated since its full handshake: the resumed connection is refused at CONNECT", async () => {
    const events: ConnectionEvent[] = [];
    const connector = new MqttConnector({ host: broker.host, port: broker.port, ...device, clientId: THING, observer: (e) => events.push(e) });
    const attempt = () =>
      new Promise<{ ready: boolean; kind?: CloseKind; detail?: string }>((resolve) => {
        const c = connector.connect(
          { subscribe: acksOf(THING) },
          {
            onReady: () => {
              c.close();
              resolve({ ready: true });
            },
            onMessage: () => {},
            onClose: (kind, detail) => resolve({ ready: false, kind, detail }),
          },
        );
      });
    expect(await attempt()).toEqual({ ready: true });
    await connector.drain();
    expect(await attempt()).toEqual({ ready: true });
    await connector.drain();
    await dev.pki.setThingState(THING, "INACTIVE");
    try {
      const refused = await attempt();
      expect(refused).toMatchObject({ ready: false, kind: "auth", detail: expect.stringContaining("CONNACK refused: 5") });
    } finally {
      await dev.pki.setThingState(THING, "ACTIVE");
    }
    const handshakes = events.flatMap((e) => (e.step === "tls" ? [e.resumed] : []));
    expect(handshakes).toEqual([false, true, true]); // the refused one was resumed: the registry still decided
  });
});
