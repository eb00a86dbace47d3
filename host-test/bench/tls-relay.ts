// A loopback TCP relay that reads TLS record headers (5 bytes, in clear even when the payload is
// encrypted) as they pass, to time a client's handshake and its first MQTT exchanges from the wire.
// Used for the firmware, whose flow reports only connect → ready: TLS 1.2 record types are
// 20 ChangeCipherSpec, 21 alert, 22 handshake, 23 application data. The server's ChangeCipherSpec closes
// the handshake as the client sees it (its Finished follows in the same flight); after that every
// application-data record is one write: the client's first flight (CONNECT + SUBSCRIBE + PUBLISH,
// pipelined), its PUBACK for the ack and its DISCONNECT; the broker's CONNACK, SUBACK, PUBACK and the ack.
// The relay adds one loopback hop each way (tens of microseconds per record on an idle machine).
import net from "node:net";

/** Times are epoch milliseconds with sub-millisecond precision (performance.timeOrigin + performance.now()). */
export interface RelayTrace {
  acceptedAt: number;
  clientHelloAt?: number;
  serverChangeCipherAt?: number;
  clientChangeCipherAt?: number;
  /** Arrival times of handshake records, by direction ([0] client: ClientHello, [0] server: ServerHello). */
  clientHandshake: number[];
  serverHandshake: number[];
  /** Arrival times of application-data records, by direction. */
  clientApp: number[];
  serverApp: number[];
  closedAt?: number;
  /** The server's ChangeCipherSpec came before the client's: an abbreviated (resumed) handshake. */
  readonly resumed: boolean;
}

export interface TlsRelay {
  readonly port: number;
  readonly traces: RelayTrace[];
  close(): Promise<void>;
}

const now = () => performance.timeOrigin + performance.now();

const CHANGE_CIPHER_SPEC = 20;
const HANDSHAKE = 22;
const APPLICATION_DATA = 23;

/** Feeds a byte stream, reports each record's content type when its header is complete. */
export class RecordReader {
  private header: number[] = [];
  private remaining = 0;

  constructor(private readonly onRecord: (type: number) => void) {}

  feed(chunk: Buffer): void {
    let i = 0;
    while (i < chunk.length) {
      if (this.remaining > 0) {
        const take = Math.min(this.remaining, chunk.length - i);
        this.remaining -= take;
        i += take;
        continue;
      }
      this.header.push(chunk[i++]!);
      if (this.header.length === 5) {
        const [type, , , hi, lo] = this.header as [number, number, number, number, number];
        this.header = [];
        this.remaining = (hi << 8) | lo;
        this.onRecord(type);
      }
    }
  }
}

export async function startTlsRelay(target: { host: string; port: number }): Promise<TlsRelay> {
  const traces: RelayTrace[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    client.setNoDelay(true);
    const trace: RelayTrace = {
      acceptedAt: now(),
      clientHandshake: [],
      serverHandshake: [],
      clientApp: [],
      serverApp: [],
      get resumed() {
        return this.serverChangeCipherAt !== undefined && (this.clientChangeCipherAt === undefined || this.serverChangeCipherAt < this.clientChangeCipherAt);
      },
    };
    traces.push(trace);
    const upstream = net.connect({ host: target.host, port: target.port, noDelay: true });
    sockets.add(client);
    sockets.add(upstream);
    const fromClient = new RecordReader((type) => {
      const at = now();
      if (type === HANDSHAKE) {
        trace.clientHelloAt ??= at;
        trace.clientHandshake.push(at);
      } else if (type === CHANGE_CIPHER_SPEC) trace.clientChangeCipherAt ??= at;
      else if (type === APPLICATION_DATA) trace.clientApp.push(at);
    });
    const fromServer = new RecordReader((type) => {
      const at = now();
      if (type === HANDSHAKE) trace.serverHandshake.push(at);
      else if (type === CHANGE_CIPHER_SPEC) trace.serverChangeCipherAt ??= at;
      else if (type === APPLICATION_DATA) trace.serverApp.push(at);
    });
    client.on("data", (chunk: Buffer) => {
      fromClient.feed(chunk);
      upstream.write(chunk);
    });
    upstream.on("data", (chunk: Buffer) => {
      fromServer.feed(chunk);
      client.write(chunk);
    });
    const closeBoth = () => {
      trace.closedAt ??= now();
      client.destroy();
      upstream.destroy();
    };
    client.on("close", closeBoth);
    upstream.on("close", closeBoth);
    client.on("error", closeBoth);
    upstream.on("error", closeBoth);
    client.on("close", () => sockets.delete(client));
    upstream.on("close", () => sockets.delete(upstream));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  return {
    port,
    traces,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/**
 * The wire view of one cold click through the relay, ms; undefined where the records were not seen.
 * Each step is "who was working": the client (c) or the broker (s), between two records on the wire.
 */
export interface WireSteps {
  /** c: TCP accepted → ClientHello (the client builds its hello). */
  acceptToClientHello?: number;
  /** ClientHello → the end of the handshake as the client sees it (full: broker's ChangeCipherSpec; resumed: its own Finished). */
  tlsHandshake?: number;
  /** s: ClientHello → ServerHello flight (broker: key exchange signature). */
  serverFirstFlight?: number;
  /** c: ServerHello flight → client's ChangeCipherSpec (full: chain check, ECDHE, Certificate/KeyExchange/RSA CertificateVerify; resumed: its Finished). */
  clientSecondFlight?: number;
  /** s: client flight → broker's ChangeCipherSpec (client certificate and signature check, Finished); full handshakes only. */
  serverFinish?: number;
  /** c: broker's Finished → the first MQTT flight (Finished check; CONNECT + SUBSCRIBE + PUBLISH). */
  handshakeToConnect?: number;
  /** s: first flight → CONNACK. */
  connack?: number;
  /** s: CONNACK → the ack (SUBACK, PUBACK, then broker → restaurant → broker). */
  connackToAck?: number;
  resumed: boolean;
}

/** When the restaurant's ack passed: the broker's last record before the client's next one (its PUBACK for that ack). */
export function wireAckAt(trace: RelayTrace): number | undefined {
  const clientSecond = trace.clientApp[1];
  return trace.serverApp.filter((t) => clientSecond === undefined || t <= clientSecond).at(-1);
}

export function wireSteps(trace: RelayTrace): WireSteps {
  const d = (a: number | undefined, b: number | undefined) => (a !== undefined && b !== undefined ? b - a : undefined);
  const connect = trace.clientApp[0];
  const connack = trace.serverApp[0];
  const ack = wireAckAt(trace);
  const resumed = trace.resumed;
  // Full handshake: it ends for the client when the broker's ChangeCipherSpec + Finished arrive. Resumed
  // (abbreviated) handshake: the broker's come first, and it ends with the client's own Finished.
  const clientFinished = trace.clientHandshake.filter((t) => connect === undefined || t <= connect).at(-1);
  const end = resumed ? clientFinished : trace.serverChangeCipherAt;
  return {
    acceptToClientHello: d(trace.acceptedAt, trace.clientHelloAt),
    tlsHandshake: d(trace.clientHelloAt, end),
    serverFirstFlight: d(trace.clientHelloAt, trace.serverHandshake[0]),
    clientSecondFlight: d(trace.serverHandshake[0], resumed ? clientFinished : trace.clientChangeCipherAt),
    serverFinish: resumed ? undefined : d(trace.clientChangeCipherAt, trace.serverChangeCipherAt),
    handshakeToConnect: d(end, connect),
    connack: d(connect, connack),
    connackToAck: ack === connack ? undefined : d(connack, ack),
    resumed,
  };
}
