// Shared test fixtures: a throw-away dev PKI in a temp dir, the embedded broker on an ephemeral loopback
// port, and plain MQTT clients holding a thing's certificate (to act as a button or an attacker).
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import mqtt, { type MqttClient } from "mqtt";
import { startBroker, type BrokerEvent, type RunningBroker } from "../../../services/broker/broker";
import { ensureDevPki, type DevPki } from "../../../tools/pki/dev";
import type { ThingFiles } from "../../../tools/pki/pki";

export interface Credentials {
  ca: string;
  cert: string;
  key: string;
}

export function tempDir(label: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `pizza-${label}-`));
}

export function removeDir(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
}

export async function devPki(dir: string): Promise<DevPki> {
  return ensureDevPki(path.join(dir, "pki"));
}

export function credentialsOf(files: ThingFiles): Credentials {
  return {
    ca: fs.readFileSync(files.caPath, "utf8"),
    cert: fs.readFileSync(files.chainPath, "utf8"),
    key: fs.readFileSync(files.keyPath, "utf8"),
  };
}

export async function startTestBroker(
  dev: DevPki,
  options: { port?: number; events?: BrokerEvent[] } = {},
): Promise<RunningBroker> {
  const trust = dev.pki.trustMaterial();
  return startBroker({
    host: "127.0.0.1",
    port: options.port ?? 0,
    key: fs.readFileSync(dev.broker.keyPath, "utf8"),
    cert: fs.readFileSync(dev.broker.certPath, "utf8"),
    ca: trust.ca,
    crl: trust.crl,
    topicPrefix: "pizza",
    identify: (fingerprint) => dev.pki.certificateBinding(fingerprint),
    log: (event) => options.events?.push(event),
  });
}

/** A plain mqtt.js client with a thing's certificate; rejects if the broker refuses it. */
export async function connectRaw(url: string, clientId: string, credentials: Credentials): Promise<MqttClient> {
  return mqtt.connectAsync(url, {
    ...credentials,
    clientId,
    protocolVersion: 4,
    reconnectPeriod: 0,
    connectTimeout: 5_000,
  });
}

/** Resolves when `predicate` holds, polling; rejects after `timeoutMs` with `what` in the message. */
export async function waitFor(predicate: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Collects messages of one client as {topic, json} (or the raw text if not JSON). */
export function collectMessages(client: MqttClient): Array<{ topic: string; text: string; json: any }> {
  const seen: Array<{ topic: string; text: string; json: any }> = [];
  client.on("message", (topic, payload) => {
    const text = payload.toString("utf8");
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    seen.push({ topic, text, json });
  });
  return seen;
}
