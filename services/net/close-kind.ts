// Why did a connection end? The core retries "network" closes with backoff and shows auth-error, without a
// retry loop, for "auth" closes. So "auth" must mean "retrying cannot help": the broker or our own TLS stack
// refused an identity, a certificate, or a permission.
import type { CloseKind } from "../../modules/core/ports";

/** OpenSSL certificate verification results as Node reports them (err.code) when the broker's cert fails. */
const CERT_VERIFY_CODES = new Set([
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_CRL",
  "UNABLE_TO_DECRYPT_CERT_SIGNATURE",
  "UNABLE_TO_DECRYPT_CRL_SIGNATURE",
  "UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY",
  "CERT_SIGNATURE_FAILURE",
  "CRL_SIGNATURE_FAILURE",
  "CERT_NOT_YET_VALID",
  "CERT_HAS_EXPIRED",
  "CRL_NOT_YET_VALID",
  "CRL_HAS_EXPIRED",
  "ERROR_IN_CERT_NOT_BEFORE_FIELD",
  "ERROR_IN_CERT_NOT_AFTER_FIELD",
  "ERROR_IN_CRL_LAST_UPDATE_FIELD",
  "ERROR_IN_CRL_NEXT_UPDATE_FIELD",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "CERT_CHAIN_TOO_LONG",
  "CERT_REVOKED",
  "INVALID_CA",
  "PATH_LENGTH_EXCEEDED",
  "INVALID_PURPOSE",
  "CERT_UNTRUSTED",
  "CERT_REJECTED",
  "HOSTNAME_MISMATCH",
  "ERR_TLS_CERT_ALTNAME_INVALID",
]);

/** MQTT 3.1.1 CONNACK return codes. Only "server unavailable" is worth retrying. */
const CONNACK_SERVER_UNAVAILABLE = 3;

/** How far a connection got before it closed. */
export type ConnectionStage =
  | "tcp" // connecting TCP
  | "tls" // TCP up, TLS handshake in progress
  | "connect" // TLS up, CONNECT sent, no CONNACK yet
  | "subscribe" // CONNACK accepted, SUBSCRIBE sent, no SUBACK yet
  | "ready"; // subscribed

export interface CloseEvidence {
  stage?: ConnectionStage;
  /** Errors seen on the socket and the MQTT client, in order. */
  errors?: ReadonlyArray<{ code?: unknown; message?: string }>;
  /** A non-zero CONNACK return code, if the broker refused the CONNECT. */
  connackCode?: number;
  /** The broker answered SUBSCRIBE with 128 (failure). */
  subscribeRefused?: boolean;
}

/** mqtt.js reports a refused CONNECT as an error "Connection refused: …" whose code is the return code. */
export function connackCodeOf(error: { code?: unknown; message?: string }): number | undefined {
  return typeof error.code === "number" && (error.message ?? "").startsWith("Connection refused") ? error.code : undefined;
}

/** mqtt.js reports a SUBACK failure (return code 128) as an error "Subscribe error: …" carrying the SUBACK. */
export function isSubscribeRefusal(error: { code?: unknown; message?: string; packet?: unknown }): boolean {
  const granted = (error.packet as { granted?: unknown } | undefined)?.granted;
  if (Array.isArray(granted) && granted.some((code) => typeof code === "number" && (code & 0x80) !== 0)) return true;
  return (error.message ?? "").startsWith("Subscribe error");
}

export function classifyClose(evidence: CloseEvidence): { kind: CloseKind; detail: string } {
  const errors = evidence.errors ?? [];
  const subscribeRefused = evidence.subscribeRefused || errors.some(isSubscribeRefusal);
  if (subscribeRefused) return { kind: "auth", detail: "subscribe refused by the broker (SUBACK 128)" };
  const connackCode = evidence.connackCode ?? errors.map(connackCodeOf).find((code) => code !== undefined);
  if (connackCode !== undefined && connackCode !== 0) {
    const kind: CloseKind = connackCode === CONNACK_SERVER_UNAVAILABLE ? "network" : "auth";
    return { kind, detail: `CONNACK refused: return code ${connackCode}` };
  }
  const verdicts = errors.map(classifyError);
  // Any refusal decides: a TLS alert is often followed by a mere "socket hang up" or ECONNRESET.
  const refusal = verdicts.find((v) => v.kind === "auth");
  if (refusal) return refusal;
  // A peer that hangs up on us at these stages is refusing us, not failing: a node:tls server (our
  // broker) drops a client certificate it does not trust without any TLS alert (under TLS 1.3 only after
  // the client considers the handshake done), and AWS IoT answers a CONNECT its policy does not allow by
  // closing the connection without a CONNACK (and an unauthorized SUBSCRIBE likewise, as our broker does).
  // A time-out at these stages is still a network problem.
  if (errors.every(isHangUp)) {
    if (evidence.stage === "tls") return { kind: "auth", detail: "the broker closed the connection during the TLS handshake (client certificate refused)" };
    if (evidence.stage === "connect") return { kind: "auth", detail: "the broker closed the connection before CONNACK (not authorized to connect)" };
    if (evidence.stage === "subscribe") return { kind: "auth", detail: "the broker closed the connection in answer to SUBSCRIBE (not authorized)" };
  }
  if (verdicts.length === 0) return { kind: "network", detail: "connection closed" };
  return verdicts[0]!;
}

/** The peer closed or reset the connection (as opposed to a time-out or a local failure). */
export function isHangUp(error: { code?: unknown; message?: string }): boolean {
  const message = error.message ?? "";
  return (
    error.code === "ECONNRESET" ||
    error.code === "EPIPE" ||
    message.includes("socket disconnected before secure TLS connection") ||
    message === "socket hang up" ||
    message === "Connection closed" // mqtt.js, to the callbacks of requests cut off by the close
  );
}

function classifyError(error: { code?: unknown; message?: string }): { kind: CloseKind; detail: string } {
  const code = typeof error.code === "string" ? error.code : undefined;
  const message = error.message ?? String(error);
  if (code !== undefined) {
    // ERR_SSL_*: a TLS alert from the broker (bad/unknown/missing certificate, protocol version) or a TLS
    // failure on our side. Either way the handshake was refused, and an identical retry gets the same answer.
    if (code.startsWith("ERR_SSL_")) return { kind: "auth", detail: `TLS refused: ${code}` };
    if (CERT_VERIFY_CODES.has(code)) return { kind: "auth", detail: `broker certificate rejected: ${code}` };
    // TLS 1.2: an alert that arrives while the client writes (mosquitto refusing our certificate) is
    // reported as EPROTO with the alert in the message ("... sslv3 alert certificate expired ...").
    if (code === "EPROTO" && / alert [a-z ]+/.test(message)) return { kind: "auth", detail: `TLS refused: ${/alert [a-z ]+/.exec(message)![0]}` };
    // Our side refused the version the broker chose (TLS 1.0/1.1): the broker must be reconfigured.
    if (code === "EPROTO" && message.includes("unsupported protocol")) return { kind: "auth", detail: "TLS refused: the broker offers no TLS 1.2" };
  }
  if (message === "TLS not authorized") return { kind: "auth", detail: "broker certificate rejected" };
  return { kind: "network", detail: code ? `${code}: ${message}` : message };
}
