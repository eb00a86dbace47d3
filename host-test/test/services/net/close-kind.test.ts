import { describe, expect, it } from "vitest";
import { classifyClose, type CloseEvidence } from "../../../../services/net/close-kind";

const err = (code: unknown, message = "x") => ({ code, message });

describe("classifyClose", () => {
  const cases: Array<[string, CloseEvidence, "auth" | "network"]> = [
    ["clean close, nothing known", {}, "network"],
    ["connection refused while connecting TCP", { stage: "tcp", errors: [err("ECONNREFUSED")] }, "network"],
    ["reset while connected", { stage: "ready", errors: [err("ECONNRESET")] }, "network"],
    ["peer closed while connected", { stage: "ready" }, "network"],
    ["TLS alert: unknown CA", { stage: "tls", errors: [err("ERR_SSL_TLSV1_ALERT_UNKNOWN_CA")] }, "auth"],
    ["TLS alert then a reset", { stage: "tls", errors: [err("ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE"), err("ECONNRESET")] }, "auth"],
    ["EPROTO with a TLS alert (mosquitto refusing our certificate under TLS 1.2)", { stage: "tls", errors: [err("EPROTO", "write EPROTO 40:error:0A000415:SSL routines:ssl3_read_bytes:sslv3 alert certificate expired")] }, "auth"],
    ["EPROTO without an alert", { stage: "tls", errors: [err("EPROTO", "write EPROTO wrong version number")] }, "network"],
    ["the broker speaks only TLS 1.0/1.1 (we refuse it: retrying cannot help)", { stage: "tls", errors: [err("EPROTO", "write EPROTO 80:error:0A000102:SSL routines:ssl_choose_client_version:unsupported protocol")] }, "auth"],
    ["protocol version refused", { stage: "tls", errors: [err("ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION")] }, "auth"],
    ["broker certificate untrusted", { stage: "tls", errors: [err("UNABLE_TO_VERIFY_LEAF_SIGNATURE")] }, "auth"],
    ["broker certificate expired", { stage: "tls", errors: [err("CERT_HAS_EXPIRED")] }, "auth"],
    ["broker name mismatch", { stage: "tls", errors: [err("ERR_TLS_CERT_ALTNAME_INVALID")] }, "auth"],
    ["hang-up during the TLS handshake (node:tls refusing a client cert)", { stage: "tls", errors: [err("ECONNRESET", "Client network socket disconnected before secure TLS connection was established")] }, "auth"],
    ["hang-up before CONNACK (AWS IoT refusing CONNECT; TLS 1.3 cert refusal)", { stage: "connect" }, "auth"],
    ["CONNACK time-out", { stage: "connect", errors: [err(undefined, "connack timeout")] }, "network"],
    ["CONNACK 5 not authorized", { stage: "connect", errors: [err(5, "Connection refused: Not authorized")] }, "auth"],
    ["CONNACK 4 bad credentials", { stage: "connect", errors: [err(4, "Connection refused: Bad username or password")] }, "auth"],
    ["CONNACK 3 server unavailable", { stage: "connect", errors: [err(3, "Connection refused: Server unavailable")] }, "network"],
    ["SUBACK 128", { stage: "subscribe", errors: [err(128, "Subscribe error: Unspecified error")] }, "auth"],
    ["hang-up in answer to SUBSCRIBE", { stage: "subscribe", errors: [err(undefined, "Connection closed")] }, "auth"],
    ["explicit subscribe refusal", { subscribeRefused: true }, "auth"],
  ];
  it.each(cases)("%s", (_name, evidence, kind) => {
    const verdict = classifyClose(evidence);
    expect(verdict.kind).toBe(kind);
    expect(verdict.detail.length).toBeGreaterThan(0);
  });
});
