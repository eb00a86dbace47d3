// One button: the click classifier, the order flow and the LED view wired together. The firmware (main.ts),
// the virtual button of the harness and the load driver all build their buttons here, so the wiring exists
// once; they differ only in the ports they pass.

import { ClickClassifier } from "./click";
import type { ButtonConfig, ClickType } from "./config";
import { OrderFlow, type FlowEvent } from "./flow";
import { LedPlayer, type LedPatternName } from "./led";
import { ledView } from "./led-view";
import type { Clock, Led, Log, MqttConnector, Store, Timers } from "./ports";

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
  /** Boot: resend a pending message; in persistent mode, bring the link up. */
  start(): void;
  /** A raw button edge (pressed or released, host clock ms): debounced and classified, then clicked. */
  edge(pressed: boolean, atMs: number): void;
  /** A classified click, straight to the flow (hosts without a physical button). */
  click(type: ClickType): void;
  /** Shuts down: classifier, flow, connection and LED. A pending message stays in the store. */
  stop(): void;
}

export function createButton(config: ButtonConfig, ports: ButtonPorts, observers: ButtonObservers = {}): Button {
  const { timers, log } = ports;
  const led = new LedPlayer({ led: ports.led, timers, ...(observers.onPattern ? { onPattern: observers.onPattern } : {}) });
  const showOnLed = ledView(led);
  const flow = new OrderFlow({
    config,
    timers,
    clock: ports.clock,
    store: ports.store,
    connector: ports.connector,
    log,
    ...(ports.random ? { random: ports.random } : {}),
    ...(ports.batteryVoltage ? { batteryVoltage: ports.batteryVoltage } : {}),
    onEvent: (event) => {
      showOnLed(event);
      observers.onEvent?.(event);
    },
  });
  const click = (type: ClickType) => {
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
  return {
    flow,
    led,
    start: () => flow.start(),
    edge: (pressed, atMs) => classifier.edge(pressed, atMs),
    click,
    stop: () => {
      classifier.dispose();
      flow.stop();
    },
  };
}
