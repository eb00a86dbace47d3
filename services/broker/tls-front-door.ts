// The broker's TLS front door: a node:tls server with mutual TLS (1.2 minimum), bounds on open connections
// counted from the first TCP byte, one "tls-refused" event per failed handshake, TLS session resumption, and
// its trust (CAs, CRLs) and own certificate replaceable while it runs. What comes out is a verified TLS
// socket; the MQTT side (aedes) is the broker's.
//
// node:tls fact: a client certificate that fails verification (unknown CA, revoked) ends the handshake
// without a TLS alert; the client sees ECONNRESET, and the server only "socket hang up" plus the
// verification code in socket.authorizationError, which is what we log.
import { X509Certificate } from "node:crypto";
import type { Socket } from "node:net";
import tls from "node:tls";
import type { BrokerEvent, BrokerStats, TrustMaterial } from "./broker-types";
import { ConnectionLimits, type ConnectionLimitsOptions } from "./connection-limits";
import { TlsSessionCache, type TlsSessionCacheOptions } from "./tls-sessions";

export interface ServerIdentity {
  key: string | Buffer;
  cert: string | Buffer;
}

export interface TlsFrontDoorOptions {
  identity: ServerIdentity;
  trust: TrustMaterial;
  limits: ConnectionLimitsOptions;
  handshakeTimeoutMs: number;
  tlsSessions?: TlsSessionCacheOptions;
  stats: BrokerStats;
  emit(event: BrokerEvent): void;
  /** A handshake succeeded: the client certificate is verified. */
  onSecureConnection(socket: tls.TLSSocket): void;
}

export class TlsFrontDoor {
  private readonly server: tls.Server;
  private readonly sessions: TlsSessionCache;
  private readonly limits: ConnectionLimits;
  private readonly sockets = new Set<Socket>();
  /** Sockets closed by the connection limits: their TLS error is no refusal of a certificate. */
  private readonly overLimit = new WeakSet<Socket>();
  // What the server presents and trusts now; either can be replaced while it runs.
  private identity: ServerIdentity;
  private trust: TrustMaterial;

  constructor(private readonly opts: TlsFrontDoorOptions) {
    checkTrust(opts.trust);
    this.identity = opts.identity;
    this.trust = opts.trust;
    this.limits = new ConnectionLimits(opts.limits);
    this.sessions = new TlsSessionCache(opts.tlsSessions);
    this.server = tls.createServer({
      ...this.secureContextOptions(this.trust),
      requestCert: true,
      rejectUnauthorized: true,
      handshakeTimeout: opts.handshakeTimeoutMs,
    });
    this.sessions.attach(this.server);
    this.server.on("connection", (socket: Socket) => this.admit(socket));
    this.server.on("tlsClientError", (err: Error & { code?: string }, socket: tls.TLSSocket) => this.refused(err, socket));
    this.server.on("secureConnection", (socket: tls.TLSSocket) => {
      opts.stats.tlsAccepted++;
      socket.setNoDelay(true);
      opts.onSecureConnection(socket);
    });
    this.server.on("error", (err: Error) => opts.emit({ event: "broker-error", reason: err.message }));
  }

  /** Open TCP connections (handshakes in progress included). */
  get connections(): number {
    return this.sockets.size;
  }

  /** Listens; resolves to the port (an ephemeral one for port 0). */
  listen(port: number, host: string): Promise<number> {
    return new Promise<number>((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(port, host, () => {
        this.server.off("error", reject);
        const address = this.server.address();
        resolve(typeof address === "object" && address !== null ? address.port : 0);
      });
    });
  }

  /** New CAs and CRLs for new connections. Throws on bad PEM, and the old trust stays in force. */
  updateTrust(trust: TrustMaterial): void {
    checkTrust(trust);
    // Build it once on the side first: bad PEM (e.g. a CRL) throws here.
    tls.createSecureContext(this.secureContextOptions(trust));
    this.server.setSecureContext(this.secureContextOptions(trust));
    this.trust = trust;
    this.sessions.forgetAll(); // no resumption past the new CRL
  }

  /** A new certificate and key for new connections. Throws on bad PEM or a mismatched key, and the old one stays. */
  updateCertificate(next: ServerIdentity): void {
    const previous = this.identity;
    this.identity = { key: next.key, cert: next.cert };
    try {
      tls.createSecureContext(this.secureContextOptions(this.trust)); // a key that does not match the certificate throws here
    } catch (error) {
      this.identity = previous;
      throw error;
    }
    this.server.setSecureContext(this.secureContextOptions(this.trust));
    this.sessions.forgetAll(); // clients get the new certificate in a full handshake
  }

  /** Stops accepting; resolves once every connection is gone (destroySockets ends those still open). */
  stopListening(): Promise<void> {
    this.sessions.detach();
    return new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  destroySockets(): void {
    for (const socket of this.sockets) socket.destroy();
  }

  private secureContextOptions(trust: TrustMaterial): tls.SecureContextOptions {
    return {
      ...this.sessions.serverOptions(),
      key: this.identity.key,
      cert: this.identity.cert,
      ca: trust.ca,
      ...(trust.crl && trust.crl.length > 0 ? { crl: trust.crl } : {}),
      // setSecureContext() resets anything not given, so the floor is repeated here.
      minVersion: "TLSv1.2",
    };
  }

  private admit(socket: Socket): void {
    const address = socket.remoteAddress ?? "unknown";
    const refusal = this.limits.admit(address);
    if (refusal) {
      this.opts.stats.connectionsRefused++;
      this.overLimit.add(socket);
      this.opts.emit({ event: "connection-refused", reason: refusal, remoteAddress: address });
      socket.destroy();
      return;
    }
    // Nagle + delayed ACK costs ~40 ms per hop (docs/ARCHITECTURE.md, "Latency"); set before the handshake so it is fast too.
    socket.setNoDelay(true);
    this.sockets.add(socket);
    socket.once("close", () => {
      this.sockets.delete(socket);
      this.limits.release(address);
    });
  }

  private refused(err: Error & { code?: string }, socket: tls.TLSSocket): void {
    // node:tls reports a failed or timed-out handshake (ERR_TLS_HANDSHAKE_TIMEOUT) here but may leave the
    // socket open: a silent client would keep its file descriptor. Always destroy it.
    socket.destroy();
    const raw = (socket as tls.TLSSocket & { _parent?: Socket })._parent;
    if (raw && this.overLimit.has(raw)) return;
    this.opts.stats.tlsRefused++;
    // A client certificate that fails verification (unknown CA, revoked, expired) is not an OpenSSL
    // error: node:tls destroys the socket without a TLS alert and reports "socket hang up" here; the
    // verification result is on the socket.
    const verification: unknown = socket.authorizationError; // a code string at runtime, typed as Error
    const rejected = typeof verification === "string" ? verification : verification instanceof Error ? verification.message : undefined;
    this.opts.emit({
      event: "tls-refused",
      reason: rejected ? `client certificate rejected: ${rejected}` : openSslReason(err.message),
      code: rejected ?? err.code,
      remoteAddress: socket.remoteAddress,
    });
  }
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** node:tls silently ignores a `ca` entry that is not PEM, so a typo would quietly trust nothing: check. */
export function checkTrust(trust: TrustMaterial): void {
  if (!Array.isArray(trust.ca) || trust.ca.length === 0 || trust.ca.some((pem) => typeof pem !== "string")) {
    throw new Error("broker trust: ca must be a non-empty array of PEM strings");
  }
  trust.ca.forEach((pem, i) => {
    const blocks = pem.match(PEM_CERTIFICATE) ?? [];
    if (blocks.length === 0) throw new Error(`broker trust: ca[${i}] holds no PEM certificate`);
    for (const block of blocks) {
      let cert: X509Certificate;
      try {
        cert = new X509Certificate(block);
      } catch (err) {
        throw new Error(`broker trust: ca[${i}] is not a readable certificate: ${(err as Error).message}`);
      }
      if (!cert.ca) throw new Error(`broker trust: ca[${i}] (${cert.subject.replace(/\n/g, ", ")}) is not a CA certificate`);
    }
  });
  // CRL content is checked by node:tls itself ("Failed to parse CRL").
  if (trust.crl !== undefined && (!Array.isArray(trust.crl) || trust.crl.some((pem) => typeof pem !== "string"))) {
    throw new Error("broker trust: crl must be an array of PEM strings");
  }
}

/** "8052…:error:0A0000C7:SSL routines:tls_process_client_certificate:peer did not return a certificate:…" → the reason. */
function openSslReason(message: string): string {
  return /:error:[0-9A-Fa-f]+:[^:]*:[^:]*:([^:]+):/.exec(message)?.[1] ?? message;
}
