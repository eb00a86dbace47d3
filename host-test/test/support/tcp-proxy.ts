// A loopback TCP proxy the test controls, between a device and its broker. It forwards bytes untouched
// (TLS stays end to end: the device still verifies the broker's certificate) and can, on command, cut
// every connection at once (a network drop) or stop listening (the network is down: ECONNREFUSED).
import net from "node:net";

export interface TcpProxy {
  readonly host: string;
  readonly port: number;
  /** Connections accepted since the start. */
  readonly accepted: number;
  /** Destroys every open connection, both sides, now (synchronously). */
  cutAll(): void;
  /** Stops accepting (new connections are refused) and cuts the open ones. */
  down(): Promise<void>;
  /** Listens again on the same port. */
  up(): Promise<void>;
  close(): Promise<void>;
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const pairs = new Set<[net.Socket, net.Socket]>();
  let accepted = 0;
  let server: net.Server | undefined;
  let port = 0;

  const onConnection = (downstream: net.Socket) => {
    accepted++;
    downstream.setNoDelay(true);
    const upstream = net.connect({ host: target.host, port: target.port, noDelay: true });
    const pair: [net.Socket, net.Socket] = [downstream, upstream];
    pairs.add(pair);
    const end = () => {
      pairs.delete(pair);
      downstream.destroy();
      upstream.destroy();
    };
    downstream.on("error", end).on("close", end);
    upstream.on("error", end).on("close", end);
    downstream.pipe(upstream);
    upstream.pipe(downstream);
  };

  const listen = () =>
    new Promise<void>((resolve, reject) => {
      const s = net.createServer(onConnection);
      s.once("error", reject);
      s.listen(port, "127.0.0.1", () => {
        const address = s.address();
        port = typeof address === "object" && address ? address.port : port;
        server = s;
        resolve();
      });
    });

  const cutAll = () => {
    for (const [a, b] of [...pairs]) {
      a.destroy();
      b.destroy();
    }
    pairs.clear();
  };

  const down = async () => {
    const s = server;
    server = undefined;
    cutAll();
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  };

  await listen();
  return {
    host: "127.0.0.1",
    get port() {
      return port;
    },
    get accepted() {
      return accepted;
    },
    cutAll,
    down,
    up: async () => {
      if (!server) await listen();
    },
    close: down,
  };
}
