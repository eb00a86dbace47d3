// The local jobs service: the subset of AWS IoT Jobs a button uses, over MQTT as CN "jobs", plus the HTTPS
// image server the job documents point at (AWS: a pre-signed S3 URL).
//
//   <thing> → $aws/things/<thing>/jobs/$next/get          → …/$next/get/accepted {execution?} | …/rejected
//   <thing> → $aws/things/<thing>/jobs/<jobId>/update      → …/<jobId>/update/accepted | …/rejected
//   jobs    → $aws/things/<thing>/jobs/notify-next         when the thing's next pending execution changes
//   GET https://<host>:<port>/images/<sha256>              mutual TLS; only a thing with a pending execution
//                                                          of that image; Range requests for chunked download
//
// The broker lets a thing publish only its own requests and read only its own answers (policies, built-in
// rules, mosquitto ACL), so the topic says which thing asks. Jobs come from `npm run release -- publish`
// into the same SQLite store; the service notices a commit by SQLite's data_version.
import fs from "node:fs";
import https from "node:https";
import type { AddressInfo } from "node:net";
import type { TLSSocket } from "node:tls";
import { MqttClient } from "mqtt";
import {
  decodeGetNextRequest,
  decodeUpdateRequest,
  encodeJobsRejected,
  encodeNextExecution,
  encodeUpdateAccepted,
  type JobsErrorCode,
} from "../../modules/core/jobs";
import {
  ALL_JOBS_GET_NEXT_FILTER,
  ALL_JOBS_UPDATE_FILTER,
  JOBS_SERVICE_NAME,
  jobsGetNextTopic,
  jobsNotifyNextTopic,
  jobUpdateTopic,
  parseJobsTopic,
} from "../../modules/core/topics";
import { executionMessage, type ExecutionRow, type JobStore } from "../../tools/release/job-store";
import { parseMqttsUrl } from "../net/broker-url";
import { openTlsStream, type PemInput } from "../net/tls-stream";

export interface JobsServiceOptions {
  brokerUrl: string;
  servername?: string;
  /** The service's MQTT identity (CN "jobs") and the CA it trusts for the broker. */
  ca: PemInput;
  cert: PemInput;
  key: PemInput;
  store: JobStore;
  images: {
    host: string;
    port: number;
    /** The HTTPS server's certificate and key (the PKI's broker certificate names this computer). */
    cert: PemInput;
    key: PemInput;
    /** CAs and CRLs for the buttons' client certificates. */
    clientCa: PemInput[];
    crl?: PemInput[];
    /** How buttons reach the image server, e.g. https://192.168.1.10:8443. Default https://<host>:<port>. */
    publicUrl?: string;
  };
  /** How often to look for jobs published meanwhile. Default 500 ms. */
  pollMs?: number;
  startTimeoutMs?: number;
  log(event: string, fields: Record<string, unknown>): void;
}

export interface JobsService {
  /** https://host:port of the image server. */
  readonly imageUrl: string;
  close(): Promise<void>;
}

export async function startJobsService(options: JobsServiceOptions): Promise<JobsService> {
  const { store, log } = options;
  const images = await startImageServer(options);
  const imageBase = (options.images.publicUrl ?? images.url).replace(/\/+$/, "");
  const urlOf = (row: ExecutionRow) => `${imageBase}/images/${row.release.sha256}`;
  const broker = parseMqttsUrl(options.brokerUrl);
  /** Per thing, the next execution last announced ("jobId#version", or "" for none). */
  const announced = new Map<string, string>();

  const client = new MqttClient(
    () => openTlsStream({ host: broker.host, port: broker.port, ...(options.servername ? { servername: options.servername } : {}), ca: options.ca, cert: options.cert, key: options.key }),
    { clientId: JOBS_SERVICE_NAME, protocolVersion: 4, clean: true, keepalive: 30, connectTimeout: 10_000, reconnectPeriod: 1_000, resubscribe: false },
  );
  client.on("error", (error: Error) => log("client-error", { reason: error.message }));
  const send = (topic: string, payload: Uint8Array) => client.publish(topic, Buffer.from(payload), { qos: 1 });

  const notifyIfChanged = (thing: string, force = false) => {
    const next = store.nextExecution(thing);
    const key = next ? `${next.jobId}#${next.versionNumber}` : "";
    if (!force && (announced.get(thing) ?? "") === key) return;
    announced.set(thing, key);
    send(jobsNotifyNextTopic(thing), encodeNextExecution({ ...(next ? { execution: executionMessage(next, urlOf(next)) } : {}), timestamp: seconds() }));
    log("notify-next", { thing, jobId: next?.jobId ?? null });
  };

  const handle = jobRequestHandler({ store, log, send, urlOf, notifyIfChanged });

  client.on("message", (topic: string, payload: Buffer) => {
    try {
      handle(topic, new Uint8Array(payload.buffer, payload.byteOffset, payload.byteLength));
    } catch (error) {
      log("request-failed", { topic, reason: (error as Error).message });
    }
  });

  await connectedAndSubscribed(client, options.brokerUrl, options.startTimeoutMs ?? 15_000).catch(async (error) => {
    await images.close();
    throw error;
  });
  log("ready", { broker: options.brokerUrl, images: imageBase });
  // Re-announce on every reconnect: a thing may have missed notifications while the service was away.
  client.on("connect", () => {
    client.subscribe([ALL_JOBS_GET_NEXT_FILTER, ALL_JOBS_UPDATE_FILTER], { qos: 1 });
    for (const thing of store.thingsWithPendingJobs()) notifyIfChanged(thing, true);
  });

  let dataVersion = -1;
  const poll = () => {
    try {
      const version = store.dataVersion();
      if (version === dataVersion) return;
      dataVersion = version;
      for (const thing of store.thingsWithPendingJobs()) notifyIfChanged(thing);
    } catch (error) {
      log("poll-failed", { reason: (error as Error).message });
    }
  };
  poll();
  const poller = setInterval(poll, options.pollMs ?? 500);

  return {
    imageUrl: images.url,
    async close() {
      clearInterval(poller);
      await client.endAsync();
      await images.close();
    },
  };
}

/** What the request handler answers with: the store, the way to publish, and the notify-next check. */
interface RequestHandlerDeps {
  store: JobStore;
  log: JobsServiceOptions["log"];
  send(topic: string, payload: Uint8Array): void;
  /** The image URL a job document names for this execution. */
  urlOf(row: ExecutionRow): string;
  notifyIfChanged(thing: string): void;
}

/** Answers a thing's get-next and update requests; anything else is logged and ignored. */
function jobRequestHandler({ store, log, send, urlOf, notifyIfChanged }: RequestHandlerDeps): (topic: string, payload: Uint8Array) => void {
  const reject = (topic: string, code: JobsErrorCode, message: string, clientToken?: string) =>
    send(`${topic}/rejected`, encodeJobsRejected({ code, message, timestamp: seconds(), ...(clientToken ? { clientToken } : {}) }));

  return (topic: string, payload: Uint8Array) => {
    const parsed = parseJobsTopic(topic);
    if (!parsed || parsed.kind === "notify-next" || parsed.answer !== undefined) return log("ignored", { topic, reason: "not a job request" });
    const { thing } = parsed;
    if (parsed.kind === "get-next") {
      const request = decodeGetNextRequest(payload);
      if (!request.ok) {
        log("request-rejected", { thing, reason: request.reason });
        return reject(jobsGetNextTopic(thing), "InvalidRequest", request.reason);
      }
      const next = store.nextExecution(thing);
      send(
        `${jobsGetNextTopic(thing)}/accepted`,
        encodeNextExecution({ ...(next ? { execution: executionMessage(next, urlOf(next)) } : {}), timestamp: seconds(), ...(request.value.clientToken ? { clientToken: request.value.clientToken } : {}) }),
      );
      return log("get-next", { thing, jobId: next?.jobId ?? null });
    }
    const base = jobUpdateTopic(thing, parsed.jobId);
    const request = decodeUpdateRequest(payload);
    if (!request.ok) {
      log("update-rejected", { thing, jobId: parsed.jobId, reason: request.reason });
      return reject(base, "InvalidRequest", request.reason);
    }
    const result = store.update(thing, parsed.jobId, request.value);
    if (!result.ok) {
      log("update-rejected", { thing, jobId: parsed.jobId, code: result.code, reason: result.message });
      return reject(base, result.code, result.message, request.value.clientToken);
    }
    const e = result.execution;
    send(
      `${base}/accepted`,
      encodeUpdateAccepted({
        status: e.status,
        ...(e.statusDetails ? { statusDetails: e.statusDetails } : {}),
        versionNumber: e.versionNumber,
        timestamp: seconds(),
        ...(request.value.clientToken ? { clientToken: request.value.clientToken } : {}),
      }),
    );
    log("job-updated", { thing, jobId: e.jobId, status: e.status, ...(e.statusDetails ? { statusDetails: e.statusDetails } : {}) });
    // Only the end of an execution changes what is next; IN_PROGRESS keeps the thing on the same job.
    if (e.status !== "IN_PROGRESS") notifyIfChanged(thing);
  };
}

/** Resolves once connected with both request filters granted; rejects (and ends the client) otherwise. */
function connectedAndSubscribed(client: MqttClient, brokerUrl: string, timeoutMs: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      client.end(true);
      reject(new Error(`jobs: not connected and subscribed to ${brokerUrl} within ${timeoutMs / 1000} s`));
    }, timeoutMs);
    client.once("connect", () => {
      client.subscribe([ALL_JOBS_GET_NEXT_FILTER, ALL_JOBS_UPDATE_FILTER], { qos: 1 }, (error, granted) => {
        clearTimeout(timer);
        const refused = granted?.find((g) => g.qos === 128);
        if (error || refused) {
          client.end(true);
          return reject(new Error(`jobs: subscribe refused: ${error?.message ?? refused?.topic}`));
        }
        resolve();
      });
    });
  });
}

function seconds(): number {
  return Math.floor(Date.now() / 1000);
}

/** The HTTPS image server: mutual TLS, GET /images/<sha256> with optional single Range. */
async function startImageServer(options: JobsServiceOptions): Promise<{ url: string; close(): Promise<void> }> {
  const { store, log, images } = options;
  const server = https.createServer(
    {
      cert: images.cert,
      key: images.key,
      ca: images.clientCa,
      ...(images.crl && images.crl.length ? { crl: images.crl } : {}),
      requestCert: true,
      rejectUnauthorized: true,
      minVersion: "TLSv1.2",
    },
    (request, response) => {
      const thing = (request.socket as TLSSocket).getPeerCertificate()?.subject?.CN;
      const m = /^\/images\/([0-9a-f]{64})$/.exec(request.url ?? "");
      const refuse = (status: number, reason: string) => {
        log("image-refused", { thing: thing ?? null, path: (request.url ?? "").slice(0, 100), status, reason });
        response.writeHead(status, { "content-type": "text/plain" }).end(`${reason}\n`);
      };
      if (request.method !== "GET" && request.method !== "HEAD") return refuse(405, "GET only");
      if (!m) return refuse(404, "no such image");
      const sha256 = m[1]!;
      const next = typeof thing === "string" ? store.nextExecution(thing) : undefined;
      if (!next || next.release.sha256 !== sha256) return refuse(403, "no pending job of this thing names this image");
      const file = store.imagePath(sha256);
      if (!file) return refuse(404, "image missing from the jobs store");
      const size = fs.statSync(file).size;
      const range = parseRange(request.headers.range, size);
      if (range === "invalid") {
        response.writeHead(416, { "content-range": `bytes */${size}` }).end();
        return;
      }
      const [start, end] = range ?? [0, size - 1];
      response.writeHead(range ? 206 : 200, {
        "content-type": "application/octet-stream",
        "content-length": String(end - start + 1),
        "accept-ranges": "bytes",
        ...(range ? { "content-range": `bytes ${start}-${end}/${size}` } : {}),
      });
      if (request.method === "HEAD") return response.end();
      if (start === 0) log("image-download", { thing, jobId: next.jobId, bytes: size });
      fs.createReadStream(file, { start, end }).pipe(response);
    },
  );
  server.on("tlsClientError", (error) => log("image-tls-refused", { reason: error.message }));
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(images.port, images.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `https://${images.host.includes(":") ? `[${images.host}]` : images.host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** One "bytes=a-b" / "bytes=a-" range within size, undefined without a header, "invalid" otherwise. */
export function parseRange(header: string | undefined, size: number): [number, number] | undefined | "invalid" {
  if (header === undefined) return undefined;
  const m = /^bytes=(\d{1,15})-(\d{0,15})$/.exec(header.trim());
  if (!m) return "invalid";
  const start = Number(m[1]);
  const end = m[2] === "" ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (start >= size || end < start) return "invalid";
  return [start, end];
}
