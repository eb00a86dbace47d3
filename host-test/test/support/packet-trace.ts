// The MQTT packets of one click as a host reports them, in one comparable form. Both hosts run the core's
// MQTT session, which names each write and each packet received (PacketTrace): the virtual button hands
// them to its connection observer, the firmware's Linux host prints them as "@mqtt <in|out> <packet> (detail)".
// Payload sizes are dropped (the orderId and battery text differ between hosts); everything else stays.
import { defaultConfig } from "../../../modules/core/config";
import type { PemInput } from "../../../services/net/tls-stream";
import { STORE_KEY } from "../../../modules/core/record";
import { FileStore } from "../../device/file-store";
import { VirtualDevice } from "../../device/virtual-device";
import { acksOf, ordersOf } from "./topics";

/** "out CONNECT + SUBSCRIBE pizza/acks/t + PUBLISH pizza/orders/t", "in CONNACK rc=0", "in PUBLISH pizza/acks/t qos=1". */
export function packetLine(direction: string, packet: string, detail?: string): string {
  const kept = detail?.replace(/ \d+ B$/, "");
  return kept ? `${direction} ${packet} ${kept}` : `${direction} ${packet}`;
}

/** The firmware host's "@mqtt …" lines (FirmwareProcess.tagged("mqtt")) as packet lines. */
export function firmwarePacketLines(tagged: readonly string[]): string[] {
  return tagged.map((text) => {
    const match = /^(in|out) (.+?)(?: \((.*)\))?$/.exec(text);
    if (!match) throw new Error(`not a packet line: ${text}`);
    return packetLine(match[1]!, match[2]!, match[3]);
  });
}

/** One cold SINGLE click of a fresh virtual button (on-demand), and the packets it exchanged. */
export async function virtualClickPackets(options: {
  thingName: string;
  broker: { host: string; port: number };
  credentials: { ca: PemInput; cert: PemInput; key: PemInput };
  storePath: string;
  /** Continue the order numbers after this seq (another device with the same thing name numbered up to it). */
  afterSeq?: number;
}): Promise<{ outcome: string; packets: string[] }> {
  const packets: string[] = [];
  if (options.afterSeq !== undefined) new FileStore({ path: options.storePath }).write(STORE_KEY, JSON.stringify({ seq: options.afterSeq }));
  const device = new VirtualDevice({
    config: { ...defaultConfig, thingName: options.thingName, connectionMode: "on-demand" },
    broker: options.broker,
    credentials: options.credentials,
    storePath: options.storePath,
    log: { info: () => {}, warn: () => {}, error: () => {} },
    onConnectionEvent: (event) => {
      if (event.step === "packet") packets.push(packetLine(event.direction, event.packet, event.detail));
    },
  });
  device.start();
  try {
    const result = await device.click("SINGLE");
    await device.connector.drain(); // the DISCONNECT after the ack
    return { outcome: result.outcome, packets };
  } finally {
    await device.stop();
  }
}

/**
 * What one cold click of a thing puts on the wire, on either host. The broker answers SUBSCRIBE and
 * PUBLISH in the order it finishes them (aedes may PUBACK before it SUBACKs; MQTT orders only the acks of
 * PUBLISHes), so those two are compared as a set: see comparable().
 */
export function expectedColdClick(thing: string): string[] {
  return comparable([
    `out CONNECT + SUBSCRIBE ${acksOf(thing)} + PUBLISH ${ordersOf(thing)}`,
    "in CONNACK rc=0",
    "in SUBACK codes=1",
    "in PUBACK id=2",
    `in PUBLISH ${acksOf(thing)} qos=1`,
    "out PUBACK",
    "out DISCONNECT",
  ]);
}

/** The packets with each run of SUBACK/PUBACK in a fixed order (the broker's choice between them). */
export function comparable(packets: readonly string[]): string[] {
  const out = [...packets];
  for (let i = 0; i + 1 < out.length; i++) {
    const a = out[i]!;
    const b = out[i + 1]!;
    if (a.startsWith("in PUBACK") && b.startsWith("in SUBACK")) {
      out[i] = b;
      out[i + 1] = a;
    }
  }
  return out;
}
