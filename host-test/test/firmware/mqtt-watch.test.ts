import { describe, expect, it } from "vitest";
import { classifyClose, MqttInboundWatch } from "../../../modules/device/mqtt-watch";

function watchAll(stream: number[], chunking: number[]) {
  const seen: Array<string> = [];
  const watch = new MqttInboundWatch({
    onConnack: (code) => seen.push(`connack ${code}`),
    onSuback: (id, codes) => seen.push(`suback ${id} ${codes.join(",")}`),
  });
  let at = 0;
  for (const size of chunking) {
    watch.feed(Uint8Array.from(stream.slice(at, at + size)));
    at += size;
  }
  watch.feed(Uint8Array.from(stream.slice(at)));
  return seen;
}

const CONNACK_OK = [0x20, 0x02, 0x00, 0x00];
const SUBACK_GRANTED = [0x90, 0x03, 0x00, 0x01, 0x00];
const SUBACK_REFUSED = [0x90, 0x03, 0x00, 0x02, 0x80];
// PUBLISH with a 200-byte body (remaining length 2 bytes: 0xC8 0x01) that contains bytes looking like packets.
const BIG_PUBLISH = [0x30, 0xc8, 0x01, 0x00, 0x03, 0x61, 0x2f, 0x62, ...Array.from({ length: 195 }, (_, i) => (i % 2 ? 0x20 : 0x90))];

describe("MqttInboundWatch (what the SDK's classic client does not report)", () => {
  const stream = [...CONNACK_OK, ...SUBACK_GRANTED, ...BIG_PUBLISH, ...SUBACK_REFUSED, 0xd0, 0x00];

  it("finds CONNACK and SUBACK codes however the bytes are chunked, skipping other packets", () => {
    const expected = ["connack 0", "suback 1 0", "suback 2 128"];
    expect(watchAll(stream, [])).toEqual(expected);
    for (let size = 1; size <= 9; size++) {
      expect(watchAll(stream, Array.from({ length: Math.ceil(stream.length / size) }, () => size))).toEqual(expected);
    }
    for (let cut = 0; cut <= stream.length; cut++) expect(watchAll(stream, [cut])).toEqual(expected);
  });

  it("reports a refusing CONNACK's code", () => {
    expect(watchAll([0x20, 0x02, 0x00, 0x05], [1, 1, 1])).toEqual(["connack 5"]);
  });

  it("stops at a malformed remaining length instead of misreading what follows", () => {
    expect(watchAll([0x30, 0xff, 0xff, 0xff, 0xff, ...CONNACK_OK], [])).toEqual([]);
  });
});

describe("classifyClose (retry or auth-error)", () => {
  const base = { brokerAnswered: false, tlsEstablished: false };
  it.each([
    ["broker unreachable", { ...base, clientFailure: "socket error -2" }, "network"],
    ["TLS refused by the broker (alert)", { ...base, brokerAnswered: true, tlsError: "Error: alert: 2, 42" }, "auth"],
    ["broker hung up during the handshake", { ...base, brokerAnswered: true }, "auth"],
    ["CONNACK not authorized", { brokerAnswered: true, tlsEstablished: true, connackCode: 5 }, "auth"],
    ["CONNACK server unavailable", { brokerAnswered: true, tlsEstablished: true, connackCode: 3 }, "network"],
    ["SUBACK refused", { brokerAnswered: true, tlsEstablished: true, connackCode: 0, subscribeRefused: true }, "auth"],
    ["link dropped after ready", { brokerAnswered: true, tlsEstablished: true, connackCode: 0, clientFailure: "read time out" }, "network"],
  ] as const)("%s → %s", (_name, evidence, kind) => {
    const result = classifyClose(evidence);
    expect(result.kind).toBe(kind);
    expect(result.detail.length).toBeGreaterThan(0);
  });
});
