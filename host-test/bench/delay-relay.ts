// A loopback TCP relay that puts a fixed one-way delay on every byte in both directions, so a click's
// round trips can be counted on one machine: with 50 ms each way (RTT 100 ms), press→ack ≈ RTTs × 100 ms
// plus the CPU time of both ends.
//
// TCP's own handshake: loopback accepts a connection at once, so the relay holds the client's first bytes
// one extra RTT, as a real client can only send them once the SYN-ACK is back (the ClientHello is the first
// thing a TLS client sends). Chunks keep their order (each leaves no earlier than the one before it).
// It also reads TLS record headers (tls-relay.ts) to tell a resumed handshake from a full one, and logs
// every chunk with its arrival time, so the round trips a press waited on can be counted (wire-turns.ts).
import net from "node:net";
import { RecordReader } from "./tls-relay";

const CHANGE_CIPHER_SPEC = 20;

const now = () => performance.timeOrigin + performance.now();

/** One chunk as it reached the relay (before the delay), epoch ms with sub-millisecond precision. */
export interface RelayedChunk {
  from: "client" | "server";
  at: number;
  bytes: number;
  /** TLS record types whose header completed in this chunk (22 handshake, 20 ChangeCipherSpec, 23 data). */
  records: number[];
  /** Client chunks: the client's CPU time so far (ns) when it arrived, where options.clientCpuNs tells. */
  clientCpuNs?: number;
}

export interface DelayedConnection {
  /** The broker's ChangeCipherSpec came before the client's: an abbreviated (resumed) handshake. */
  resumed: boolean;
  closed: boolean;
  /** When the relay accepted the client's connection (epoch ms). */
  acceptedAt: number;
  /** The client's CPU time (ns) at the accept, where options.clientCpuNs tells. */
  acceptedClientCpuNs?: number;
  /** Every chunk in both directions, in arrival order. */
  chunks: RelayedChunk[];
}

export interface DelayRelay {
  readonly port: number;
  readonly oneWayMs: number;
  readonly connections: DelayedConnection[];
  close(): Promise<void>;
}

export async function startDelayRelay(
  target: { host: string; port: number },
  options: {
    oneWayMs: number;
    /** Each TLS record's type as it arrives (before the delay), for timing the ends' work. */
    onRecord?: (from: "client" | "server", type: number) => void;
    /** The client process's CPU time so far (ns), sampled at the accept and as its chunks arrive. */
    clientCpuNs?: () => number | undefined;
  },
): Promise<DelayRelay> {
  const { oneWayMs, onRecord, clientCpuNs } = options;
  const connections: DelayedConnection[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    client.setNoDelay(true);
    const record: DelayedConnection = { resumed: false, closed: false, acceptedAt: now(), chunks: [] };
    const acceptedCpu = clientCpuNs?.();
    if (acceptedCpu !== undefined) record.acceptedClientCpuNs = acceptedCpu;
    connections.push(record);
    let clientCcs = false;
    let serverCcs = false;
    const upstream = net.connect({ host: target.host, port: target.port, noDelay: true });
    sockets.add(client);
    sockets.add(upstream);
    let records: number[] = [];
    const fromClient = new RecordReader((type) => {
      records.push(type);
      if (type === CHANGE_CIPHER_SPEC) clientCcs = true;
      onRecord?.("client", type);
    });
    const fromServer = new RecordReader((type) => {
      records.push(type);
      onRecord?.("server", type);
      if (type === CHANGE_CIPHER_SPEC && !serverCcs) {
        serverCcs = true;
        record.resumed = !clientCcs;
      }
    });
    const toServer = delayedWriter(upstream, oneWayMs, 2 * oneWayMs);
    const toClient = delayedWriter(client, oneWayMs, 0);
    const log = (from: "client" | "server", chunk: Buffer, reader: RecordReader) => {
      const at = now();
      records = [];
      reader.feed(chunk);
      const cpu = from === "client" ? clientCpuNs?.() : undefined;
      record.chunks.push(cpu === undefined ? { from, at, bytes: chunk.length, records } : { from, at, bytes: chunk.length, records, clientCpuNs: cpu });
    };
    client.on("data", (chunk: Buffer) => {
      log("client", chunk, fromClient);
      toServer.write(chunk);
    });
    upstream.on("data", (chunk: Buffer) => {
      log("server", chunk, fromServer);
      toClient.write(chunk);
    });
    // A close travels like data: behind the bytes already in flight, never ahead of them. (Closing both at
    // once after a fixed delay could drop a DISCONNECT still queued; a TLS server then sees the connection end
    // without it, and OpenSSL forgets the session, so the next press could not resume.)
    const closeBoth = () => {
      if (record.closed) return;
      record.closed = true;
      toServer.end();
      toClient.end();
    };
    for (const socket of [client, upstream]) {
      socket.on("end", closeBoth);
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

/**
 * Writes chunks to `to` `oneWayMs` after they arrive (the first `firstExtraMs` more), in order, never early:
 * one queue drained by one timer. A timer may fire up to 1 ms before its time (the event loop's clock counts
 * whole milliseconds), so the queue is checked against performance.now() and the timer set again if need be.
 * end() queues the close the same way: `to` ends once everything before it is written.
 */
function delayedWriter(to: net.Socket, oneWayMs: number, firstExtraMs: number): { write(chunk: Buffer): void; end(): void } {
  const queue: Array<{ chunk: Buffer | "end"; at: number }> = [];
  let timer: NodeJS.Timeout | undefined;
  let first = true;
  let ended = false;
  const drain = () => {
    timer = undefined;
    while (queue.length > 0 && queue[0]!.at <= performance.now()) {
      const { chunk } = queue.shift()!;
      if (to.destroyed) continue;
      if (chunk === "end") {
        to.end();
        // A peer that never closes its side must not keep the connection (and the relay) open.
        setTimeout(() => to.destroy(), 1000).unref();
      } else to.write(chunk);
    }
    if (queue.length > 0) timer = setTimeout(drain, Math.ceil(queue[0]!.at - performance.now()));
  };
  const enqueue = (chunk: Buffer | "end") => {
    const lastAt = queue.length > 0 ? queue[queue.length - 1]!.at : 0;
    queue.push({ chunk, at: Math.max(lastAt, performance.now() + oneWayMs + (first ? firstExtraMs : 0)) });
    first = false;
    if (!timer) timer = setTimeout(drain, Math.ceil(queue[0]!.at - performance.now()));
  };
  return {
    write(chunk) {
      if (!ended) enqueue(chunk);
    },
    end() {
      if (ended) return;
      ended = true;
      enqueue("end");
    },
  };
}
