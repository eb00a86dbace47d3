// The bench's round-trip count and split (wire-turns.ts) over the real delay relay: a client and a server
// on loopback that talk in scripted turns, the server taking a known time to answer each one.
import net from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { startDelayRelay, type DelayRelay } from "../../bench/delay-relay";
import { wireSplit } from "../../bench/wire-turns";

const ONE_WAY_MS = 20;
const SERVER_MS = 30;

let server: net.Server | undefined;
let relay: DelayRelay | undefined;

afterEach(async () => {
  await relay?.close();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  relay = undefined;
  server = undefined;
});

/** A server that answers each chunk after SERVER_MS ("ack" for the last of `flights`), behind the relay. */
async function start(): Promise<number> {
  server = net.createServer((socket) => {
    socket.setNoDelay(true);
    socket.on("data", (chunk) => setTimeout(() => socket.write(chunk.toString() === "last" ? "ack" : "go on"), SERVER_MS));
    socket.on("error", () => {});
  });
  await new Promise<void>((resolve) => server!.listen(0, "127.0.0.1", () => resolve()));
  const address = server.address() as net.AddressInfo;
  relay = await startDelayRelay({ host: "127.0.0.1", port: address.port }, { oneWayMs: ONE_WAY_MS, clientCpuNs: () => 1e6 * performance.now() });
  return relay.port;
}

/** Sends `flights` chunks, each after the answer to the one before; resolves at the ack (epoch ms). */
function talk(port: number, flights: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const client = net.connect({ host: "127.0.0.1", port, noDelay: true });
    let sent = 0;
    const next = () => client.write(++sent === flights ? "last" : `flight ${sent}`);
    client.on("connect", next);
    client.on("data", (chunk) => {
      if (chunk.toString() === "ack") {
        const at = performance.timeOrigin + performance.now();
        client.write("bye");
        setTimeout(() => {
          client.destroy();
          resolve(at);
        }, 2 * ONE_WAY_MS + 10);
      } else next();
    });
    client.on("error", reject);
  });
}

describe("wire split of a connection through the delay relay", () => {
  it.each([1, 2, 3])("%i client flight(s) before the ack: TCP + that many round trips; the server's answering time summed", async (flights) => {
    const port = await start();
    const ackSeenAt = await talk(port, flights);
    const split = wireSplit(relay!.connections[0]!, { oneWayMs: ONE_WAY_MS, ackSeenAt });
    expect(split).toBeDefined();
    expect(split!.roundTrips).toBe(1 + flights);
    expect(split!.wireMs).toBe((1 + flights) * 2 * ONE_WAY_MS);
    // Each answer took SERVER_MS on the server; timers fire late, never early (a loaded machine: generous top).
    expect(split!.serverMs).toBeGreaterThanOrEqual(flights * SERVER_MS - 2);
    expect(split!.serverMs).toBeLessThan(flights * (SERVER_MS + 60));
    expect(split!.clientCpuMs).toBeGreaterThan(0); // the sampler here is a clock: defined once the client spoke after the ack
  });

  it("no server chunk could have reached the client by then: no split", async () => {
    const port = await start();
    await talk(port, 1);
    const connection = relay!.connections[0]!;
    expect(wireSplit(connection, { oneWayMs: ONE_WAY_MS, ackSeenAt: connection.acceptedAt })).toBeUndefined();
  });
});
