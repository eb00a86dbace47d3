// A virtual button for the reliability suites: the core's button (createButton: classifier, flow, LED view) on the Node adapters
// (mqtt.js connector, JSON-file store, Node timers), exactly as `npm run simulate` wires it, plus what a
// test needs to watch: every flow event, the LED pattern sequence, the log lines, connection attempts.
import path from "node:path";
import { defaultConfig, type ButtonConfig } from "../../../modules/core/config";
import type { FlowEvent } from "../../../modules/core/flow";
import { memoryLog } from "../../device/log";
import { VirtualDevice } from "../../device/virtual-device";
import type { Credentials } from "./security-pki";

/** Short timings so a fault case takes seconds: ack timeout 1.5 s, backoff 200 ms → 1 s, give up at 8 s. */
export const FAST_TIMINGS = {
  ackTimeoutMs: 1_500,
  backoffBaseMs: 200,
  backoffCapMs: 1_000,
  giveUpMs: 8_000,
} as const;

export interface TestButton {
  device: VirtualDevice;
  events: FlowEvent[];
  /** LED patterns in the order they started ("off" left out). */
  leds: string[];
  log: ReturnType<typeof memoryLog>;
  storePath: string;
  /** Connections the button opened (each TLS+MQTT connect attempt). */
  readonly connections: number;
  outcomes(): Array<Extract<FlowEvent, { type: "outcome" }>>;
}

export interface ButtonOptions {
  thingName: string;
  broker: { host: string; port: number };
  credentials: Credentials;
  /** Reusing a store path is a "power cycle": the new button finds the old one's pending order. */
  storePath?: string;
  dir: string;
  config?: Partial<ButtonConfig>;
  /** Fixed jitter (0..1) makes backoff delays predictable; default Math.random. */
  random?: () => number;
}

let counter = 0;

export function makeButton(options: ButtonOptions): TestButton {
  const events: FlowEvent[] = [];
  const leds: string[] = [];
  const log = memoryLog();
  const storePath = options.storePath ?? path.join(options.dir, `button-${process.pid}-${++counter}.json`);
  const device = new VirtualDevice({
    config: { ...defaultConfig, ...FAST_TIMINGS, thingName: options.thingName, ...options.config },
    broker: options.broker,
    credentials: options.credentials,
    storePath,
    log,
    ledMode: "json",
    write: (text) => {
      for (const line of text.split("\n").filter(Boolean)) {
        const pattern = (JSON.parse(line) as { pattern?: string }).pattern;
        if (pattern && pattern !== "off") leds.push(pattern);
      }
    },
    onEvent: (event) => events.push(event),
    ...(options.random ? { random: options.random } : {}),
  });
  return {
    device,
    events,
    leds,
    log,
    storePath,
    get connections() {
      return device.connector.connectionCount;
    },
    outcomes: () => events.filter((e): e is Extract<FlowEvent, { type: "outcome" }> => e.type === "outcome"),
  };
}
