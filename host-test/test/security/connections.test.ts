// Idle, half-open and too many connections, against the real services on loopback (small limits and
// timeouts through the service's own settings so every case is bounded in count and time):
// - a TLS handshake that times out or fails has its socket destroyed (node:tls reports it but may
//   leave the socket open, holding a file descriptor);
// - a TLS connection that sends no MQTT CONNECT is closed after the connect timeout;
// - open connections are bounded per source address and in total; beyond that a connection is closed at
//   once and logged, and buttons get in again as soon as the hogs are gone.
// mosquitto: only a total (max_connections per listener); it has no per-address bound.
import net from "node:net";
import tls from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseBrokerArgs } from "../../../services/broker/service";
import { UsageError } from "../../../services/runtime";
import { startMosquitto } from "../../mosquitto/mosquitto";
import { connectClient, tryConnect, waitFor } from "../support/mqtt-probe";
import { createSecurityPki, type Credentials, type SecurityPki } from "../support/security-pki";
import { mosquittoSkipReason } from "../support/test-brokers";
import { startBrokerServiceOn, type TestBrokerService } from "../support/trust-boundary";

const A = "pizza-button-01";

let pki: SecurityPki;
const id: Record<string, Credentials> = {};

beforeAll(async () => {
  pki = await createSecurityPki("connections");
  id.a = await pki.thing(A);
  id.restaurant = await pki.thing("restaurant");
}, 60_000);

afterAll(() => pki?.remove());

const portOf = (url: string) => Number(new URL(url.replace(/^mqtts:/, "https:")).port);

/** A raw TCP connection that says nothing; resolves once connected. `closed` tells whether the server closed it. */
async function silentSocket(port: number): Promise<{ socket: net.Socket; closed: () => boolean; whenClosed: Promise<void> }> {
  const socket = net.connect({ host: "127.0.0.1", port });
  socket.on("error", () => {});
  let isClosed = false;
  const whenClosed = new Promise<void>((resolve) =>
    socket.once("close", () => {
      isClosed = true;
      resolve();
    }),
  );
  await new Promise<void>((resolve) => socket.once("connect", () => resolve()));
  return { socket, closed: () => isClosed, whenClosed };
}

describe("embedded broker: handshakes and CONNECT within bounded time", () => {
  let broker: TestBrokerService;
  beforeAll(async () => {
    broker = await startBrokerServiceOn(pki.pki.dir, { rules: "builtin", tlsHandshakeTimeoutMs: 300, connectTimeoutMs: 500 });
  });
  afterAll(() => broker?.close());

  it("sockets whose TLS handshake times out are destroyed; a button still gets in", async () => {
    const silent = await Promise.all(Array.from({ length: 5 }, () => silentSocket(portOf(broker.url))));
    await waitFor(() => silent.every((s) => s.closed()), "the broker to close the silent sockets", 5_000);
    await waitFor(() => broker.service.broker.connections === 0, "no connection left open on the broker", 2_000);
    const refused = broker.events.filter((e) => e.event === "tls-refused");
    expect(refused.length).toBeGreaterThanOrEqual(5);
    const client = await connectClient(broker.url, { credentials: id.a!, clientId: A });
    await client.endAsync();
  });

  it("a socket whose TLS handshake fails (garbage instead of a ClientHello) is destroyed", async () => {
    const garbage = await silentSocket(portOf(broker.url));
    garbage.socket.write(Buffer.alloc(64, 0x41));
    await garbage.whenClosed;
    await waitFor(() => broker.service.broker.connections === 0, "no connection left open on the broker", 2_000);
  });

  it("a TLS connection that sends no MQTT CONNECT is closed after the connect timeout", async () => {
    const { hostname, port } = new URL(broker.url.replace(/^mqtts:/, "https:"));
    const socket = tls.connect({ host: hostname, port: Number(port), ...id.a!, minVersion: "TLSv1.2" });
    socket.on("error", () => {});
    await new Promise<void>((resolve) => socket.once("secureConnect", () => resolve()));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("the broker kept a connection without CONNECT open for 5 s")), 5_000);
      socket.once("close", () => {
        clearTimeout(timer);
        resolve();
      });
    });
    await waitFor(() => broker.service.broker.connections === 0, "no connection left open on the broker", 2_000);
  });
});

describe("embedded broker: open connections are bounded", () => {
  it("per source address: the connection beyond the bound is closed at once and logged; buttons get in once the hogs leave", async () => {
    const broker = await startBrokerServiceOn(pki.pki.dir, { rules: "builtin", maxConnectionsPerAddress: 3, tlsHandshakeTimeoutMs: 10_000 });
    try {
      const hogs = await Promise.all(Array.from({ length: 3 }, () => silentSocket(portOf(broker.url))));
      const beyond = await silentSocket(portOf(broker.url));
      await beyond.whenClosed;
      expect(hogs.some((h) => h.closed())).toBe(false);
      const refused = await broker.waitFor((e) => e.event === "connection-refused", "the refusal");
      expect(refused.reason).toMatch(/too many connections from 127\.0\.0\.1 \(3 open\)/);
      expect((await tryConnect(broker.url, { credentials: id.a!, clientId: A })).connected).toBe(false);
      for (const hog of hogs) hog.socket.destroy();
      await waitFor(() => broker.service.broker.connections === 0, "the hogs to be gone", 2_000);
      const client = await connectClient(broker.url, { credentials: id.a!, clientId: A });
      await client.endAsync();
    } finally {
      await broker.close();
    }
  });

  it("in total: the connection beyond the bound is closed at once and logged", async () => {
    const broker = await startBrokerServiceOn(pki.pki.dir, { rules: "builtin", maxConnections: 2, tlsHandshakeTimeoutMs: 10_000 });
    try {
      const hogs = await Promise.all(Array.from({ length: 2 }, () => silentSocket(portOf(broker.url))));
      const beyond = await silentSocket(portOf(broker.url));
      await beyond.whenClosed;
      const refused = await broker.waitFor((e) => e.event === "connection-refused", "the refusal");
      expect(refused.reason).toMatch(/too many connections \(2 open\)/);
      for (const hog of hogs) hog.socket.destroy();
    } finally {
      await broker.close();
    }
  });

  it("npm run broker takes the bounds and timeouts as flags, with defaults", () => {
    const config = parseBrokerArgs(
      ["--max-connections", "100", "--max-connections-per-address", "5", "--connect-timeout-ms", "2000", "--tls-handshake-timeout-ms", "3000"],
      "/somewhere",
    );
    expect(config).toMatchObject({ maxConnections: 100, maxConnectionsPerAddress: 5, connectTimeoutMs: 2000, tlsHandshakeTimeoutMs: 3000 });
    expect(parseBrokerArgs([], "/somewhere")).toMatchObject({ maxConnections: 4096, maxConnectionsPerAddress: 256, connectTimeoutMs: 5000, tlsHandshakeTimeoutMs: 10_000 });
    expect(() => parseBrokerArgs(["--max-connections-per-address", "0"])).toThrow(UsageError);
  });
});

describe.skipIf(mosquittoSkipReason !== undefined)("mosquitto: open connections are bounded in total", () => {
  it("the client beyond max_connections is refused; those within the bound are served", async () => {
    const mosquitto = await startMosquitto({ pkiDir: pki.pki.dir, maxConnections: 2 });
    try {
      const first = await connectClient(mosquitto.url, { credentials: id.a!, clientId: A });
      const second = await connectClient(mosquitto.url, { credentials: id.restaurant!, clientId: "restaurant" });
      expect((await tryConnect(mosquitto.url, { credentials: id.a!, clientId: `${A}` })).connected).toBe(false);
      await Promise.all([first.endAsync(), second.endAsync()]);
    } finally {
      await mosquitto.close();
    }
  });
});
