// The jobs service over real TLS on both brokers: a button gets its next job and the image over HTTPS,
// reports its progress by AWS's rules, and can neither read nor update another thing's jobs (the broker's
// built-in rules and the mosquitto ACL from the registry), nor download another thing's image.
import crypto from "node:crypto";
import fs from "node:fs";
import https from "node:https";
import path from "node:path";
import type { MqttClient } from "mqtt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startJobsService, type JobsService } from "../../../../services/jobs/jobs";
import { JobStore } from "../../../../tools/release/job-store";
import { signRelease } from "../../../../tools/release/sign";
import { closedOf, collect, connectClient, waitFor, type Received } from "../../support/mqtt-probe";
import { createSecurityPki, type Credentials, type SecurityPki } from "../../support/security-pki";
import { BROKER_KINDS, startTestBroker, type TestBroker } from "../../support/test-brokers";

const releaseKey = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey;

function get(url: string, creds: Credentials, headers: Record<string, string> = {}): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const request = https.get(url, { ca: creds.ca, cert: creds.cert, key: creds.key, headers, minVersion: "TLSv1.2" }, (response) => {
      const chunks: Buffer[] = [];
      response.on("data", (c: Buffer) => chunks.push(c));
      response.on("end", () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks) }));
    });
    request.on("error", reject);
  });
}

const json = (m: Received | undefined) => JSON.parse(m!.text);

describe.each(BROKER_KINDS)("jobs service on the %s broker", (kind) => {
  let pki: SecurityPki;
  let broker: TestBroker;
  let store: JobStore;
  let service: JobsService;
  const creds: Record<string, Credentials> = {};
  const clients: MqttClient[] = [];
  const events: { event: string; fields: Record<string, unknown> }[] = [];
  const imageA = crypto.randomBytes(40_000);
  const imageB = crypto.randomBytes(30_000);

  beforeAll(async () => {
    pki = await createSecurityPki(`jobs-${kind}`);
    for (const name of ["button-a", "button-b", "jobs"]) creds[name] = await pki.thing(name);
    broker = await startTestBroker(kind, pki);
    store = JobStore.open(path.join(pki.dir, "jobs"));
    store.createJob({ jobId: "fw-a", release: signRelease({ image: imageA, version: "1.1.0", target: "x-cli-lin", key: releaseKey }), image: imageA, things: ["button-a"] });
    store.createJob({ jobId: "fw-b", release: signRelease({ image: imageB, version: "1.2.0", target: "x-cli-lin", key: releaseKey }), image: imageB, things: ["button-b"] });
    const trust = pki.trust();
    service = await startJobsService({
      brokerUrl: broker.url,
      ...creds.jobs!,
      store,
      images: { host: "127.0.0.1", port: 0, cert: pki.broker.cert, key: pki.broker.key, clientCa: trust.ca, crl: trust.crl },
      log: (event, fields) => events.push({ event, fields }),
    });
  });
  afterAll(async () => {
    for (const c of clients) await c.endAsync(true).catch(() => {});
    await service?.close();
    store?.close();
    await broker?.close();
    pki?.remove();
  });

  const connect = async (name: string) => {
    const c = await connectClient(broker.url, { credentials: creds[name]!, clientId: name });
    clients.push(c);
    return c;
  };

  it("a button gets its next job, downloads the image in ranges over mutual TLS and reports it SUCCEEDED", async () => {
    const a = await connect("button-a");
    const seen = collect(a);
    await a.subscribeAsync("$aws/things/button-a/jobs/#", { qos: 1 });
    await a.publishAsync("$aws/things/button-a/jobs/$next/get", JSON.stringify({ clientToken: "t1" }), { qos: 1 });
    await waitFor(() => seen.some((m) => m.topic.endsWith("/$next/get/accepted")), "the get-next answer");
    const { execution, clientToken } = json(seen.find((m) => m.topic === "$aws/things/button-a/jobs/$next/get/accepted"));
    expect(clientToken).toBe("t1");
    expect(execution).toMatchObject({ jobId: "fw-a", status: "QUEUED", versionNumber: 1, jobDocument: { version: "1.1.0", size: imageA.length } });
    const url: string = execution.jobDocument.url;
    expect(url).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/images\/[0-9a-f]{64}$/);

    const first = await get(url, creds["button-a"]!, { range: "bytes=0-16383" });
    const rest = await get(url, creds["button-a"]!, { range: "bytes=16384-" });
    expect([first.status, rest.status]).toEqual([206, 206]);
    expect(Buffer.concat([first.body, rest.body]).equals(imageA)).toBe(true);

    const update = (status: string, details?: object) =>
      a.publishAsync("$aws/things/button-a/jobs/fw-a/update", JSON.stringify({ status, ...(details ? { statusDetails: details } : {}) }), { qos: 1 });
    await update("IN_PROGRESS", { step: "download" });
    await update("SUCCEEDED", { version: "1.1.0" });
    await update("FAILED", { reason: "too late" });
    await waitFor(() => seen.some((m) => m.topic === "$aws/things/button-a/jobs/fw-a/update/rejected"), "the refusal of a second end");
    const accepted = seen.filter((m) => m.topic === "$aws/things/button-a/jobs/fw-a/update/accepted").map((m) => json(m).executionState.status);
    expect(accepted).toEqual(["IN_PROGRESS", "SUCCEEDED"]);
    expect(json(seen.find((m) => m.topic.endsWith("/update/rejected")))).toMatchObject({ code: "InvalidStateTransition" });
    expect(store.execution("fw-a", "button-a")).toMatchObject({ status: "SUCCEEDED", statusDetails: { version: "1.1.0" } });
    // The job is over: the service tells the button there is nothing next.
    await waitFor(() => seen.some((m) => m.topic.endsWith("/notify-next") && json(m).execution === undefined), "an empty notify-next");
  });

  it("a button cannot read another thing's jobs", async () => {
    const a = await connect("button-a");
    const seen = collect(a);
    const closed = closedOf(a);
    const granted = await a.subscribeAsync("$aws/things/button-b/jobs/#", { qos: 1 }).catch(() => [{ qos: 128 }]);
    const b = await connect("button-b");
    const seenB = collect(b);
    await b.subscribeAsync("$aws/things/button-b/jobs/#", { qos: 1 });
    await b.publishAsync("$aws/things/button-b/jobs/$next/get", "{}", { qos: 1 });
    await waitFor(() => seenB.some((m) => m.topic.endsWith("/$next/get/accepted")), "button-b's own answer");
    if (kind === "embedded") {
      expect(granted[0]?.qos).toBe(128); // refused, then disconnected: AWS IoT's answer
      await closed;
    }
    expect(seen.filter((m) => m.topic.includes("button-b"))).toEqual([]);
  });

  it("a button cannot update another thing's job", async () => {
    const a = await connect("button-a");
    const seen = collect(a);
    const closed = closedOf(a);
    await a.subscribeAsync("$aws/things/button-a/jobs/#", { qos: 1 });
    a.publish("$aws/things/button-b/jobs/fw-b/update", JSON.stringify({ status: "SUCCEEDED" }), { qos: 1 });
    a.publish("$aws/things/button-a/jobs/$next/get", JSON.stringify({ clientToken: "after" }), { qos: 1 });
    if (kind === "embedded") await closed; // a denied publish disconnects
    else await waitFor(() => seen.some((m) => m.topic.endsWith("/$next/get/accepted")), "button-a's later request answered");
    expect(store.execution("fw-b", "button-b")).toMatchObject({ status: "QUEUED", versionNumber: 1 });
    expect(events.filter((e) => e.event === "job-updated" && e.fields.thing === "button-b")).toEqual([]);
  });

  it("a button cannot download another thing's image, and nobody without a client certificate can", async () => {
    const b = store.execution("fw-b", "button-b")!;
    const url = `${service.imageUrl}/images/${b.release.sha256}`;
    expect((await get(url, creds["button-a"]!)).status).toBe(403);
    const own = await get(url, creds["button-b"]!);
    expect([own.status, own.body.equals(imageB)]).toEqual([200, true]);
    await expect(get(url, { ca: pki.caPem, cert: "", key: "" })).rejects.toThrow();
  });

  it("a job published while the service runs is announced on notify-next", async () => {
    const b = await connect("button-b");
    const seen = collect(b);
    await b.subscribeAsync("$aws/things/button-b/jobs/notify-next", { qos: 1 });
    await b.publishAsync("$aws/things/button-b/jobs/fw-b/update", JSON.stringify({ status: "REJECTED", statusDetails: { reason: "signature does not verify" } }), { qos: 1 });
    await waitFor(() => seen.some((m) => json(m).execution === undefined), "nothing next after the rejection");
    const writer = JobStore.open(path.join(pki.dir, "jobs")); // what `npm run release -- publish` does
    const image = crypto.randomBytes(1000);
    writer.createJob({ jobId: "fw-b2", release: signRelease({ image, version: "1.3.0", target: "x-cli-lin", key: releaseKey }), image, things: ["button-b"] });
    writer.close();
    await waitFor(() => seen.some((m) => json(m).execution?.jobId === "fw-b2"), "the new job announced");
  });
});
