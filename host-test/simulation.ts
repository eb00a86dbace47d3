// Everything `npm run simulate` runs in one process, started from a SimulateConfig: the dev PKI (created on
// first use), the embedded broker (unless an external one is given), the restaurant (unless told not to)
// and one virtual button. The CLI (simulate.ts) only adds keyboard, output and script handling on top.
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import type { ButtonConfig } from "../modules/core/config";
import { subjectCommonName } from "../modules/core/der";
import { chooseThingName } from "../modules/core/thing-name";
import type { FlowEvent } from "../modules/core/flow";
import type { Log } from "../modules/core/ports";
import { startBroker, type BrokerEvent, type RunningBroker } from "../services/broker/broker";
import { parseMqttsUrl } from "../services/net/broker-url";
import type { ConnectionEvent } from "./device/mqtt-connector";
import type { LiveStatus } from "./device/live-line";
import type { LedOutputMode } from "./device/terminal-led";
import { VirtualDevice } from "./device/virtual-device";
import type { TlsCredentials } from "./device/tls-transport";
import type { SimulateConfig } from "./config";
import { DEFAULT_MENU, startRestaurant, type DecidePolicy, type Restaurant, type RestaurantEvent } from "../services/restaurant/restaurant";
import { DEV_DEVICE, ensureDevPki, type DevPki } from "../tools/pki/dev";
import { hasRegistry } from "../tools/pki/registry";
import { startRenewal } from "../services/renewal/service";
import type { RenewalService } from "../services/renewal/renewal";
import type { RenewalEvent } from "../modules/core/renewal";
import type { VirtualUpdateEvent } from "./device/virtual-updates";
import { startSimulatedUpdates, type SimulatedUpdates } from "./simulation-updates";
import { startKitchen, type KitchenServer } from "../services/restaurant/kitchen/server";
import { POLICY_TOPIC_PREFIX, productAuthorization } from "../services/broker/product-authorization";

export interface SimulationHooks {
  /** A Log per component ("button", "restaurant", "broker"). */
  log(source: string): Log;
  onFlowEvent?(event: FlowEvent): void;
  onConnectionEvent?(event: ConnectionEvent): void;
  onRestaurantEvent?(event: RestaurantEvent): void;
  onBrokerEvent?(event: BrokerEvent): void;
  onLedPattern?(name: string): void;
  /** The virtual button's firmware update steps (boot, job, updating, reported, activating, done). */
  onUpdateEvent?(event: VirtualUpdateEvent): void;
  /** The button's certificate renewal steps (asking, renewed, failed). */
  onRenewalEvent?(event: RenewalEvent): void;
  /** Battery mode: the button went to deep sleep, or a press woke it. */
  onPower?(state: "sleep" | "wake"): void;
  /** The virtual button exists (its live line is on screen from now on, before the services that follow start). */
  onDevice?(device: VirtualDevice): void;
  ledMode: LedOutputMode;
  write?(text: string): void;
  status?(): LiveStatus | string;
  /** The terminal's width now, for the live line. */
  columns?(): number | undefined;
  /** ANSI colours on the live line. */
  color?: boolean;
  /** Restaurant decision policy (auto-accept by default; the kitchen page plugs in here). */
  decide?: DecidePolicy;
}

export interface Simulation {
  readonly device: VirtualDevice;
  readonly restaurant: Restaurant | undefined;
  readonly broker: RunningBroker | undefined;
  /** Firmware updates: the jobs service (embedded broker) and the virtual button's updater. */
  readonly updates: SimulatedUpdates;
  /** The certificate renewal service next to the embedded broker (it holds the dev PKI's CA). */
  readonly renewal: RenewalService | undefined;
  readonly brokerUrl: string;
  /** The kitchen page watching the in-process restaurant (auto-accept), when there is one. */
  readonly kitchenUrl: string | undefined;
  readonly thingName: string;
  readonly pkiCreated: boolean;
  close(): Promise<void>;
}

const RESTAURANT_START_TIMEOUT_MS = 15_000;

export async function startSimulation(config: SimulateConfig, hooks: SimulationHooks): Promise<Simulation> {
  const closers: Array<() => Promise<void>> = [];
  const closeAll = async () => {
    for (const close of closers.splice(0).reverse()) {
      try {
        await close();
      } catch (error) {
        hooks.log("simulate").warn(`while closing: ${(error as Error).message}`);
      }
    }
  };
  try {
    const thingName = config.button.thingName ?? (config.cert ? thingFromCertificate(config.cert) : DEV_DEVICE);
    const { dev, pkiCreated } = await devPkiFor(config, thingName, hooks);

    let broker: RunningBroker | undefined;
    if (dev) {
      const started = await startEmbeddedBroker(config, dev, hooks);
      closers.push(() => started.close());
      broker = started;
    }
    const brokerUrl = broker ? broker.url : config.broker!;
    const endpoint = parseMqttsUrl(brokerUrl);

    const read = (file: string) => fs.readFileSync(file, "utf8");
    const deviceCa = config.ca ? read(config.ca) : read(dev!.device.caPath);
    const device = {
      ca: deviceCa,
      cert: read(config.cert ?? dev!.device.chainPath),
      key: read(config.key ?? dev!.device.keyPath),
    };

    const restaurantSide = config.restaurant
      ? await startRestaurantSide(config, hooks, {
          brokerUrl,
          ca: deviceCa,
          cert: read(config.restaurantCert ?? dev!.restaurant.chainPath),
          key: read(config.restaurantKey ?? dev!.restaurant.keyPath),
          closers,
        })
      : undefined;

    let renewal: RenewalService | undefined;
    if (dev) {
      const started = await startDevRenewal(config, brokerUrl, hooks);
      closers.push(() => started.close());
      renewal = started;
    }

    let updates: SimulatedUpdates | undefined;
    const virtual = virtualButton(
      config,
      {
        ...hooks,
        onFlowEvent: (event) => {
          updates?.flowEvent(event);
          hooks.onFlowEvent?.(event);
        },
        onPower: (state) => {
          if (state === "sleep") updates?.updates.abort("deep sleep"); // battery: updates only while awake
          hooks.onPower?.(state);
        },
      },
      { thingName, endpoint, credentials: device },
    );
    closers.push(() => virtual.stop());
    hooks.onDevice?.(virtual);
    updates = await startSimulatedUpdates({ config, embedded: dev !== undefined, brokerUrl, device: virtual, credentials: device, thingName, log: hooks.log, ...(hooks.onUpdateEvent ? { onEvent: hooks.onUpdateEvent } : {}) });
    const startedUpdates = updates;
    closers.push(() => startedUpdates.close());

    return {
      device: virtual,
      restaurant: restaurantSide?.restaurant,
      broker,
      renewal,
      updates,
      brokerUrl,
      kitchenUrl: restaurantSide?.kitchen.url,
      thingName,
      pkiCreated,
      close: closeAll,
    };
  } catch (error) {
    await closeAll();
    throw error;
  }
}

/**
 * The broker `npm run broker` runs, on a free loopback port: the product's AWS IoT policies
 * (services/policies), or the built-in per-thing rules when a custom topic prefix makes those policies not
 * apply, and the registry binding (only registered certificates, as their thing).
 */
/** The dev PKI that serves the embedded broker (and anything not given explicitly); none with an external broker. */
async function devPkiFor(config: SimulateConfig, thingName: string, hooks: SimulationHooks): Promise<{ dev: DevPki | undefined; pkiCreated: boolean }> {
  if (config.broker !== undefined) return { dev: undefined, pkiCreated: false };
  const pkiCreated = !hasRegistry(config.pkiDir);
  // A device identity is made only for the built-in button: a certificate given with --cert is the
  // device's own (e.g. from a registered CA), and a dev thing of the same name would shadow it.
  const dev = await ensureDevPki(config.pkiDir, config.cert ? {} : { deviceName: thingName });
  if (pkiCreated) hooks.log("simulate").info(`created a local dev PKI in ${config.pkiDir}`);
  return { dev, pkiCreated };
}

/**
 * The renewal service beside the embedded broker: it issues from the dev PKI's CA, so a button whose
 * certificate is inside its renewal window renews itself after an order.
 */
function startDevRenewal(config: SimulateConfig, brokerUrl: string, hooks: SimulationHooks): Promise<RenewalService> {
  const log = hooks.log("renewal");
  return startRenewal(
    { brokerUrl, servername: config.servername, pkiDir: config.pkiDir, topicPrefix: config.button.topicPrefix },
    (_source, event, fields) => log.info(`${event} ${JSON.stringify(fields ?? {})}`),
  );
}

async function startEmbeddedBroker(config: SimulateConfig, dev: DevPki, hooks: SimulationHooks): Promise<RunningBroker> {
  const pki = dev.pki;
  const trust = pki.trustMaterial();
  const simulateLog = hooks.log("simulate");
  const rules = config.button.topicPrefix === POLICY_TOPIC_PREFIX ? "policy" : "builtin";
  if (rules === "builtin") simulateLog.info(`topic prefix ${config.button.topicPrefix}: built-in per-thing rules instead of the product policies`);
  const { authorizer, attachDefaults } = productAuthorization({
    pki,
    rules,
    defaultPolicies: true,
    topicPrefix: config.button.topicPrefix,
    log: (event, fields) => simulateLog.info(`${event} ${JSON.stringify(fields)}`),
  });
  await attachDefaults();
  return startBroker({
    host: "127.0.0.1",
    port: 0,
    key: fs.readFileSync(dev.broker.keyPath, "utf8"),
    cert: fs.readFileSync(dev.broker.certPath, "utf8"),
    ca: trust.ca,
    crl: trust.crl,
    topicPrefix: config.button.topicPrefix,
    authorizer,
    identify: (fingerprint) => pki.certificateBinding(fingerprint),
    ...(hooks.onBrokerEvent ? { log: hooks.onBrokerEvent } : {}),
  });
}

/**
 * The restaurant and the kitchen page of `npm run restaurant`, on a free loopback port: here it watches the
 * orders the restaurant decides by itself (auto-accept), so the demo shows the restaurant's side too.
 */
async function startRestaurantSide(
  config: SimulateConfig,
  hooks: SimulationHooks,
  opts: { brokerUrl: string; ca: string; cert: string; key: string; closers: Array<() => Promise<void>> },
): Promise<{ restaurant: Restaurant; kitchen: KitchenServer }> {
  const log = hooks.log("restaurant");
  let kitchen: KitchenServer | undefined;
  const starting = startRestaurant({
    brokerUrl: opts.brokerUrl,
    ...(config.servername ? { servername: config.servername } : {}),
    ...(config.alpn ? { alpnProtocols: config.alpn } : {}),
    ca: opts.ca,
    cert: opts.cert,
    key: opts.key,
    dbPath: restaurantDbPath(config.stateDir, hooks.log("simulate")),
    topicPrefix: config.button.topicPrefix,
    menu: config.menu ?? [...new Set([...DEFAULT_MENU, config.button.items.SINGLE, config.button.items.DOUBLE])],
    etaMin: config.etaMin,
    ...(hooks.decide ? { decide: hooks.decide } : {}),
    log,
    onEvent: (event: RestaurantEvent) => {
      if (event.type === "received" || event.type === "decided") kitchen?.orderChanged(event.order);
      hooks.onRestaurantEvent?.(event);
    },
  });
  const restaurant = await within(starting, RESTAURANT_START_TIMEOUT_MS, `the restaurant could not connect to ${opts.brokerUrl} within ${RESTAURANT_START_TIMEOUT_MS / 1000} s`);
  opts.closers.push(() => restaurant.close());
  const page = await startKitchen({ backend: restaurant, port: 0, defaultEtaMin: config.etaMin, autoAccept: !hooks.decide, log });
  kitchen = page;
  opts.closers.push(() => page.close());
  return { restaurant, kitchen: page };
}

/** A start that must finish within `ms`; one that finishes later is closed at once (it must not linger). */
async function within<T extends { close(): Promise<void> }>(starting: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  try {
    return await Promise.race([starting, timeout]);
  } catch (error) {
    void starting.then((late) => late.close(), () => undefined);
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

/** The virtual button with the simulator's terminal and observers. */
function virtualButton(config: SimulateConfig, hooks: SimulationHooks, opts: { thingName: string; endpoint: { host: string; port: number }; credentials: TlsCredentials }): VirtualDevice {
  const { endpoint } = opts;
  const buttonConfig: ButtonConfig = { ...config.button, thingName: opts.thingName };
  return new VirtualDevice({
    config: buttonConfig,
    broker: {
      host: endpoint.host,
      port: endpoint.port,
      ...(config.servername ? { servername: config.servername } : {}),
      ...(config.alpn ? { alpnProtocols: config.alpn } : {}),
    },
    credentials: opts.credentials,
    keepaliveMs: config.keepaliveMs,
    storePath: path.join(config.stateDir, `${opts.thingName}.store.json`),
    ledMode: hooks.ledMode,
    ...(hooks.write ? { write: hooks.write } : {}),
    ...(hooks.status ? { status: hooks.status } : {}),
    ...(hooks.columns ? { columns: hooks.columns } : {}),
    ...(hooks.color !== undefined ? { color: hooks.color } : {}),
    log: hooks.log("button"),
    ...(hooks.onFlowEvent ? { onEvent: hooks.onFlowEvent } : {}),
    ...(hooks.onConnectionEvent ? { onConnectionEvent: hooks.onConnectionEvent } : {}),
    ...(hooks.onLedPattern ? { onLedPattern: hooks.onLedPattern } : {}),
    renewal: { ...(hooks.onRenewalEvent ? { onEvent: hooks.onRenewalEvent } : {}) },
    ...(hooks.onPower ? { onPower: hooks.onPower } : {}),
  });
}

/** The database name `npm run restaurant` uses too (.data/restaurant.db by default). */
export const RESTAURANT_DB = "restaurant.db";

/**
 * The restaurant's database in the state directory. A `restaurant.sqlite` found there instead is
 * renamed to it, so the orders and acks of a state directory made under that name are kept.
 */
function restaurantDbPath(stateDir: string, log: Log): string {
  const dbPath = path.join(stateDir, RESTAURANT_DB);
  const old = path.join(stateDir, "restaurant.sqlite");
  if (!fs.existsSync(dbPath) && fs.existsSync(old)) {
    for (const suffix of ["", "-wal", "-shm"]) if (fs.existsSync(old + suffix)) fs.renameSync(old + suffix, dbPath + suffix);
    log.info(`renamed ${old} to ${dbPath} (the name npm run restaurant uses)`);
  }
  return dbPath;
}

/**
 * The thing a certificate given with --cert names, by the rule both hosts share (chooseThingName): its CN
 * unless that is no thing name, which AWS-issued certificates' CN is; then the thing must be configured.
 */
function thingFromCertificate(certPath: string): string {
  const cn = subjectCommonName(new Uint8Array(new crypto.X509Certificate(fs.readFileSync(certPath)).raw));
  const choice = chooseThingName(undefined, cn);
  if (choice.ok) return choice.thingName;
  throw new Error(`the certificate ${certPath}: ${choice.problem}: set the thing with --thing <name> (or "thingName" in --config)`);
}
