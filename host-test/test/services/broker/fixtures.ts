// Shared pieces for the broker tests: a throw-away PKI in a temp dir (made by the project's PKI library),
// mqtt.js client options for a thing, a connect attempt that reports how it ended, and a log collector.

import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import mqtt, { type IClientOptions, type MqttClient } from "mqtt";
import { Pki } from "../../../../tools/pki/pki";
import { isServiceName } from "../../../../tools/pki/reserved";
import type { BrokerEvent } from "../../../../services/broker/broker";

export interface TestPki {
  dir: string;
  pki: Pki;
  /** Root CA PEM: what clients use to verify the broker. */
  caPem: string;
  brokerKey: string;
  brokerCert: string;
  /** Creates an EC P-256 thing (fast) and returns its client TLS material. */
  thing(name: string): Promise<ThingTls>;
  remove(): void;
}

export interface ThingTls {
  name: string;
  key: string;
  cert: string;
  ca: string;
}

export async function createTestPki(label: string): Promise<TestPki> {
  const dir = mkdtempSync(join(tmpdir(), `broker-test-${label}-`));
  const pki = await Pki.open(dir);
  await pki.initCa({ keyType: "ec" });
  const server = await pki.createBrokerCert({ hosts: ["localhost"], ips: ["127.0.0.1"], keyType: "ec" });
  const caPem = readFileSync(server.caPath, "utf8");
  return {
    dir,
    pki,
    caPem,
    brokerKey: readFileSync(server.keyPath, "utf8"),
    brokerCert: readFileSync(server.certPath, "utf8"),
    async thing(name) {
      // Service names (the restaurant) are reserved: only the service command issues them.
      const files = isServiceName(name) ? await pki.createService(name, { keyType: "ec" }) : await pki.createThing(name, { keyType: "ec" });
      return { name, key: readFileSync(files.keyPath, "utf8"), cert: readFileSync(files.chainPath, "utf8"), ca: caPem };
    },
    remove() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** mqtt.js options for a thing; clientId defaults to the thing name. */
export function clientOptions(tls: Partial<ThingTls> & { ca: string }, extra: IClientOptions = {}): IClientOptions {
  return {
    key: tls.key,
    cert: tls.cert,
    ca: tls.ca,
    clientId: tls.name,
    protocolVersion: 4,
    reconnectPeriod: 0,
    connectTimeout: 10_000,
    ...extra,
  };
}

export type ConnectOutcome =
  | { connected: true; client: MqttClient }
  | { connected: false; error: (Error & { code?: string | number }) | undefined };

/** One connection attempt, resolved by whichever comes first: CONNACK accepted, an error, or a close. */
export function tryConnect(url: string, options: IClientOptions): Promise<ConnectOutcome> {
  return new Promise((resolve) => {
    const client = mqtt.connect(url, options);
    client.once("connect", () => resolve({ connected: true, client }));
    const fail = (error?: Error) => {
      client.end(true);
      resolve({ connected: false, error });
    };
    client.once("error", fail);
    client.once("close", () => fail());
  });
}

export async function connect(url: string, options: IClientOptions): Promise<MqttClient> {
  const outcome = await tryConnect(url, options);
  if (!outcome.connected) throw new Error(`expected to connect, got: ${outcome.error?.message ?? "closed"}`);
  return outcome.client;
}

/** Resolves when the client's connection is gone. Create it before the action that should close it. */
export function closed(client: MqttClient): Promise<void> {
  return new Promise((resolve) => client.once("close", () => resolve()));
}

/** Resolves with the next message the client receives (topic + payload as text). */
export function nextMessage(client: MqttClient): Promise<{ topic: string; payload: string }> {
  return new Promise((resolve) => client.once("message", (topic, payload) => resolve({ topic, payload: payload.toString() })));
}

/**
 * Collects broker log events. waitFor resolves on the first event matching, looking back to index
 * `from` (use `mark()` before an action so an older event cannot satisfy it).
 */
export class LogCollector {
  readonly events: BrokerEvent[] = [];
  private waiters: Array<{ match: (e: BrokerEvent) => boolean; resolve: (e: BrokerEvent) => void }> = [];

  readonly log = (event: BrokerEvent): void => {
    this.events.push(event);
    this.waiters = this.waiters.filter((w) => {
      if (!w.match(event)) return true;
      w.resolve(event);
      return false;
    });
  };

  mark(): number {
    return this.events.length;
  }

  waitFor(match: (e: BrokerEvent) => boolean, from = 0): Promise<BrokerEvent> {
    const seen = this.events.slice(from).find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve) => this.waiters.push({ match, resolve }));
  }

  find(match: (e: BrokerEvent) => boolean): BrokerEvent[] {
    return this.events.filter(match);
  }
}
