// What the broker knows about one TLS connection, from the verified client certificate on.
import type tls from "node:tls";
import type { ClientIdentity } from "./authorizer";

export interface Peer {
  remoteAddress: string | undefined;
  commonName: string | undefined;
  fingerprint256: string;
  /** The certificate (DER), to check it against CRLs that arrive while the connection is open. */
  certificateDer: Buffer | undefined;
  /** Why the certificate cannot be an identity (e.g. no CN), checked at CONNECT. */
  certProblem: string | undefined;
  connect: { clientId: string; will: { topic: string; retain: boolean } | undefined } | undefined;
  /** Set once CONNECT is accepted. */
  identity: ClientIdentity | undefined;
  /** Set when a violation was seen: everything else from this client is refused until it is gone. */
  closing: boolean;
  /** Why the broker ended the connection, for the disconnect event. */
  closeReason: string | undefined;
}

export function peerFromSocket(socket: tls.TLSSocket): Peer {
  const cert = socket.getPeerCertificate();
  // A multi-valued CN arrives as an array: ambiguous, so it is no identity.
  const cn: unknown = cert?.subject?.CN;
  return {
    remoteAddress: socket.remoteAddress,
    commonName: typeof cn === "string" && cn.length > 0 ? cn : undefined,
    fingerprint256: cert?.fingerprint256 ?? "",
    certificateDer: cert?.raw,
    certProblem: cert?.subject === undefined ? "no client certificate" : typeof cn === "string" && cn.length > 0 ? undefined : "certificate must carry exactly one CN",
    connect: undefined,
    identity: undefined,
    closing: false,
    closeReason: undefined,
  };
}
