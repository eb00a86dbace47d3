// Everything `npm run simulate` runs in one process, started from a SimulateConfig: the dev PKI (created on
// first use), the embedded broker (unless an external one is given), the restaurant (unless told not to)
// and one virtual button. The CLI (simulate.ts) only adds keyboard, output and script handling on top.
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { isValidThingName, type ButtonConfig } from "../modules/core/config";
import type { FlowEvent } from "../modules/core/flow";
import type { Log } from "../modules/core/ports";
import { startBroker, type BrokerEvent, type RunningBroker } from "../services/broker/broker";
import { parseMqttsUrl } from "../services/net/broker-url";
import type { ConnectionEvent } from "./device/mqtt-connector";
import type { LiveStatus } from "./device/live-line";
import type { LedOutputMode } from "./device/terminal-led";
import { VirtualDevice } from "./device/virtual-device";
import type { SimulateConfig } from "./config";
import { DEFAULT_MENU, startRestaurant, type DecidePolicy, type Restaurant, type RestaurantEvent } from "../services/restaurant/restaurant";
import { DEV_DEVICE, ensureDevPki, type DevPki } from "../tools/pki/dev";
import { hasRegistry } from "../tools/pki/registry";
import { startRenewal } from "../services/renewal/service";
import type { RenewalService } from "../services/renewal/renewal";
import type { RenewalEvent } from "../modules/core/renewal";
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
  /** The button's certificate renewal steps (asking, renewed, failed). */
  onRenewalEvent?(event: RenewalEvent): void;
  /** Battery mode: the button went to deep sleep, or a press woke it. */
  onPower?(state: "sleep" | "wake"): void;
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
    const embedded = config.broker === undefined;
    const thingName = config.button.thingName ?? thingFromCertificate(config.cert) ?? DEV_DEVICE;

    // The dev PKI serves the embedded broker (and anything not given explicitly).
    let dev: DevPki | undefined;
    let pkiCreated = false;
    if (embedded) {
      pkiCreated = !hasRegistry(config.pkiDir);
      // A device identity is made only for the built-in button: a certificate given with --cert is the
      // device's own (e.g. from a registered CA), and a dev thing of the same name would shadow it.
      dev = await ensureDevPki(config.pkiDir, config.cert ? {} : { deviceName: thingName });
      if (pkiCreated) hooks.log("simulate").info(`created a local dev PKI in ${config.pkiDir}`);
    }

    let broker: RunningBroker | undefined;
    let brokerUrl: string;
    if (dev) {
      const pki = dev.pki;
      const trust = pki.trustMaterial();
      // The same authorization as `npm run broker`: the product's AWS IoT policies (services/policies),
      // or the built-in per-thing rules when a custom topic prefix makes those policies not apply.
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
      broker = await startBroker({
        host: "127.0.0.1",
        port: 0,
        key: fs.readFileSync(dev.broker.keyPath, "utf8"),
        cert: fs.readFileSync(dev.broker.certPath, "utf8"),
        ca: trust.ca,
        crl: trust.crl,
        topicPrefix: config.button.topicPrefix,
        authorizer,
        // The same registry binding as npm run broker: only registered certificates, as their thing.
        identify: (fingerprint) => pki.certificateBinding(fingerprint),
        ...(hooks.onBrokerEvent ? { log: hooks.onBrokerEvent } : {}),
      });
      const started = broker;
      closers.push(() => started.close());
      brokerUrl = broker.url;
    } else {
      brokerUrl = config.broker!;
    }
    const endpoint = parseMqttsUrl(brokerUrl);

    const read = (file: string) => fs.readFileSync(file, "utf8");
    const deviceCa = config.ca ? read(config.ca) : read(dev!.device.caPath);
    const device = {
      ca: deviceCa,
      cert: read(config.cert ?? dev!.device.chainPath),
      key: read(config.key ?? dev!.device.keyPath),
    };

    let restaurant: Restaurant | undefined;
    let kitchen: KitchenServer | undefined;
    if (config.restaurant) {
      const log = hooks.log("restaurant");
      const onRestaurantEvent = (event: RestaurantEvent) => {
        if (event.type === "received" || event.type === "decided") kitchen?.orderChanged(event.order);
        hooks.onRestaurantEvent?.(event);
      };
      const starting = startRestaurant({
        brokerUrl,
        ...(config.servername ? { servername: config.servername } : {}),
        ...(config.alpn ? { alpnProtocols: config.alpn } : {}),
        ca: deviceCa,
        cert: read(config.restaurantCert ?? dev!.restaurant.chainPath),
        key: read(config.restaurantKey ?? dev!.restaurant.keyPath),
        dbPath: restaurantDbPath(config.stateDir, hooks.log("simulate")),
        topicPrefix: config.button.topicPrefix,
        menu: config.menu ?? [...new Set([...DEFAULT_MENU, config.button.items.SINGLE, config.button.items.DOUBLE])],
        etaMin: config.etaMin,
        ...(hooks.decide ? { decide: hooks.decide } : {}),
        log,
        onEvent: onRestaurantEvent,
      });
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`the restaurant could not connect to ${brokerUrl} within ${RESTAURANT_START_TIMEOUT_MS / 1000} s`)),
          RESTAURANT_START_TIMEOUT_MS,
        );
      });
      try {
        restaurant = await Promise.race([starting, timeout]);
      } catch (error) {
        void starting.then((late) => late.close(), () => undefined); // a late start must not linger
        throw error;
      } finally {
        clearTimeout(timer);
      }
      const started = restaurant;
      closers.push(() => started.close());
      // The kitchen page of `npm run restaurant`, on a free loopback port: here it watches the orders the
      // restaurant decides by itself (auto-accept), so the demo shows the restaurant's side too.
      const page = await startKitchen({ backend: started, port: 0, defaultEtaMin: config.etaMin, autoAccept: !hooks.decide, log });
      kitchen = page;
      closers.push(() => page.close());
    }

    // With the embedded broker, the renewal service runs here too (it issues from the dev PKI's CA), so a
    // button whose certificate is inside its renewal window renews itself after an order.
    let renewal: RenewalService | undefined;
    if (dev) {
      const log = hooks.log("renewal");
      renewal = await startRenewal(
        { brokerUrl, servername: config.servername, pkiDir: config.pkiDir, topicPrefix: config.button.topicPrefix },
        (_source, event, fields) => log.info(`${event} ${JSON.stringify(fields ?? {})}`),
      );
      const started = renewal;
      closers.push(() => started.close());
    }

    const buttonConfig: ButtonConfig = { ...config.button, thingName };
    const virtual = new VirtualDevice({
      config: buttonConfig,
      broker: {
        host: endpoint.host,
        port: endpoint.port,
        ...(config.servername ? { servername: config.servername } : {}),
        ...(config.alpn ? { alpnProtocols: config.alpn } : {}),
      },
      credentials: device,
      keepaliveSec: Math.ceil(config.keepaliveMs / 1_000),
      storePath: path.join(config.stateDir, `${thingName}.store.json`),
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
    closers.push(() => virtual.stop());

    return {
      device: virtual,
      restaurant,
      broker,
      renewal,
      brokerUrl,
      kitchenUrl: kitchen?.url,
      thingName,
      pkiCreated,
      close: closeAll,
    };
  } catch (error) {
    await closeAll();
    throw error;
  }
}

/** The database name `npm run restaurant` uses too (.data/restaurant.db by default). */
export const RESTAURANT_DB = "restaurant.db";

/**
 * The restaurant's database in the state directory. A database from before both commands used the
 * same name (restaurant.sqlite) is renamed, so its orders and their acks are kept.
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

/** The CN of a PEM certificate (the thing name, by the AWS IoT rule), if it has one. */
function commonNameOf(certPath: string): string | undefined {
  const subject = new crypto.X509Certificate(fs.readFileSync(certPath)).subject;
  return /(?:^|\n)CN=([^\n]+)/.exec(subject)?.[1];
}

/**
 * Without a configured thing, the certificate's CN names it (certificates of this PKI). AWS-issued ones
 * carry CN "AWS IoT Certificate", which is no thing name: then the thing must come from configuration.
 */
function thingFromCertificate(certPath: string | undefined): string | undefined {
  if (!certPath) return undefined;
  const cn = commonNameOf(certPath);
  if (cn !== undefined && isValidThingName(cn)) return cn;
  throw new Error(
    `the certificate ${certPath} has CN ${JSON.stringify(cn ?? "")}, which is not a thing name (AWS IoT certificates all carry "AWS IoT Certificate"): ` +
      "set the thing with --thing <name> (or \"thingName\" in --config)",
  );
}
