// A loopback TCP relay that puts a fixed one-way delay on every byte in both directions, so a click's
// round trips can be counted on one machine: with 50 ms each way (RTT 100 ms), press→ack ≈ RTTs × 100 ms
// plus the CPU time of both ends.
//
// TCP's own handshake: loopback accepts a connection at once, so the relay holds the client's first bytes
// one extra RTT, as a real client can only send them once the SYN-ACK is back (the ClientHello is the first
// thing a TLS client sends). Chunks keep their order (each leaves no earlier than the one before it).
// It also reads TLS record headers (tls-relay.ts) to tell a resumed handshake from a full one.
import net from "node:net";
import { RecordReader } from "./tls-relay";

const CHANGE_CIPHER_SPEC = 20;

export interface DelayedConnection {
  /** The broker's ChangeCipherSpec came before the client's: an abbreviated (resumed) handshake. */
  resumed: boolean;
  closed: boolean;
}

export interface DelayRelay {
  readonly port: number;
  readonly oneWayMs: number;
  readonly connections: DelayedConnection[];
  close(): Promise<void>;
}

export async function startDelayRelay(
  target: { host: string; port: number },
  options: { oneWayMs: number; /** Each TLS record's type as it arrives (before the delay), for timing the ends' work. */ onRecord?: (from: "client" | "server", type: number) => void },
): Promise<DelayRelay> {
  const { oneWayMs, onRecord } = options;
  const connections: DelayedConnection[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    client.setNoDelay(true);
    const record: DelayedConnection = { resumed: false, closed: false };
    connections.push(record);
    let clientCcs = false;
    let serverCcs = false;
    const upstream = net.connect({ host: target.host, port: target.port, noDelay: true });
    sockets.add(client);
    sockets.add(upstream);
    const fromClient = new RecordReader((type) => {
      if (type === CHANGE_CIPHER_SPEC) clientCcs = true;
      onRecord?.("client", type);
    });
    const fromServer = new RecordReader((type) => {
      onRecord?.("server", type);
      if (type === CHANGE_CIPHER_SPEC && !serverCcs) {
        serverCcs = true;
        record.resumed = !clientCcs;
      }
    });
    /** Forwards chunks `delayMs` after they arrive, never before the previous one. */
    const delayed = (to: net.Socket, firstExtraMs: number) => {
      let lastAt = 0;
      let first = true;
      return (chunk: Buffer) => {
        const at = Math.max(lastAt, performance.now() + oneWayMs + (first ? firstExtraMs : 0));
        first = false;
        lastAt = at;
        setTimeout(() => {
          if (!to.destroyed) to.write(chunk);
        }, at - performance.now());
      };
    };
    const toServer = delayed(upstream, 2 * oneWayMs);
    const toClient = delayed(client, 0);
    client.on("data", (chunk: Buffer) => {
      fromClient.feed(chunk);
      toServer(chunk);
    });
    upstream.on("data", (chunk: Buffer) => {
      fromServer.feed(chunk);
      toClient(chunk);
    });
    // Closes are not timed: pass them on after the data already in flight.
    const closeBoth = () => {
      record.closed = true;
      setTimeout(() => {
        client.destroy();
        upstream.destroy();
      }, oneWayMs + 1);
    };
    for (const socket of [client, upstream]) {
      socket.on("close", closeBoth);
      socket.on("error", closeBoth);
      socket.on("close", () => sockets.delete(socket));
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const address = server.address();
  return {
    port: typeof address === "object" && address ? address.port : 0,
    oneWayMs,
    connections,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
