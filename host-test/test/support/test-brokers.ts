// The two brokers the product runs against, behind one small interface so a suite can run the same
// cases on both: the embedded broker (aedes on node:tls, in this process) and a real mosquitto (child
// process, config written by host-test/mosquitto). Both on 127.0.0.1, ephemeral port, same PKI.
import type { MqttClient } from "mqtt";
import { afterAll, afterEach, beforeAll } from "vitest";
import { startBroker, type BrokerEvent, type RunningBroker } from "../../../services/broker/broker";
import { mosquittoUnavailableReason, startMosquitto, type RunningMosquitto } from "../../mosquitto/mosquitto";
import { connectClient } from "./mqtt-probe";
import type { Credentials, SecurityPki } from "./security-pki";

export type BrokerKind = "embedded" | "mosquitto";

export interface TestBroker {
  readonly kind: BrokerKind;
  readonly host: string;
  readonly port: number;
  readonly url: string;
  /** Embedded broker: its structured events (since the first start). */
  readonly events: BrokerEvent[];
  /** Embedded broker: the running instance (undefined while stopped). */
  readonly embedded: RunningBroker | undefined;
  /** mosquitto: the running process. */
  readonly mosquitto: RunningMosquitto | undefined;
  /** Stops accepting connections and drops every client (the broker "goes down"). */
  stop(): Promise<void>;
  /** Starts it again on the same port. */
  start(): Promise<void>;
  close(): Promise<void>;
}

/** Why mosquitto cases are skipped here (printed once), or undefined. */
export const mosquittoSkipReason = mosquittoUnavailableReason();
if (mosquittoSkipReason) console.warn(`[skip] mosquitto suites: ${mosquittoSkipReason}`);

/** The broker kinds to run suites against: mosquitto only where the binary is installed. */
export const BROKER_KINDS: BrokerKind[] = mosquittoSkipReason ? ["embedded"] : ["embedded", "mosquitto"];

export async function startTestBroker(
  kind: BrokerKind,
  pki: SecurityPki,
  opts: { port?: number; verbose?: boolean; maxPacketBytes?: number } = {},
): Promise<TestBroker> {
  return kind === "embedded" ? startEmbedded(pki, opts) : startMosquittoBroker(pki, opts);
}

/**
 * For the tests of one describe block: a broker of `kind` (verbose) started before them and closed after,
 * and MQTT clients that are ended after each test.
 */
export function brokerSession(
  kind: BrokerKind,
  pki: () => SecurityPki,
): { readonly broker: TestBroker; client(credentials: Credentials, clientId: string): Promise<MqttClient>; endAfterTest(client: MqttClient): void } {
  let broker: TestBroker | undefined;
  const open: MqttClient[] = [];
  beforeAll(async () => {
    broker = await startTestBroker(kind, pki(), { verbose: true });
  });
  afterAll(async () => {
    await broker?.close();
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((client) => client.endAsync(true)));
  });
  return {
    get broker() {
      if (!broker) throw new Error(`the ${kind} broker is not running`);
      return broker;
    },
    async client(credentials, clientId) {
      const c = await connectClient(this.broker.url, { credentials, clientId });
      open.push(c);
      return c;
    },
    endAfterTest(client) {
      open.push(client);
    },
  };
}

async function startEmbedded(pki: SecurityPki, opts: { port?: number; maxPacketBytes?: number }): Promise<TestBroker> {
  const events: BrokerEvent[] = [];
  let port = opts.port ?? 0;
  let broker: RunningBroker | undefined;
  const start = async () => {
    if (broker) return;
    const trust = pki.trust();
    broker = await startBroker({
      host: "127.0.0.1",
      port,
      key: pki.broker.key,
      cert: pki.broker.cert,
      ca: trust.ca,
      crl: trust.crl,
      topicPrefix: "pizza",
      identify: (fingerprint) => pki.pki.certificateBinding(fingerprint),
      ...(opts.maxPacketBytes ? { maxPacketBytes: opts.maxPacketBytes } : {}),
      log: (event) => events.push(event),
    });
    port = broker.port;
  };
  await start();
  const stop = async () => {
    const running = broker;
    broker = undefined;
    await running?.close();
  };
  return {
    kind: "embedded",
    host: "127.0.0.1",
    get port() {
      return port;
    },
    get url() {
      return `mqtts://127.0.0.1:${port}`;
    },
    events,
    get embedded() {
      return broker;
    },
    mosquitto: undefined,
    stop,
    start,
    close: stop,
  };
}

async function startMosquittoBroker(pki: SecurityPki, opts: { port?: number; verbose?: boolean; maxPacketBytes?: number }): Promise<TestBroker> {
  const mosquitto = await startMosquitto({
    pkiDir: pki.pki.dir,
    ...(opts.port ? { port: opts.port } : {}),
    ...(opts.verbose ? { verbose: true } : {}),
    ...(opts.maxPacketBytes ? { maxPacketBytes: opts.maxPacketBytes } : {}),
  });
  return {
    kind: "mosquitto",
    host: mosquitto.host,
    port: mosquitto.port,
    url: mosquitto.url,
    events: [],
    embedded: undefined,
    mosquitto,
    stop: () => mosquitto.stop(),
    start: () => mosquitto.start(),
    close: () => mosquitto.close(),
  };
}
