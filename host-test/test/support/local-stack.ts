// What a firmware e2e file works with: a dev PKI for its thing and the headless firmware built with that
// thing's identity; then the broker and the restaurant it talks to: the embedded broker over TLS on a free
// loopback port, trusting the dev PKI (its CA, CRL and certificate bindings), and the restaurant on a SQLite
// file in `dir`, both with the dev PKI's identities.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { startBroker, type BrokerEvent, type RunningBroker } from "../../../services/broker/broker";
import { startRestaurant, type Restaurant } from "../../../services/restaurant/restaurant";
import { buildFirmwareHost, type HostBuild } from "../../../tools/firmware/host-build";
import { REPO_ROOT, type Sdk } from "../../../tools/firmware/sdk";
import { ensureDevPki, type DevPki } from "../../../tools/pki/dev";
import type { Pki } from "../../../tools/pki/pki";

/** A dev PKI in `dir` for `thing`, and the headless firmware built with its identity in build/<buildName>. */
export async function buildDevFirmware(sdk: Sdk, options: { dir: string; thing: string; buildName: string }): Promise<{ dev: DevPki; build: HostBuild }> {
  const dev = await ensureDevPki(join(options.dir, "pki"), { deviceName: options.thing });
  const certs = join(options.dir, "device-certs");
  await dev.pki.exportModdable(options.thing, { outDir: certs });
  const build = await buildFirmwareHost({ sdk, certsDir: certs, outDir: join(REPO_ROOT, "build", options.buildName) });
  console.log(`firmware host build: ${(build.buildMs / 1000).toFixed(1)} s, binary ${build.binaryBytes} bytes`);
  return { dev, build };
}

export interface LocalStack {
  broker: RunningBroker;
  restaurant: Restaurant;
  close(): Promise<void>;
}

const pem = (path: string) => readFileSync(path, "utf8");

/** The embedded broker over TLS on a free loopback port, with `pki`'s broker certificate, trusting its CA,
 *  CRL and certificate bindings. */
export async function startPkiBroker(pki: Pki, onEvent?: (event: BrokerEvent) => void): Promise<RunningBroker> {
  const files = pki.brokerFiles();
  if (!files) throw new Error(`the PKI in ${pki.dir} has no broker certificate`);
  const trust = pki.trustMaterial();
  return startBroker({
    host: "127.0.0.1",
    port: 0,
    key: pem(files.keyPath),
    cert: pem(files.certPath),
    ca: trust.ca,
    crl: trust.crl,
    topicPrefix: "pizza",
    identify: (fingerprint) => pki.certificateBinding(fingerprint),
    log: onEvent ?? (() => {}),
  });
}

export async function startLocalStack(dev: DevPki, options: { dir: string; onBrokerEvent?: (event: BrokerEvent) => void }): Promise<LocalStack> {
  const broker = await startPkiBroker(dev.pki, options.onBrokerEvent);
  const restaurant = await startRestaurant({
    brokerUrl: broker.url,
    ca: pem(dev.restaurant.caPath),
    cert: pem(dev.restaurant.chainPath),
    key: pem(dev.restaurant.keyPath),
    clientId: "restaurant",
    dbPath: join(options.dir, "orders.sqlite"),
  });
  return {
    broker,
    restaurant,
    close: async () => {
      await restaurant.close();
      await broker.close();
    },
  };
}
