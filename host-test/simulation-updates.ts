// Firmware updates in `npm run simulate`: with the embedded broker the jobs service runs here too (its store
// in <state-dir>/jobs, where `npm run release -- publish --jobs-dir` puts jobs), and the virtual button looks
// for jobs at boot, after each order's outcome and every CHECK_EVERY_MS while idle. A click aborts a look in
// progress: an order never waits for an update.
import crypto from "node:crypto";
import path from "node:path";
import type { FlowEvent } from "../modules/core/flow";
import type { Log } from "../modules/core/ports";
import { startJobs } from "../services/jobs/service";
import type { JobsService } from "../services/jobs/jobs";
import { readPublicKey } from "../tools/release/keys";
import type { SimulateConfig } from "./config";
import { nodeTimers } from "./device/timers";
import type { VirtualDevice } from "./device/virtual-device";
import { VirtualUpdates, type VirtualUpdateEvent } from "./device/virtual-updates";

export const CHECK_EVERY_MS = 30_000;

export interface SimulatedUpdates {
  readonly jobs: JobsService | undefined;
  readonly updates: VirtualUpdates;
  /** Feed the button's flow events: a click aborts a look for jobs, an outcome starts one. */
  flowEvent(event: FlowEvent): void;
  close(): Promise<void>;
}

export async function startSimulatedUpdates(opts: {
  config: SimulateConfig;
  embedded: boolean;
  brokerUrl: string;
  device: VirtualDevice;
  credentials: { ca: string; cert: string; key: string };
  thingName: string;
  log: (source: string) => Log;
  onEvent?: (event: VirtualUpdateEvent) => void;
}): Promise<SimulatedUpdates> {
  const { config, device } = opts;
  let jobs: JobsService | undefined;
  if (opts.embedded) {
    const log = opts.log("jobs");
    jobs = await startJobs(
      { brokerUrl: opts.brokerUrl, servername: config.servername, pkiDir: config.pkiDir, jobsDir: path.join(config.stateDir, "jobs"), imagesHost: "127.0.0.1", imagesPort: 0, publicUrl: undefined },
      (_source, event, fields) => log.info(`${event} ${JSON.stringify(fields ?? {})}`),
    );
  }
  const releaseKey: crypto.KeyObject | undefined = config.updates.releaseKey ? readPublicKey(config.updates.releaseKey) : undefined;
  const updates = new VirtualUpdates({
    thingName: opts.thingName,
    store: device.store,
    connector: device.connector,
    credentials: opts.credentials,
    releaseKey,
    target: config.updates.firmwareTarget,
    factoryVersion: config.updates.firmwareVersion,
    timers: nodeTimers,
    log: opts.log("updates"),
    onEvent: (event) => {
      // The LED shows the update while it downloads and checks, as on the board.
      if (event.type === "updating") device.ledPlayer.play("updating");
      else if ((event.type === "reported" || event.type === "done") && device.ledPlayer.current === "updating") device.ledPlayer.off();
      opts.onEvent?.(event);
    },
  });
  const persistent = config.button.connectionMode === "persistent";
  // Without a release key no image can be verified, so every job would be refused: the button does not look
  // for jobs at all (no extra connections), and says so once.
  const enabled = releaseKey !== undefined;
  if (!enabled) opts.log("updates").info("firmware updates off: no --release-key (the release key's public half) to verify images with");
  /** A look for jobs on its own connection: in persistent mode the order link steps aside meanwhile. */
  const check = () => {
    if (!enabled || device.flow.state !== "idle" || device.asleep || updates.busy) return;
    if (!persistent) return void updates.check();
    if (!device.flow.suspendLink()) return;
    if (!updates.check(() => device.flow.resumeLink())) device.flow.resumeLink();
  };
  const timer = setInterval(check, CHECK_EVERY_MS);
  // Persistent: the first look waits for the order link to be up, so that it can step aside.
  if (enabled) updates.start(!persistent);
  if (enabled && persistent) setTimeout(check, 2_000);
  return {
    jobs,
    updates,
    flowEvent(event) {
      if (event.type === "state" && event.state !== "idle") updates.abort("a click needs the connection");
      if (event.type === "outcome") setTimeout(check, 0);
    },
    async close() {
      clearInterval(timer);
      updates.stop();
      await jobs?.close();
    },
  };
}

