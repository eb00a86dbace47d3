// The bench's delay relay (delay-relay.ts) between a real client and server on loopback: the delay it puts
// on the bytes, and a close that travels behind them.
import net from "node:net";
import { describe, expect, it } from "vitest";
import { startDelayRelay } from "../../bench/delay-relay";

const ONE_WAY_MS = 20;

/** A server behind the relay; `talk` gets the relay's port, and both are closed after it. */
async function throughRelay<T>(onConnection: (socket: net.Socket) => void, talk: (port: number) => Promise<T>): Promise<T> {
  const server = net.createServer(onConnection);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const relay = await startDelayRelay({ host: "127.0.0.1", port: (server.address() as net.AddressInfo).port }, { oneWayMs: ONE_WAY_MS });
  try {
    return await talk(relay.port);
  } finally {
    await relay.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

/** Everything `socket` receives up to its end, and when the end came. */
function readToEnd(socket: net.Socket): Promise<{ text: string; endedAt: number }> {
  return new Promise((resolve, reject) => {
    let text = "";
    socket.on("data", (chunk) => (text += chunk.toString()));
    socket.on("end", () => resolve({ text, endedAt: performance.now() }));
    socket.on("error", reject);
  });
}

describe("delay relay", () => {
  it("a client that writes and closes at once: every byte reaches the server, then the close, after the delay", async () => {
    let atServer!: Promise<{ text: string; endedAt: number }>;
    const { wroteAt, received } = await throughRelay(
      (socket) => (atServer = readToEnd(socket)),
      async (port) => {
        const client = net.connect({ host: "127.0.0.1", port, noDelay: true });
        await new Promise<void>((resolve) => client.on("connect", () => resolve()));
        const wroteAt = performance.now();
        client.write("PUBLISH order");
        client.end("DISCONNECT"); // the last bytes and the close in one go, as a button going to sleep
        await new Promise<void>((resolve) => client.on("close", () => resolve()));
        return { wroteAt, received: await atServer };
      },
    );
    expect(received.text).toBe("PUBLISH orderDISCONNECT");
    // The first bytes wait one extra RTT for TCP's handshake (see delay-relay.ts); the close comes behind them.
    expect(received.endedAt - wroteAt).toBeGreaterThanOrEqual(3 * ONE_WAY_MS - 1);
  });

  it("a server that answers and closes: the client gets the answer, then the close", async () => {
    const received = await throughRelay(
      (socket) => socket.end("CONNACK"),
      (port) => readToEnd(net.connect({ host: "127.0.0.1", port })),
    );
    expect(received.text).toBe("CONNACK");
  });
});
