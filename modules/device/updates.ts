// Firmware updates on the board: the core's update probation at boot, and (only in a build that trusts a
// release key) the core's jobs agent on the platform's update API, run when core/update-schedule says.
// main.ts calls bootUpdates() as soon as normal mode starts, so that a new image's probation runs from its
// boot even when Wi-Fi never comes; startJobs() once the MQTT connector and the button exist.
import config from "mc/config";
import type { Button } from "../core/button";
import { JobsAgent, type JobsAgentEvent } from "../core/jobs-agent";
import type { Log, MqttConnector, Store, Timers } from "../core/ports";
import { readUpdateSettings, type UpdateBuildSettings } from "../core/update-settings";
import { UpdateProbation } from "../core/update-probation";
import { UpdateSchedule } from "../core/update-schedule";
import { markValid, rollback, TARGET } from "device/update";
import { firmwareUpdatePort } from "./firmware-update";
import type { DeviceIdentity } from "./identity";

export interface BootUpdates {
  settings: UpdateBuildSettings;
  probation: UpdateProbation;
}

/**
 * The build's update settings (from mc/config only: neither the setup page nor a host's command line can
 * change the release key or the version) and the probation of this boot. Undefined, with the errors logged,
 * when the build's settings are broken: such a build handles no jobs.
 */
export function bootUpdates(o: { store: Store; timers: Timers; log: Log; report(tag: string, text: string): void }): BootUpdates | undefined {
  const read = readUpdateSettings(config as unknown as { [key: string]: unknown });
  if (!read.ok) {
    for (const error of read.errors) o.log.error(`update settings: ${error}`);
    return undefined;
  }
  const settings = read.value;
  const probation = new UpdateProbation({
    store: o.store,
    timers: o.timers,
    runningVersion: settings.version,
    probationMs: settings.probationMs,
    log: o.log,
    boot: { markValid, rollback },
  });
  const verdict = probation.start();
  o.report("firmware", `${TARGET} ${settings.version} ${verdict.kind}`);
  if (!settings.releaseKey) o.log.info("firmware updates off: this build has no release key (release.key) to verify images with");
  return { settings, probation };
}

export interface JobsOptions {
  boot: BootUpdates;
  thingName: string;
  identity: DeviceIdentity;
  certificate: () => ArrayBuffer;
  connector: MqttConnector;
  store: Store;
  timers: Timers;
  log: Log;
  onEvent(event: JobsAgentEvent): void;
}

/** The jobs agent, or undefined when the build has no release key (no job handling at all). */
export function jobsAgent(o: JobsOptions): JobsAgent | undefined {
  const { settings, probation } = o.boot;
  if (!settings.releaseKey) return undefined;
  return new JobsAgent({
    thingName: o.thingName,
    running: { target: TARGET, version: settings.version },
    connector: o.connector,
    firmware: firmwareUpdatePort({ identity: o.identity, certificate: o.certificate, releaseKey: settings.releaseKey, timers: o.timers, log: o.log }),
    probation,
    store: o.store,
    timers: o.timers,
    log: o.log,
    onEvent: o.onEvent,
  });
}

/** Runs the agent when the schedule says; the LED plays "updating" while it downloads and checks. */
export function scheduleJobs(o: { agent: JobsAgent; button: Button; persistent: boolean; wokenByPress: boolean; timers: Timers; networkUp(): boolean }): UpdateSchedule {
  const schedule = new UpdateSchedule({ timers: o.timers, agent: o.agent, persistent: o.persistent, flow: o.button.flow, networkUp: o.networkUp });
  schedule.start(!o.wokenByPress);
  return schedule;
}

/** The LED side of the agent's events: "updating" from the download until the job's end. */
export function showUpdateOnLed(button: Button, event: JobsAgentEvent): void {
  if (event.type === "updating") button.led.play("updating");
  else if ((event.type === "reported" || event.type === "done") && button.led.current === "updating") button.led.off();
}
