// A real Peer: what the broker knows about a connection, read by peerFromSocket from a real mutual-TLS
// handshake on loopback with the thing's certificate (issued by the test PKI at run time).
import { once } from "node:events";
import type { AddressInfo } from "node:net";
import tls from "node:tls";
import { type Peer, peerFromSocket } from "../../../../services/broker/peer";
import type { TestPki, ThingTls } from "./fixtures";

export async function peerFor(pki: TestPki, thing: ThingTls, connect?: Peer["connect"]): Promise<Peer> {
  const server = tls.createServer({ key: pki.brokerKey, cert: pki.brokerCert, ca: pki.caPem, requestCert: true, rejectUnauthorized: true, minVersion: "TLSv1.2" });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  try {
    const accepted = once(server, "secureConnection") as Promise<[tls.TLSSocket]>;
    const client = tls.connect({ host: "127.0.0.1", port: (server.address() as AddressInfo).port, servername: "localhost", ca: pki.caPem, key: thing.key, cert: thing.cert });
    client.on("error", () => undefined);
    const [socket] = await accepted;
    const peer = peerFromSocket(socket);
    client.destroy();
    socket.destroy();
    return { ...peer, connect };
  } finally {
    server.close();
  }
}
