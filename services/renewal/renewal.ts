// The certificate renewal service: an MQTT client (identity CN "renewal") that holds the PKI directory and
// so the issuing CA. A button asks on <prefix>/renew/<thing>; the broker lets only that thing's certificate
// publish there (device policy, built-in rules, mosquitto ACL), so the topic says who asks. The request names
// the certificate the button holds (its serial); the service renews it only while that certificate is the
// thing's, ACTIVE, unexpired and from a CA it holds (tools/pki/renew.ts), and answers on
// <prefix>/renewed/<thing> with a certificate for the same public key and subject, recorded in the registry.
// It renews only inside the device's renewal window, answers a repeated request with the certificate it
// already issued, keeps the held certificate's lifetime, and limits how often one thing may ask
// (RENEWAL_REQUEST_LIMIT). Requests are handled one at a time.
import { MqttClient } from "mqtt";
import { base64Encode } from "../../modules/core/der";
import { decodeRenewalRequest, encodeRenewalAnswer } from "../../modules/core/renewal";
import { allRenewFilter, renewedTopic, RENEWAL_SERVICE_NAME, thingOfRenewTopic } from "../../modules/core/topics";
import { x509 } from "../../tools/pki/crypto";
import { Pki } from "../../tools/pki/pki";
import { renewThingCertificate } from "../../tools/pki/renew";
import { parseMqttsUrl } from "../net/broker-url";
import { TokenBucket } from "../token-bucket";
import { openTlsStream, type PemInput } from "../net/tls-stream";

export interface RenewalServiceOptions {
  brokerUrl: string;
  servername?: string;
  ca: PemInput;
  cert: PemInput;
  key: PemInput;
  pkiDir: string;
  topicPrefix: string;
  /** Requests one thing may make: `burst` at once, then one per `refillMs`. Default RENEWAL_REQUEST_LIMIT. */
  requestLimit?: { burst: number; refillMs: number };
  /** Give up starting when not subscribed by then. Default 15 s. */
  startTimeoutMs?: number;
  log(event: string, fields: Record<string, unknown>): void;
}

/**
 * A device asks once when its certificate enters the renewal window, again after a lost answer, and at
 * most every few hours after a failure: 4 requests at once, then one every 15 minutes, is far above that
 * and far below what it takes to fill the registry.
 */
export const RENEWAL_REQUEST_LIMIT = { burst: 4, refillMs: 15 * 60_000 };

/** True while `thing` is within the limit; full buckets are forgotten so the map stays small. */
function perThingLimit(limit: { burst: number; refillMs: number }): (thing: string) => boolean {
  const buckets = new Map<string, TokenBucket>();
  return (thing) => {
    const now = Date.now();
    for (const [name, bucket] of buckets) if (bucket.isFull(now)) buckets.delete(name);
    let bucket = buckets.get(thing);
    if (!bucket) buckets.set(thing, (bucket = new TokenBucket({ burst: limit.burst, perMs: 1 / limit.refillMs, now })));
    return bucket.take(now);
  };
}

export interface RenewalService {
  readonly issued: number;
  readonly refused: number;
  close(): Promise<void>;
}

export async function startRenewalService(options: RenewalServiceOptions): Promise<RenewalService> {
  const pki = await Pki.open(options.pkiDir);
  if (!pki.hasCa()) throw new Error(`no CA in ${options.pkiDir}: the renewal service issues from the PKI's CA`);
  const prefix = options.topicPrefix;
  const broker = parseMqttsUrl(options.brokerUrl);
  const stats = { issued: 0, refused: 0 };
  let queue = Promise.resolve();
  const limit = options.requestLimit ?? RENEWAL_REQUEST_LIMIT;
  const allowed = perThingLimit(limit);

  const client = new MqttClient(
    () => openTlsStream({ host: broker.host, port: broker.port, ...(options.servername ? { servername: options.servername } : {}), ca: options.ca, cert: options.cert, key: options.key }),
    { clientId: RENEWAL_SERVICE_NAME, protocolVersion: 4, clean: true, keepalive: 30, connectTimeout: 10_000, reconnectPeriod: 1_000, resubscribe: false },
  );
  client.on("error", (error: Error) => options.log("client-error", { reason: error.message }));

  const answer = (thing: string, payload: Uint8Array): void => {
    client.publish(renewedTopic(prefix, thing), Buffer.from(payload), { qos: 1 });
  };

  const handle = async (topic: string, payload: Uint8Array) => {
    const thing = thingOfRenewTopic(prefix, topic);
    if (thing === undefined) return options.log("ignored", { topic, reason: "not a renew topic" });
    if (!allowed(thing)) {
      stats.refused++;
      options.log("renewal-refused", { thing, refusal: "rate-limited", reason: `more than ${limit.burst} requests, then one per ${limit.refillMs / 60_000} min` });
      return answer(thing, encodeRenewalAnswer({ status: "refused", reason: "rate-limited" }));
    }
    const request = decodeRenewalRequest(payload);
    if (!request.ok) {
      stats.refused++;
      options.log("renewal-refused", { thing, reason: `bad request: ${request.reason}` });
      return answer(thing, encodeRenewalAnswer({ status: "refused", reason: `bad request: ${request.reason}` }));
    }
    const result = await renewThingCertificate(pki, thing, { serial: request.value.serial });
    if (!result.ok) {
      stats.refused++;
      options.log("renewal-refused", { thing, serial: request.value.serial, refusal: result.refusal, reason: result.reason });
      return answer(thing, encodeRenewalAnswer({ status: "refused", reason: result.refusal }));
    }
    const cert = new x509.X509Certificate(result.certPem);
    stats.issued++;
    options.log("renewal-issued", {
      thing,
      previousSerial: request.value.serial,
      serial: cert.serialNumber.toLowerCase(),
      fingerprint256: result.fingerprint256,
      notAfter: cert.notAfter.toISOString(),
      reused: result.reused,
    });
    answer(thing, encodeRenewalAnswer({ status: "issued", cert: base64Encode(new Uint8Array(cert.rawData)) }));
  };

  client.on("message", (topic: string, payload: Buffer) => {
    const bytes = new Uint8Array(payload.buffer, payload.byteOffset, payload.byteLength).slice();
    queue = queue
      .then(() => handle(topic, bytes))
      .catch((error: Error) => options.log("renewal-failed", { topic, reason: error.message }));
  });

  await subscribed(client, options);

  return {
    get issued() {
      return stats.issued;
    },
    get refused() {
      return stats.refused;
    },
    async close() {
      await queue;
      await client.endAsync();
    },
  };
}

/** Resolves once the client is connected and subscribed to every renew topic; rejects on refusal or timeout. */
function subscribed(client: MqttClient, options: RenewalServiceOptions): Promise<void> {
  const prefix = options.topicPrefix;
  return new Promise<void>((resolve, reject) => {
    let started = false;
    const timer = setTimeout(() => {
      if (started) return;
      started = true;
      client.end(true);
      reject(new Error(`renewal: not connected and subscribed to ${options.brokerUrl} within ${(options.startTimeoutMs ?? 15_000) / 1000} s`));
    }, options.startTimeoutMs ?? 15_000);
    client.on("connect", () => {
      client.subscribe(allRenewFilter(prefix), { qos: 1 }, (error) => {
        if (error) {
          options.log("subscribe-refused", { filter: allRenewFilter(prefix), reason: error.message });
          if (!started) {
            started = true;
            clearTimeout(timer);
            client.end(true);
            reject(new Error(`renewal: subscribe to ${allRenewFilter(prefix)} refused: ${error.message}`));
          }
          return;
        }
        options.log("ready", { broker: options.brokerUrl, filter: allRenewFilter(prefix) });
        if (!started) {
          started = true;
          clearTimeout(timer);
          resolve();
        }
      });
    });
    client.on("close", () => {
      if (!started) options.log("disconnected", { reason: "before subscribing; retrying" });
    });
  });
}
