// The certificate renewal service: an MQTT client (identity CN "renewal") that holds the PKI directory and
// so the issuing CA. A button asks on <prefix>/renew/<thing>; the broker lets only that thing's certificate
// publish there (device policy, built-in rules, mosquitto ACL), so the topic says who asks. The request names
// the certificate the button holds (its serial); the service renews it only while that certificate is the
// thing's, ACTIVE, unexpired and from a CA it holds (tools/pki/renew.ts), and answers on
// <prefix>/renewed/<thing> with a certificate for the same public key and subject, recorded in the registry.
// Requests are handled one at a time: the registry is one file.
import { MqttClient } from "mqtt";
import { base64Encode } from "../../modules/core/der";
import { decodeRenewalRequest, encodeRenewalAnswer } from "../../modules/core/renewal";
import { allRenewFilter, renewedTopic, RENEWAL_SERVICE_NAME, thingOfRenewTopic } from "../../modules/core/topics";
import { x509 } from "../../tools/pki/crypto";
import { Pki } from "../../tools/pki/pki";
import { renewThingCertificate } from "../../tools/pki/renew";
import { parseMqttsUrl } from "../net/broker-url";
import { openTlsStream, type PemInput } from "../net/tls-stream";

export interface RenewalServiceOptions {
  brokerUrl: string;
  servername?: string;
  ca: PemInput;
  cert: PemInput;
  key: PemInput;
  pkiDir: string;
  topicPrefix: string;
  /** Validity of a renewed certificate. Default: the PKI's device default (730 days). */
  validDays?: number;
  /** Give up starting when not subscribed by then. Default 15 s. */
  startTimeoutMs?: number;
  log(event: string, fields: Record<string, unknown>): void;
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
    const request = decodeRenewalRequest(payload);
    if (!request.ok) {
      stats.refused++;
      options.log("renewal-refused", { thing, reason: `bad request: ${request.reason}` });
      return answer(thing, encodeRenewalAnswer({ status: "refused", reason: `bad request: ${request.reason}` }));
    }
    const result = await renewThingCertificate(pki, thing, { serial: request.value.serial }, options.validDays ? { validDays: options.validDays } : {});
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

  await new Promise<void>((resolve, reject) => {
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
