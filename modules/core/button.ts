// One button: the click classifier, the order flow and the LED view wired together. The firmware (main.ts),
// the virtual button of the harness and the load driver all build their buttons here, so the wiring exists
// once; they differ only in the ports they pass.
//
// Battery mode (connection "battery"): a SleepGate (sleep.ts) watches the flow, the classifier and the LED;
// once all are quiet for its idle time it stops the button and calls the host's `sleep` port (deep sleep:
// the host boots again when the button wakes it). Every edge, flow event and LED change is activity. A
// boot woken by the button uses startWoken: the classifier holds the press that woke it, and a pending
// message is resent by the click that press makes (not by the boot), so it never becomes a second order.
//
// Certificate renewal (renewal.ts) runs when renewal-schedule.ts says, on a short connection of its own (a
// click aborts it: an order never waits for a renewal). On demand and battery, the order's connection has
// closed by then; a battery button stays awake until the attempt has ended (renewed, refused, or the
// answer timeout), the SleepGate asks.

import { ClickClassifier } from "./click";
import type { ButtonConfig, ClickType } from "./config";
import { OrderFlow, type FlowEvent } from "./flow";
import { LedPlayer, type LedPatternName } from "./led";
import { ledView } from "./led-view";
import type { Clock, Led, Log, MqttConnector, Network, Store, Timers } from "./ports";
import { SleepGate } from "./sleep";
import type { CertificateRenewal } from "./renewal";
import { RenewalSchedule } from "./renewal-schedule";

export { RENEWAL_CHECK_MS } from "./renewal-schedule";

export interface ButtonPorts {
  timers: Timers;
  clock: Clock;
  led: Led;
  store: Store;
  connector: MqttConnector;
  log: Log;
  /** Uniform [0, 1) for backoff jitter. Default Math.random. */
  random?: () => number;
  /** e.g. "3012mV"; undefined where not measurable. */
  batteryVoltage?: () => string | undefined;
  /** Deep sleep until the button is pressed (battery mode, where it is required). Called once, after stop(). */
  sleep?: () => void;
  /** Certificate renewal (renewal.ts): run after an order's outcome, given up when a click needs the network. */
  renewal?: Pick<CertificateRenewal, "run" | "abort" | "wanted" | "busy">;
  /** Wi-Fi up/down (the flow waits while it is down). Default: always up. */
  network?: Network;
  /** Firmware updates (jobs-agent.ts): a battery button stays awake while a run is busy. */
  updates?: { readonly busy: boolean };
}

/** What a host watches: the flow's events, classified clicks, LED patterns. Observers run after the LED. */
export interface ButtonObservers {
  onEvent?(event: FlowEvent): void;
  onClick?(type: ClickType): void;
  onPattern?(name: LedPatternName | "off"): void;
}

export interface Button {
  readonly flow: OrderFlow;
  readonly led: LedPlayer;
  /** Boot: resend a pending message; in persistent mode, bring the link up; in battery mode, count to sleep. */
  start(): void;
  /**
   * Boot after a deep sleep ended by the button (battery mode): the press began at pressedAtMs (host clock
   * of edge(), now nowMs) and is held by the classifier; its click resends a pending message, if any.
   */
  startWoken(pressedAtMs: number, nowMs: number): void;
  /** A raw button edge (pressed or released, host clock ms): debounced and classified, then clicked. */
  edge(pressed: boolean, atMs: number): void;
  /** A classified click, straight to the flow (hosts without a physical button). */
  click(type: ClickType): void;
  /** Shuts down: classifier, flow, connection and LED. A pending message stays in the store. */
  stop(): void;
}

export function createButton(config: ButtonConfig, ports: ButtonPorts, observers: ButtonObservers = {}): Button {
  const { timers, log } = ports;
  const battery = config.connectionMode === "battery";
  if (battery && !ports.sleep) throw new Error("battery mode needs the host's sleep port");
  let gate: SleepGate | undefined; // battery mode: when to deep-sleep
  const led = new LedPlayer({
    led: ports.led,
    timers,
    onPattern: (name) => {
      gate?.activity();
      observers.onPattern?.(name);
    },
  });
  const showOnLed = ledView(led);
  let renewals: RenewalSchedule | undefined;
  const flow = new OrderFlow({
    config,
    timers,
    clock: ports.clock,
    store: ports.store,
    connector: ports.connector,
    log,
    ...(ports.random ? { random: ports.random } : {}),
    ...(ports.batteryVoltage ? { batteryVoltage: ports.batteryVoltage } : {}),
    ...(ports.network ? { network: ports.network } : {}),
    onEvent: (event) => {
      showOnLed(event);
      gate?.activity();
      observers.onEvent?.(event);
      renewals?.onFlowEvent(event);
    },
  });
  if (ports.renewal) {
    // The sleep countdown starts again once an attempt ended.
    renewals = new RenewalSchedule({
      timers,
      renewal: ports.renewal,
      persistent: config.connectionMode === "persistent",
      flow,
      networkUp: () => ports.network?.up !== false,
      onAttemptEnded: () => gate?.activity(),
    });
  }
  const click = (type: ClickType) => {
    ports.renewal?.abort("a click needs the connection"); // an order never waits for a renewal
    observers.onClick?.(type);
    flow.click(type);
  };
  const classifier = new ClickClassifier({
    timers,
    debounceMs: config.debounceMs,
    doubleClickMs: config.doubleClickMs,
    longPressMs: config.longPressMs,
    onClick: click,
  });
  const stop = () => {
    renewals?.stop();
    gate?.stop();
    classifier.dispose();
    flow.stop();
  };
  if (battery) gate = sleepGate({ ports, flow, classifier, led, stop });
  return {
    flow,
    led,
    start: () => {
      flow.start();
      renewals?.startPeriodic();
      gate?.start();
    },
    startWoken: (pressedAtMs, nowMs) => {
      if (!battery) throw new Error("startWoken: only a battery button sleeps");
      if (!classifier.wakePress(pressedAtMs, nowMs)) log.warn(`wake press at ${pressedAtMs} ms (now ${nowMs} ms) ignored`);
      gate!.start();
    },
    edge: (pressed, atMs) => {
      gate?.activity();
      classifier.edge(pressed, atMs);
    },
    click,
    stop,
  };
}

/** Battery mode: deep sleep once the flow, the classifier, the LED and a renewal attempt are all quiet. */
function sleepGate(parts: { ports: ButtonPorts; flow: OrderFlow; classifier: ClickClassifier; led: LedPlayer; stop(): void }): SleepGate {
  const { ports, flow, classifier, led } = parts;
  return new SleepGate({
    timers: ports.timers,
    busy: {
      flow: () => flow.state !== "idle",
      click: () => classifier.busy,
      led: () => led.current !== undefined,
      renewal: () => ports.renewal?.busy === true, // its answer comes within its timeout; then it may sleep
      updates: () => ports.updates?.busy === true, // a run ends by itself (idle timeout) at the latest
    },
    onSleep: () => {
      ports.log.info("deep sleep until the button is pressed");
      parts.stop();
      ports.sleep!();
    },
  });
}
