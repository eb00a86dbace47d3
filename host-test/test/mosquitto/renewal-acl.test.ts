// Certificate renewal topics on a real mosquitto with the ACL generated from the PKI registry: a device asks
// only on its own renew topic and reads only its own answer; the renewal service reads every request and
// answers every thing. mosquitto drops what the ACL forbids silently, so each check waits for an allowed
// message sent after the forbidden one (same client, in order) and then looks for the forbidden one.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { MqttClient } from "mqtt";
import { startMosquitto, type RunningMosquitto } from "../../mosquitto/mosquitto";
import { collect, connectClient, waitFor } from "../support/mqtt-probe";
import { createSecurityPki, type Credentials, type SecurityPki } from "../support/security-pki";
import { mosquittoSkipReason } from "../support/test-brokers";
import { ALL_RENEW, renewOf, renewedOf } from "../support/topics";

describe.skipIf(mosquittoSkipReason !== undefined)("renewal topics on mosquitto", () => {
  let pki: SecurityPki;
  let mosquitto: RunningMosquitto;
  const creds: Record<string, Credentials> = {};
  const clients: MqttClient[] = [];

  beforeAll(async () => {
    pki = await createSecurityPki("mosquitto-renewal");
    for (const name of ["button-a", "button-b", "renewal"]) creds[name] = await pki.thing(name);
    mosquitto = await startMosquitto({ pkiDir: pki.pki.dir });
  });
  afterAll(async () => {
    for (const c of clients) await c.endAsync(true).catch(() => {});
    await mosquitto?.close();
    pki?.remove();
  });

  const connect = async (name: string) => {
    const c = await connectClient(mosquitto.url, { credentials: creds[name]!, clientId: name });
    clients.push(c);
    return c;
  };

  it("a device asks only for itself: its request for another thing never reaches the renewal service", async () => {
    const service = await connect("renewal");
    const requests = collect(service);
    await service.subscribeAsync(ALL_RENEW, { qos: 1 });
    const a = await connect("button-a");
    await a.publishAsync(renewOf("button-b"), '{"v":1,"serial":"0b"}', { qos: 1 });
    await a.publishAsync(renewOf("button-a"), '{"v":1,"serial":"0a"}', { qos: 1 });
    await waitFor(() => requests.some((r) => r.topic === renewOf("button-a")), "button-a's own request");
    expect(requests.map((r) => r.topic)).toEqual([renewOf("button-a")]);
  });

  it("a device reads only its own answer", async () => {
    const service = await connect("renewal");
    const b = await connect("button-b");
    const answers = collect(b);
    await b.subscribeAsync([renewedOf("button-a"), renewedOf("button-b")], { qos: 1 });
    await service.publishAsync(renewedOf("button-a"), '{"v":1,"status":"refused","reason":"a"}', { qos: 1 });
    await service.publishAsync(renewedOf("button-b"), '{"v":1,"status":"refused","reason":"b"}', { qos: 1 });
    await waitFor(() => answers.some((m) => m.topic === renewedOf("button-b")), "button-b's own answer");
    expect(answers.map((m) => m.topic)).toEqual([renewedOf("button-b")]);
  });
});
