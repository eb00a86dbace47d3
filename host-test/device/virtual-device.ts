// A virtual button: the core's button (createButton: click classifier, order flow, LED view) on the Node
// adapters, as main.ts builds the same button on the board's. Used by `npm run simulate` and the
// integration tests; one instance = one button with its own certificate, store and LED.
import { createButton, type Button } from "../../modules/core/button";
import type { ButtonConfig, ClickType } from "../../modules/core/config";
import type { FlowEvent, OrderFlow, OutcomeEvent } from "../../modules/core/flow";
import type { LedPlayer } from "../../modules/core/led";
import type { Log } from "../../modules/core/ports";
import { systemClock } from "./clock";
import { FileStore } from "./file-store";
import { MqttConnector, type ConnectionEvent } from "./mqtt-connector";
import type { LiveStatus } from "./live-line";
import { TerminalLed, type LedOutputMode } from "./terminal-led";
import { nodeTimers } from "./timers";
import type { BrokerEndpoint, TlsCredentials } from "./tls-transport";
import type { PemInput } from "../../services/net/tls-stream";
import { VirtualButton } from "./virtual-button";
import { CertificateRenewal, type RenewalEvent } from "../../modules/core/renewal";

export type { OutcomeEvent };

/** An outcome plus the harness's own sub-millisecond measurement from the click to it. */
export type ClickResult = OutcomeEvent & { clickToOutcomeMs: number };

/**
 * The harness's timings of an outcome, one definition for every output of the host (events, summaries,
 * the live line), all on one clock: performance.now(), monotonic, sub-millisecond, rounded to 0.01 ms.
 *   pressToAckMs    the click (the classifier's decision; the boot, for a resend at start) → the outcome
 *                   (ack decoded, store updated, LED switched to the answer);
 *   publishToAckMs  the order's last publish handed to the socket (or the SUBACK, when the publish went out
 *                   pipelined before it) → the ack read from it.
 * They replace the core's own figures in a VirtualDevice's outcome events: the core can only count
 * whole milliseconds of the wall clock (its Clock port), and starts after the store writes.
 */
export function roundMs(ms: number): number {
  return Math.round(ms * 100) / 100;
}

export interface VirtualDeviceOptions {
  config: ButtonConfig;
  broker: BrokerEndpoint;
  credentials: TlsCredentials;
  /** JSON file standing in for the board's NVS. */
  storePath: string;
  ledMode?: LedOutputMode;
  write?: (text: string) => void;
  /** Fields for the LED's live line (tty mode), most important first. */
  status?: () => LiveStatus | string;
  /** The terminal's width now, for the live line (tty mode). */
  columns?: () => number | undefined;
  /** ANSI colours on the live line (tty mode). */
  color?: boolean;
  log: Log;
  onEvent?: (event: FlowEvent) => void;
  onConnectionEvent?: (event: ConnectionEvent) => void;
  /** A pattern of the LED table started, or "off". */
  onLedPattern?: (name: string) => void;
  /** Battery mode: the button went to deep sleep, or a press woke it. */
  onPower?: (state: "sleep" | "wake") => void;
  /** MQTT keep-alive, ms (the connector's default when left out). */
  keepaliveMs?: number;
  random?: () => number;
  /**
   * Certificate renewal as on the board: inside the window the button asks for a new certificate after an
   * order's outcome; the store keeps it and the connector presents it from the next connection.
   */
  renewal?: { windowDays?: number; onEvent?: (event: RenewalEvent) => void };
}

export class VirtualDevice {
  readonly config: ButtonConfig;
  readonly led: TerminalLed;
  readonly store: FileStore;
  readonly connector: MqttConnector;
  readonly renewal: CertificateRenewal | undefined;
  readonly #options: VirtualDeviceOptions;
  #button: Button;
  #asleep = false;
  readonly #gestures: VirtualButton;
  readonly #waiters: Array<(result: ClickResult) => void> = [];
  readonly #clickedAt: number[] = [];
  #bootAt = 0;
  #lastPublishAt: number | undefined;
  #lastMessageAt: number | undefined;
  #stopped = false;

  constructor(options: VirtualDeviceOptions) {
    this.config = options.config;
    this.store = new FileStore({ path: options.storePath });
    this.led = new TerminalLed({
      mode: options.ledMode ?? "silent",
      ...(options.write ? { write: options.write } : {}),
      ...(options.status ? { status: options.status } : {}),
      ...(options.columns ? { columns: options.columns } : {}),
      ...(options.color !== undefined ? { color: options.color } : {}),
    });
    const chain = pemText(options.credentials.cert);
    const certificates = chain.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
    if (options.renewal && certificates.length === 0) throw new Error("virtual device: credentials.cert holds no PEM certificate");
    let renewal: CertificateRenewal | undefined;
    this.connector = new MqttConnector({
      ...options.broker,
      ...options.credentials,
      // With renewal: the certificate in use (renewed or provisioned) plus the chain's intermediates, read at each connect.
      cert: options.renewal ? () => [derToPem(renewal!.current()), ...certificates.slice(1)].join("\n") + "\n" : options.credentials.cert,
      clientId: options.config.thingName,
      ...(options.keepaliveMs !== undefined ? { keepaliveMs: options.keepaliveMs } : {}),
      log: options.log,
      observer: (event) => {
        // Pipelined, the PUBLISH leaves with CONNECT: publish→ack counts from the later of it and the SUBACK.
        if (event.step === "publish" || event.step === "suback") this.#lastPublishAt = event.at;
        else if (event.step === "message") this.#lastMessageAt = event.at;
        options.onConnectionEvent?.(event);
      },
    });
    if (options.renewal) {
      renewal = new CertificateRenewal({
        thingName: options.config.thingName,
        topicPrefix: options.config.topicPrefix,
        provisioned: pemToDer(certificates[0]!),
        timers: nodeTimers,
        clock: systemClock,
        store: this.store,
        connector: this.connector,
        log: options.log,
        ...(options.renewal.windowDays !== undefined ? { windowDays: options.renewal.windowDays } : {}),
        ...(options.random ? { random: options.random } : {}),
        ...(options.renewal.onEvent ? { onEvent: options.renewal.onEvent } : {}),
      });
    }
    this.renewal = renewal;
    this.#options = options;
    this.#button = this.#createButton();
    // Battery mode: a press of the sleeping button wakes it (edges go through #edge).
    this.#gestures = new VirtualButton({ sink: { edge: (pressed, atMs) => this.#edge(pressed, atMs) }, timing: options.config });
  }

  /** The flow of the button now (battery mode: a new one after each wake, like a board's boot). */
  get flow(): OrderFlow {
    return this.#button.flow;
  }

  get ledPlayer(): LedPlayer {
    return this.#button.led;
  }

  /** Battery mode: in deep sleep (no connection, no timers; the store kept) until a press. */
  get asleep(): boolean {
    return this.#asleep;
  }

  /** Boot: a pending message is resent; in persistent mode the link comes up; battery: counts to sleep. */
  start(): void {
    this.#bootAt = performance.now();
    this.#button.start();
  }

  /**
   * Plays a gesture as raw edges through the core's click classifier (like the board's GPIO) and
   * resolves with the outcome of the click it produced.
   */
  press(type: ClickType): Promise<ClickResult> {
    const result = this.#nextResult();
    this.#gestures.play(type);
    return result;
  }

  /**
   * One tap of the button, with no wait for a result: what a key press is in the simulator. Two quick taps
   * are a DOUBLE for the classifier, as on the board.
   */
  tap(): void {
    this.#gestures.tap();
  }

  /** Hands a click type straight to the flow (no classifier): for tests that are not about gestures. */
  click(type: ClickType): Promise<ClickResult> {
    if (this.#asleep) throw new Error("the button is asleep: press() wakes it");
    const result = this.#nextResult();
    this.#button.click(type);
    return result;
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#gestures.dispose();
    if (!this.#asleep) this.#button.stop();
    await this.connector.drain();
  }

  #createButton(): Button {
    const options = this.#options;
    return createButton(
      options.config,
      {
        timers: nodeTimers,
        clock: systemClock,
        led: this.led,
        store: this.store,
        connector: this.connector,
        ...(this.renewal ? { renewal: this.renewal } : {}),
        log: options.log,
        ...(options.random ? { random: options.random } : {}),
        // Battery mode: "deep sleep" = the button already stopped itself (connection closed, every timer
        // cleared); only the store is kept. The next press builds a new button, as a board boots.
        ...(options.config.connectionMode === "battery"
          ? {
              sleep: () => {
                this.#asleep = true;
                options.onPower?.("sleep");
              },
            }
          : {}),
      },
      {
        onEvent: (event) => {
          if (event.type !== "outcome") return options.onEvent?.(event);
          const now = performance.now();
          const startedAt = event.trigger === "boot" ? this.#bootAt : (this.#clickedAt.shift() ?? now);
          const timed = this.#timed(event, startedAt, now);
          options.onEvent?.(timed);
          if (event.trigger === "click") this.#waiters.shift()?.({ ...timed, clickToOutcomeMs: now - startedAt });
        },
        onClick: () => this.#clickedAt.push(performance.now()),
        onPattern: (name) => {
          this.led.showPattern(name);
          options.onLedPattern?.(name);
        },
      },
    );
  }

  #edge(pressed: boolean, atMs: number): void {
    if (this.#stopped) return;
    if (!this.#asleep) {
      this.#button.edge(pressed, atMs);
      return;
    }
    if (!pressed) return; // asleep, nothing held: a release has nothing to wake
    // The press wakes it: a new boot whose classifier holds this press (the wake edge).
    this.#asleep = false;
    this.#button = this.#createButton();
    this.#options.onPower?.("wake");
    this.#button.startWoken(atMs, atMs);
  }

  #nextResult(): Promise<ClickResult> {
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** The outcome with the harness's pressToAckMs and publishToAckMs (see roundMs), when an ack ended it. */
  #timed(event: OutcomeEvent, startedAt: number, now: number): OutcomeEvent {
    const { pressToAckMs: _press, publishToAckMs: _publish, ...rest } = event;
    if (!event.ack) return rest;
    const publishToAck =
      this.#lastPublishAt !== undefined && this.#lastMessageAt !== undefined && this.#lastMessageAt >= this.#lastPublishAt
        ? { publishToAckMs: roundMs(this.#lastMessageAt - this.#lastPublishAt) }
        : {};
    return { ...rest, pressToAckMs: roundMs(now - startedAt), ...publishToAck };
  }
}

function pemText(input: PemInput): string {
  return typeof input === "string" ? input : input.toString("utf8");
}

function pemToDer(pem: string): Uint8Array {
  return new Uint8Array(Buffer.from(pem.replace(/-----(BEGIN|END) CERTIFICATE-----|\s/g, ""), "base64"));
}

function derToPem(der: Uint8Array): string {
  const b64 = Buffer.from(der).toString("base64").replace(/(.{64})/g, "$1\n").trim();
  return `-----BEGIN CERTIFICATE-----\n${b64}\n-----END CERTIFICATE-----`;
}
