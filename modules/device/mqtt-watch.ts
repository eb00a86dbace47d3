// What the SDK's classic MQTT client does not tell us, recovered from the bytes it receives, and the
// decision the core needs on every close: retry ("network") or stop with auth-error ("auth").
//
// The classic client (modules/network/mqtt) drops SUBACKs without a callback and reports every failure
// as a bare onClose(). A refused SUBSCRIBE (return code 0x80) is an authorization failure, and the port
// contract says onReady means "connected AND subscribed", so the connector watches the inbound stream
// with this small framing parser. Pure TypeScript, no Moddable imports: tested under Node.

import type { CloseKind } from "../core/ports";

export interface InboundWatchOptions {
  onConnack?(returnCode: number): void;
  onSuback?(packetId: number, returnCodes: number[]): void;
}

const CONNACK = 0x20;
const SUBACK = 0x90;
/** Bodies we need are tiny; anything else is skipped without buffering (a PUBLISH may be large). */
const MAX_KEPT_BODY = 64;

/** Incremental MQTT 3.1.1 fixed-header parser: feed it the inbound bytes in any chunking. */
export class MqttInboundWatch {
  private readonly options: InboundWatchOptions;
  private phase: "type" | "length" | "body" = "type";
  private type = 0;
  private remaining = 0;
  private multiplier = 1;
  private lengthBytes = 0;
  private body: number[] | undefined;
  private broken = false;

  constructor(options: InboundWatchOptions) {
    this.options = options;
  }

  feed(bytes: Uint8Array): void {
    for (let i = 0; i < bytes.length && !this.broken; ) {
      const b = bytes[i]!;
      if (this.phase === "type") {
        this.type = b & 0xf0;
        this.remaining = 0;
        this.multiplier = 1;
        this.lengthBytes = 0;
        this.phase = "length";
        i++;
      } else if (this.phase === "length") {
        this.remaining += (b & 0x7f) * this.multiplier;
        this.multiplier *= 128;
        this.lengthBytes++;
        i++;
        if (b & 0x80) {
          if (this.lengthBytes === 4) this.broken = true; // malformed; the client itself will fail
          continue;
        }
        const keep = (this.type === CONNACK || this.type === SUBACK) && this.remaining <= MAX_KEPT_BODY;
        this.body = keep ? [] : undefined;
        if (this.remaining === 0) this.complete();
        else this.phase = "body";
      } else {
        const take = Math.min(this.remaining, bytes.length - i);
        if (this.body) for (let k = 0; k < take; k++) this.body.push(bytes[i + k]!);
        i += take;
        this.remaining -= take;
        if (this.remaining === 0) this.complete();
      }
    }
  }

  private complete(): void {
    const body = this.body;
    this.phase = "type";
    this.body = undefined;
    if (!body) return;
    if (this.type === CONNACK && body.length === 2) this.options.onConnack?.(body[1]!);
    else if (this.type === SUBACK && body.length >= 3) {
      this.options.onSuback?.((body[0]! << 8) | body[1]!, body.slice(2));
    }
  }
}

/** What one connection attempt saw before it ended. */
export interface CloseEvidence {
  /**
   * The broker answered our ClientHello (bytes arrived during the handshake). Not "TCP connected": the
   * SDK's Linux socket reports a refused connect as connected-then-write-failed.
   */
  brokerAnswered: boolean;
  /** TLS handshake completed. */
  tlsEstablished: boolean;
  /** Error thrown inside the TLS stack (an alert from the broker, or our own verification failing). */
  tlsError?: string;
  /** CONNACK return code, once received. */
  connackCode?: number;
  /** SUBACK carried 0x80 for our subscription. */
  subscribeRefused?: boolean;
  /** The message the MQTT client passed to its fail(). */
  clientFailure?: string;
}

const CONNACK_REASONS: { readonly [code: number]: string } = Object.freeze({
  1: "unacceptable protocol version",
  2: "client identifier rejected",
  3: "server unavailable",
  4: "bad user name or password",
  5: "not authorized",
});

/**
 * "auth" means retrying the same identity cannot help: TLS refused (either side rejected a certificate,
 * or our key is unusable), CONNECT refused (except "server unavailable"), or SUBSCRIBE refused.
 * Everything else is "network".
 */
export function classifyClose(e: CloseEvidence): { kind: CloseKind; detail: string } {
  if (e.subscribeRefused) return { kind: "auth", detail: "subscribe refused by the broker (SUBACK 0x80)" };
  if (e.connackCode !== undefined && e.connackCode !== 0) {
    const reason = CONNACK_REASONS[e.connackCode] ?? "unknown code";
    return {
      kind: e.connackCode === 3 ? "network" : "auth",
      detail: `CONNACK refused: ${e.connackCode} (${reason})`,
    };
  }
  if (e.brokerAnswered && !e.tlsEstablished) {
    // Started TLS and never finished it: a certificate was refused by the broker (alert), the broker's
    // certificate failed our checks (untrusted, expired, name mismatch, wrong clock), or the broker hung
    // up mid-handshake because it does not accept us. An identical retry gets the same answer.
    return { kind: "auth", detail: `TLS handshake failed: ${describeTlsError(e.tlsError)}` };
  }
  if (!e.tlsEstablished) return { kind: "network", detail: `cannot reach the broker (${e.clientFailure ?? "socket error"})` };
  return { kind: "network", detail: `connection lost (${e.clientFailure ?? "closed"})` };
}

function describeTlsError(error: string | undefined): string {
  if (error === undefined) return "closed by the broker";
  // The SDK's TLS, when the broker's chain does not lead to ca.der, looks for the issuer in its bundled
  // public CA index (ca.ski), which this firmware leaves out: the broker is simply not trusted.
  if (error.includes("ca.ski")) return `broker certificate not issued by the trusted CA (ca.der) [${error}]`;
  return error;
}
