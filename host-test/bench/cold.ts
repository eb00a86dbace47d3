// Cold: every click opens its own connection (on-demand mode, the battery button): TCP, TLS 1.2 with the
// client certificate, CONNECT, SUBSCRIBE, publish, the restaurant's ack; the disconnect follows the ack
// and is awaited (not timed) before the next click. Ours and the baseline alternate in ABBA blocks.
import { defaultConfig } from "../../modules/core/config";
import type { ConnectionEvent } from "../device/mqtt-connector";
import { VirtualDevice } from "../device/virtual-device";
import { coldOrder } from "./baseline";
import { quietLog, timeStore } from "./device-probe";
import { assertNewOrders, BENCH_THING, benchCredentials, benchOrders, benchStorePath, benchTarget, type Stack, type Workspace } from "./stack";
import { ratio, samplesOf, summarize, type Ratio, type Summary } from "./stats";

export interface ColdSplit {
  tcp: Summary;
  tls: Summary;
  connack: Summary;
  suback: Summary;
  publishToAck: Summary;
  /** Ours only: store writes and the core's own work (click → connect, SUBACK → publish, ack → LED). */
  store?: Summary;
  rest?: Summary;
}

export interface ColdResult {
  n: number;
  blockSize: number;
  warmup: number;
  ours: Summary;
  baseline: Summary;
  ratio: Ratio;
  split: { ours: ColdSplit; baseline: ColdSplit };
  tls: { protocol: string; cipher: string };
  /** Every measured click (ms), for the distributions of the HTML report. */
  samples: { ours: number[]; baseline: number[] };
}

type Steps = { tcp: number; tls: number; connack: number; suback: number; publishToAck: number };

/** The step timings of the current connection, from the connector's events. */
class StepCollector {
  steps: Partial<Steps> = {};
  tls = { protocol: "unknown", cipher: "unknown" };
  // With pipelining the PUBLISH leaves with CONNECT: publish→ack counts from the later of PUBLISH and SUBACK.
  #publishAt = 0;
  #subackAt = 0;

  record(event: ConnectionEvent): void {
    switch (event.step) {
      case "tcp":
        this.steps = { tcp: event.ms };
        break;
      case "tls":
        this.steps.tls = event.ms;
        this.tls = { protocol: event.protocol, cipher: event.cipher };
        break;
      case "connack":
        this.steps.connack = event.ms;
        break;
      case "suback":
        this.steps.suback = event.ms;
        this.#subackAt = event.at;
        break;
      case "publish":
        this.#publishAt = event.at;
        break;
      case "message":
        this.steps.publishToAck = event.at - Math.max(this.#publishAt, this.#subackAt);
        break;
      default:
        break;
    }
  }
}

function split(list: Steps[]): ColdSplit {
  return {
    tcp: summarize(list.map((s) => s.tcp)),
    tls: summarize(list.map((s) => s.tls)),
    connack: summarize(list.map((s) => s.connack)),
    suback: summarize(list.map((s) => s.suback)),
    publishToAck: summarize(list.map((s) => s.publishToAck)),
  };
}

export async function benchCold(
  ws: Workspace,
  stack: Stack,
  options: { n: number; blockSize: number; warmup: number; progress: (line: string) => void },
): Promise<ColdResult> {
  const target = benchTarget(ws, stack);
  let baselineSeq = 2_100_000_000;
  const collector = new StepCollector();
  const device = new VirtualDevice({
    config: { ...defaultConfig, thingName: BENCH_THING, connectionMode: "on-demand" },
    broker: { host: stack.host, port: stack.port },
    credentials: benchCredentials(ws),
    storePath: benchStorePath(ws),
    log: quietLog,
    onConnectionEvent: (event: ConnectionEvent) => collector.record(event),
  });
  const store = timeStore(device);
  device.start();
  const ordersBefore = (await benchOrders(stack));
  let sent = 0; // every click, ours and the baseline's, warm-ups included

  const ours: number[] = [];
  const oursSteps: Steps[] = [];
  const oursStore: number[] = [];
  const oursRest: number[] = [];
  const base: number[] = [];
  const baseSteps: Steps[] = [];

  const oursClick = async (keep: boolean) => {
    const storeBefore = store.ms;
    const result = await device.click("SINGLE");
    sent++;
    const storeMs = store.ms - storeBefore;
    if (result.outcome !== "ok") throw new Error(`cold: click ended ${result.outcome}`);
    await device.connector.drain(); // the disconnect after the ack: not timed, but not overlapping either
    if (!keep) return;
    const s = collector.steps as Steps;
    ours.push(result.clickToOutcomeMs);
    oursSteps.push(s);
    oursStore.push(storeMs);
    oursRest.push(result.clickToOutcomeMs - s.tcp - s.tls - s.connack - s.suback - s.publishToAck - storeMs);
  };
  const baseClick = async (keep: boolean) => {
    const s = await coldOrder(target, ++baselineSeq);
    sent++;
    if (!keep) return;
    base.push(s.totalMs);
    baseSteps.push({ tcp: s.tcpMs, tls: s.tlsMs, connack: s.connackMs, suback: s.subackMs, publishToAck: s.publishToAckMs });
  };

  try {
    for (let i = 0; i < options.warmup; i++) {
      await oursClick(false);
      await baseClick(false);
    }
    const blocks = Math.ceil(options.n / options.blockSize);
    for (let b = 0; b < blocks; b++) {
      const clicks = Math.min(options.blockSize, options.n - b * options.blockSize);
      const order = b % 2 === 0 ? [oursClick, baseClick] : [baseClick, oursClick];
      for (const run of order) for (let i = 0; i < clicks; i++) await run(true);
      options.progress(`cold: ${Math.min(options.n, (b + 1) * options.blockSize)}/${options.n} clicks each`);
    }
  } finally {
    await device.stop();
  }
  await assertNewOrders("cold", stack, ordersBefore, sent);

  return {
    n: options.n,
    blockSize: options.blockSize,
    warmup: options.warmup,
    ours: summarize(ours),
    baseline: summarize(base),
    ratio: ratio(ours, base),
    split: {
      ours: { ...split(oursSteps), store: summarize(oursStore), rest: summarize(oursRest) },
      baseline: split(baseSteps),
    },
    tls: collector.tls,
    samples: { ours: samplesOf(ours), baseline: samplesOf(base) },
  };
}
