// Warm: clicks on a live connection (persistent mode). Ours = the virtual button (core flow, store, mqtt.js
// adapter) from click to the outcome the LED shows; baseline = BaselineSession's publish → ack. Both use
// the same thing and certificate, so they cannot be connected at once (one client id): they take turns in
// blocks, in ABBA order (ours, base, base, ours, …) so slow drifts of a shared, noisy machine cancel out.
// Each block opens its connection first (not timed) and closes it after its last click.
import { defaultConfig } from "../../modules/core/config";
import type { ConnectionEvent } from "../device/mqtt-connector";
import { VirtualDevice } from "../device/virtual-device";
import { BaselineSession } from "./baseline";
import { assertNewOrders, BENCH_THING, benchCredentials, benchOrders, benchStorePath, benchTarget, type Stack, type Workspace } from "./stack";
import { ratio, samplesOf, summarize, type Ratio, type Summary } from "./stats";
import { quietLog, timeStore } from "./device-probe";

export interface WarmResult {
  n: number;
  blockSize: number;
  warmup: number;
  /** Click → outcome of the virtual button. */
  ours: Summary;
  /** publish → ack of the bare mqtt.js client. */
  baseline: Summary;
  ratio: Ratio;
  /** Where ours spends it: the publish → ack part (same path as the baseline) and the store writes. */
  oursSplit: { publishToAck: Summary; store: Summary; rest: Summary };
  /** Every measured click (ms), for the distributions of the HTML report. */
  samples: { ours: number[]; baseline: number[] };
}

export async function benchWarm(
  ws: Workspace,
  stack: Stack,
  options: { n: number; blockSize: number; warmup: number; progress: (line: string) => void },
): Promise<WarmResult> {
  const target = benchTarget(ws, stack);
  const storePath = benchStorePath(ws);
  const ordersBefore = (await benchOrders(stack));
  let sent = 0; // every click, ours and the baseline's, warm-ups included
  let baselineSeq = 2_000_000_000; // far from the button's own seq: orderIds never collide
  const ours: number[] = [];
  const oursPublishToAck: number[] = [];
  const oursStore: number[] = [];
  const oursRest: number[] = [];
  const base: number[] = [];

  const oursBlock = async (clicks: number, keep: boolean) => {
    let publishAt = 0;
    let publishToAck = Number.NaN;
    let ready!: () => void;
    const linkReady = new Promise<void>((resolve) => (ready = resolve));
    const device = new VirtualDevice({
      config: { ...defaultConfig, thingName: BENCH_THING, connectionMode: "persistent" },
      broker: { host: stack.host, port: stack.port },
      credentials: benchCredentials(ws),
      storePath,
      log: quietLog,
      onEvent: (event) => {
        if (event.type === "connection" && event.phase === "ready") ready();
      },
      onConnectionEvent: (event: ConnectionEvent) => {
        if (event.step === "publish") publishAt = event.at;
        else if (event.step === "message") publishToAck = event.at - publishAt;
      },
    });
    const store = timeStore(device);
    device.start();
    await linkReady;
    try {
      for (let i = 0; i < clicks; i++) {
        const storeBefore = store.ms;
        const result = await device.click("SINGLE");
        sent++;
        if (result.outcome !== "ok") throw new Error(`warm: click ended ${result.outcome}`);
        if (!keep) continue;
        const storeMs = store.ms - storeBefore;
        ours.push(result.clickToOutcomeMs);
        oursPublishToAck.push(publishToAck);
        oursStore.push(storeMs);
        oursRest.push(result.clickToOutcomeMs - publishToAck - storeMs);
      }
    } finally {
      await device.stop();
    }
  };

  const baseBlock = async (clicks: number, keep: boolean) => {
    const session = await BaselineSession.open(target);
    try {
      for (let i = 0; i < clicks; i++) {
        const ms = await session.roundTrip(++baselineSeq);
        sent++;
        if (keep) base.push(ms);
      }
    } finally {
      await session.close();
    }
  };

  // Warm-up (JIT, TLS and SQLite caches), not counted.
  await oursBlock(options.warmup, false);
  await baseBlock(options.warmup, false);

  const blocks = Math.ceil(options.n / options.blockSize);
  for (let b = 0; b < blocks; b++) {
    const clicks = Math.min(options.blockSize, options.n - b * options.blockSize);
    const oursFirst = b % 2 === 0; // ABBA
    if (oursFirst) {
      await oursBlock(clicks, true);
      await baseBlock(clicks, true);
    } else {
      await baseBlock(clicks, true);
      await oursBlock(clicks, true);
    }
    options.progress(`warm: ${Math.min(options.n, (b + 1) * options.blockSize)}/${options.n} clicks each`);
  }

  await assertNewOrders("warm", stack, ordersBefore, sent);
  return {
    n: options.n,
    blockSize: options.blockSize,
    warmup: options.warmup,
    ours: summarize(ours),
    baseline: summarize(base),
    ratio: ratio(ours, base),
    oursSplit: { publishToAck: summarize(oursPublishToAck), store: summarize(oursStore), rest: summarize(oursRest) },
    samples: { ours: samplesOf(ours), baseline: samplesOf(base) },
  };
}
