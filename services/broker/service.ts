// `npm run broker`: the embedded broker as a long-running service for real boards and the restaurant
// service. TLS material comes from the local PKI (created as a dev PKI on first run), every thing is
// authorized by the AWS IoT policies attached to it (the product policies by default) or by the built-in
// topic rules, revocations and CA changes made with `npm run pki` apply without a restart, and everything
// that happens is one line on stdout (readable on a terminal, JSON when piped or with --json). SIGINT/SIGTERM close it cleanly (exit 0).
import { X509Certificate } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { DEV_RESTAURANT, ensureDevPki } from "../../tools/pki/dev";
import { Pki } from "../../tools/pki/pki";
import { productAuthorization } from "./product-authorization";
import { BUTTON_SETTINGS, type SettingsSchema } from "../../modules/core/settings";
import { isLoopbackHost, isMainModule, runServiceCli, type EventSink } from "../runtime";
import { commandHelp, parseCommandLine, pickSettings } from "../settings-cli";
import {
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_MAX_CONNECTIONS,
  DEFAULT_MAX_CONNECTIONS_PER_ADDRESS,
  DEFAULT_MAX_PACKET_BYTES,
  DEFAULT_TLS_HANDSHAKE_TIMEOUT_MS,
  startBroker,
  type RunningBroker,
} from "./broker";
import { DEFAULT_PUBLISH_LIMIT, type PublishLimit } from "./publish-limit";
import { watchTrust, type TrustReloader } from "./trust-reload";
import { watchCertificateExpiry } from "./cert-expiry";

export interface BrokerServiceConfig {
  host: string;
  port: number;
  pkiDir: string;
  rules: "policy" | "builtin";
  /** Attach the product policy (device.json, restaurant.json) to every thing that has none. */
  defaultPolicies: boolean;
  topicPrefix: string;
  /** ARN parts the policies are matched against ("*" = whatever the policies name). */
  region: string;
  account: string;
  maxPacketBytes: number;
  maxConnections: number;
  maxConnectionsPerAddress: number;
  connectTimeoutMs: number;
  tlsHandshakeTimeoutMs: number;
  /** Per-connection publish limit (the restaurant exempt). */
  publishLimit: PublishLimit;
}

/** The broker service's settings; topicPrefix is the button's own setting (same key, same rule). */
export const BROKER_SETTINGS: SettingsSchema = {
  settings: [
    { key: "host", type: "text", default: "127.0.0.1", help: "listen address; 0.0.0.0 = every interface, for a real board on your network (the broker certificate must name the address the board uses: npm run pki -- broker cert --host NAME --ip ADDR)" },
    { key: "port", type: "integer", default: 8883, min: 0, max: 65_535, help: "listen port (0 = any free port, printed in the listening line)" },
    { key: "pkiDir", type: "path", default: "certs", help: "local PKI; if it holds no CA yet, a development PKI is created there (CA, broker cert for localhost/127.0.0.1, restaurant, pizza-button-01)" },
    { key: "rules", type: "choice", default: "policy", choices: ["policy", "builtin"], help: "authorization: the AWS IoT policies attached to each thing in the PKI's policy store, or the built-in per-thing topic rules" },
    { key: "defaultPolicies", type: "boolean", default: true, help: "attach the product policies to things that have none" },
    ...pickSettings(BUTTON_SETTINGS, ["topicPrefix"]),
    { key: "region", type: "text", default: "*", help: "region policy ARNs are matched against" },
    { key: "account", type: "text", default: "*", help: "account policy ARNs are matched against" },
    { key: "maxPacketBytes", type: "integer", default: DEFAULT_MAX_PACKET_BYTES, min: 64, max: 16 * 1024 * 1024, unit: "bytes", help: "largest MQTT packet accepted" },
    { key: "maxConnections", type: "integer", default: DEFAULT_MAX_CONNECTIONS, min: 1, max: 1_000_000, help: "open connections at most, TLS handshakes included" },
    { key: "maxConnectionsPerAddress", type: "integer", default: DEFAULT_MAX_CONNECTIONS_PER_ADDRESS, min: 1, max: 1_000_000, help: "open connections from one source address at most" },
    { key: "connectTimeoutMs", type: "integer", default: DEFAULT_CONNECT_TIMEOUT_MS, min: 100, max: 600_000, unit: "ms", help: "close a connection that sends no MQTT CONNECT within this" },
    { key: "tlsHandshakeTimeoutMs", type: "integer", default: DEFAULT_TLS_HANDSHAKE_TIMEOUT_MS, min: 100, max: 600_000, unit: "ms", help: "drop a TLS handshake not finished within this" },
    { key: "publishBurst", type: "integer", default: DEFAULT_PUBLISH_LIMIT.burst, min: 1, max: 1_000_000, help: "publishes one connection may send at once; then --publish-rate per second (a faster client is slowed down, not disconnected; the restaurant is exempt)" },
    { key: "publishRate", type: "integer", default: DEFAULT_PUBLISH_LIMIT.perSecond, min: 1, max: 1_000_000, help: "publishes per second one connection may send after its burst" },
  ],
  rules: [],
};

export function brokerUsage(): string {
  return commandHelp(BROKER_SETTINGS, [
    "Usage: npm run broker -- [options]",
    "",
    "Runs the embedded MQTT broker (TLS 1.2+, client certificates required) until SIGINT/SIGTERM.",
    "Logs one line per event on stdout (readable on a terminal, JSON when piped or with --json): connects,",
    "refusals with their reason, authorization decisions.",
    "",
  ]);
}

/** argv (without node and script) → config; undefined for --help. Throws UsageError. */
export function parseBrokerArgs(argv: string[], cwd = process.cwd()): BrokerServiceConfig | undefined {
  const line = parseCommandLine(BROKER_SETTINGS, argv, { cwd });
  if (line === undefined) return undefined;
  const v = line.values;
  return {
    host: v.host as string,
    port: v.port as number,
    pkiDir: v.pkiDir as string,
    rules: v.rules as BrokerServiceConfig["rules"],
    defaultPolicies: v.defaultPolicies as boolean,
    topicPrefix: v.topicPrefix as string,
    region: v.region as string,
    account: v.account as string,
    maxPacketBytes: v.maxPacketBytes as number,
    maxConnections: v.maxConnections as number,
    maxConnectionsPerAddress: v.maxConnectionsPerAddress as number,
    connectTimeoutMs: v.connectTimeoutMs as number,
    tlsHandshakeTimeoutMs: v.tlsHandshakeTimeoutMs as number,
    publishLimit: { ...DEFAULT_PUBLISH_LIMIT, burst: v.publishBurst as number, perSecond: v.publishRate as number },
  };
}

export interface BrokerService {
  readonly broker: RunningBroker;
  readonly trust: TrustReloader;
  close(): Promise<void>;
}

/** Starts the broker service; every event goes to `sink` as (source, event, fields). */
/**
 * The PKI: a dev PKI on first run only. An existing PKI is used as it is: a service never re-issues a
 * certificate behind its owner's back (ensureDevPki would renew revoked dev things, for instance).
 */
async function openServicePki(pkiDir: string, log: (event: string, fields?: Record<string, unknown>) => void) {
  let pki = await Pki.open(pkiDir);
  if (!pki.hasCa()) {
    const dev = await ensureDevPki(pkiDir);
    pki = dev.pki;
    log("pki-created", { dir: dev.dir, things: [DEV_RESTAURANT, dev.device.name], note: "development PKI: keep the directory private" });
  }
  const files = pki.brokerFiles();
  if (!files) throw new Error(`no broker certificate in ${pkiDir}: npm run pki -- --pki-dir ${pkiDir} broker cert --host localhost --ip 127.0.0.1`);
  return { pki, files, cert: fs.readFileSync(files.certPath, "utf8"), key: fs.readFileSync(files.keyPath, "utf8") };
}

export async function startBrokerService(config: BrokerServiceConfig, sink: EventSink): Promise<BrokerService> {
  const log = (event: string, fields: Record<string, unknown> = {}) => sink("broker", event, fields);

  const { pki, files, cert, key } = await openServicePki(config.pkiDir, log);
  for (const warning of exposureWarnings(config, cert)) log("warning", { ...warning });

  const { authorizer, attachDefaults } = productAuthorization({
    pki,
    rules: config.rules,
    defaultPolicies: config.defaultPolicies,
    topicPrefix: config.topicPrefix,
    region: config.region,
    account: config.account,
    log,
    onDecision: (decision) => sink("policy", "authz", { ...decision }),
  });
  await attachDefaults();

  const initial = pki.trustMaterial();
  if (initial.missingCrl.length > 0) {
    log("trust-warning", { reason: "CAs without a CRL: their certificates are refused until a CRL is imported (npm run pki -- ca import-crl)", cas: initial.missingCrl });
  }
  const broker = await startBroker({
    host: config.host,
    port: config.port,
    key,
    cert,
    ca: initial.ca,
    crl: initial.crl,
    topicPrefix: config.topicPrefix,
    authorizer,
    maxPacketBytes: config.maxPacketBytes,
    maxConnections: config.maxConnections,
    maxConnectionsPerAddress: config.maxConnectionsPerAddress,
    connectTimeoutMs: config.connectTimeoutMs,
    tlsHandshakeTimeoutMs: config.tlsHandshakeTimeoutMs,
    // Read fresh from disk: a certificate is accepted only as the one registered for its thing, and
    // `thing deactivate`/`revoke` refuse the next CONNECT at once (and close open ones, below).
    identify: (fp) => pki.certificateBinding(fp),
    publishLimit: config.publishLimit,
    log: ({ event, ...fields }) => log(event, fields),
  });

  // The server certificate is reloaded with the trust: `pki broker cert --renew` rewrites it (and the registry).
  let served = cert;
  const readServer = () => ({ cert: fs.readFileSync(files.certPath, "utf8"), key: fs.readFileSync(files.keyPath, "utf8") });
  let trust: TrustReloader;
  try {
    trust = watchTrust({
      dir: config.pkiDir,
      read: () => ({ ...pki.trustMaterial(), server: readServer() }),
      generation: () => pki.store.generation(),
      apply: (material) => {
        if (material.server && material.server.cert !== served) {
          broker.updateCertificate(material.server);
          served = material.server.cert;
          const now = new X509Certificate(served);
          log("broker-certificate-reloaded", { notAfter: now.validTo, fingerprint256: now.fingerprint256 });
        }
        broker.updateTrust(material);
      },
      onChange: () => {
        void attachDefaults();
        // A thing deactivated or revoked in the registry loses its open connections too.
        void broker.revalidate("registry changed");
      },
      log,
    });
  } catch (error) {
    await broker.close();
    throw error;
  }
  trust.check("start"); // anything the PKI tool changed while the broker was starting
  const expiry = watchCertificateExpiry({ read: () => served, pkiDir: config.pkiDir, log });
  log("ready", {
    url: broker.url,
    host: broker.host,
    port: broker.port,
    pkiDir: config.pkiDir,
    rules: config.rules,
    defaultPolicies: config.rules === "policy" && config.defaultPolicies,
    topicPrefix: config.topicPrefix,
  });

  return {
    broker,
    trust,
    async close() {
      expiry.close();
      trust.close();
      await broker.close();
    },
  };
}

/**
 * Binding beyond loopback: a warning that says so, and one when the broker certificate does not name an
 * address boards will dial (they verify it). `addresses`: this computer's IPv4 addresses for 0.0.0.0.
 */
export function exposureWarnings(
  config: Pick<BrokerServiceConfig, "host" | "port" | "pkiDir">,
  certPem: string,
  addresses: string[] = localIPv4Addresses(),
): Array<{ reason: string; fix?: string }> {
  if (isLoopbackHost(config.host)) return [];
  const warnings: Array<{ reason: string; fix?: string }> = [
    {
      reason: `listening on ${config.host}, not only loopback: anything on your network can reach port ${config.port}; only holders of a certificate from ${config.pkiDir} get past TLS`,
    },
  ];
  const names = certificateNames(certPem);
  const dialed = config.host === "0.0.0.0" || config.host === "::" ? addresses : [config.host];
  const missing = dialed.filter((a) => !names.includes(a));
  if (missing.length > 0) {
    warnings.push({
      reason: `the broker certificate names ${names.join(", ") || "nothing"}; a board dialing ${missing.join(" or ")} will refuse it`,
      fix: `npm run pki -- --pki-dir ${config.pkiDir} broker cert --host localhost --ip 127.0.0.1 ${missing.map((a) => `--ip ${a}`).join(" ")}`,
    });
  }
  return warnings;
}

function localIPv4Addresses(): string[] {
  return Object.values(os.networkInterfaces())
    .flat()
    .filter((a): a is os.NetworkInterfaceInfo => a !== undefined && !a.internal && a.family === "IPv4")
    .map((a) => a.address);
}

function certificateNames(certPem: string): string[] {
  try {
    const san = new X509Certificate(certPem).subjectAltName ?? "";
    return san
      .split(",")
      .map((entry) => entry.trim().replace(/^(DNS|IP Address):/, ""))
      .filter(Boolean);
  } catch {
    return [];
  }
}

if (isMainModule(import.meta.url)) {
  await runServiceCli({ name: "broker", parse: parseBrokerArgs, usage: brokerUsage, start: startBrokerService });
}
