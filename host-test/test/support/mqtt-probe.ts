// Plain mqtt.js clients for tests that choose every byte: a connection attempt that reports how it ended
// (CONNACK, or every error seen before the close), message collection, and polling.
import type { SecureVersion } from "node:tls";
import mqtt, { type IClientOptions, type MqttClient } from "mqtt";
import type { Credentials } from "./security-pki";

export type Attempt =
  | { connected: true; client: MqttClient; protocol: string | null }
  | { connected: false; errors: Array<Error & { code?: string | number }> };

export interface ProbeOptions {
  credentials: Partial<Credentials> & { ca: string };
  clientId: string;
  /** Defaults to TLS 1.2 only, like the firmware. */
  minVersion?: SecureVersion;
  maxVersion?: SecureVersion;
  ciphers?: string;
  connectTimeoutMs?: number;
}

/** One connection attempt; resolves on CONNACK accepted, or on close with the errors seen. */
export function tryConnect(url: string, options: ProbeOptions): Promise<Attempt> {
  return new Promise((resolve) => {
    const errors: Array<Error & { code?: string | number }> = [];
    // mqtt.js hands these TLS options to tls.connect; its IClientOptions type does not list all of them.
    const tlsOptions = {
      minVersion: options.minVersion ?? "TLSv1.2",
      maxVersion: options.maxVersion ?? "TLSv1.2",
      ...(options.ciphers ? { ciphers: options.ciphers } : {}),
    };
    const client = mqtt.connect(url, {
      ...options.credentials,
      ...(tlsOptions as IClientOptions),
      clientId: options.clientId,
      protocolVersion: 4,
      clean: true,
      reconnectPeriod: 0,
      connectTimeout: options.connectTimeoutMs ?? 5_000,
    });
    client.on("error", (error) => errors.push(error as Error & { code?: string | number }));
    client.once("connect", () => {
      const stream = client.stream as unknown as { getProtocol?: () => string | null };
      resolve({ connected: true, client, protocol: stream.getProtocol?.() ?? null });
    });
    client.once("close", () => {
      client.end(true);
      resolve({ connected: false, errors });
    });
  });
}

/** Like tryConnect, but the connection must succeed. */
export async function connectClient(url: string, options: ProbeOptions): Promise<MqttClient> {
  const attempt = await tryConnect(url, options);
  if (!attempt.connected) throw new Error(`expected ${options.clientId} to connect, got: ${attempt.errors.map((e) => e.message).join("; ") || "closed"}`);
  return attempt.client;
}

export interface Received {
  topic: string;
  payload: Buffer;
  text: string;
}

/** Every message the client receives, in order. */
export function collect(client: MqttClient): Received[] {
  const seen: Received[] = [];
  client.on("message", (topic, payload) => seen.push({ topic, payload, text: payload.toString("utf8") }));
  return seen;
}

/** Resolves when the client's connection closes. Create it before the action that should close it. */
export function closedOf(client: MqttClient): Promise<void> {
  return new Promise((resolve) => {
    if (client.disconnected) resolve();
    client.once("close", () => resolve());
  });
}

/** Polls until `predicate` holds; rejects after timeoutMs naming `what`. */
export async function waitFor(predicate: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(10);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A valid order message of `thing` (the AWS IoT Button fields first), as JSON text. */
export function orderJson(thing: string, seq: number, fields: Record<string, unknown> = {}): string {
  return JSON.stringify({
    serialNumber: thing,
    clickType: "SINGLE",
    v: 1,
    orderId: `${thing}-${seq}`,
    seq,
    action: "order",
    item: "margherita",
    ...fields,
  });
}

/** A valid ack message as JSON text. */
export function ackJson(orderId: string, fields: Record<string, unknown> = {}): string {
  return JSON.stringify({ v: 1, orderId, status: "accepted", etaMin: 25, ...fields });
}
