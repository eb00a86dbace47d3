// The broker and the restaurant a firmware e2e file talks to: the embedded broker over TLS on a free loopback
// port, trusting the dev PKI (its CA, CRL and certificate bindings), and the restaurant on a SQLite file in
// `dir`, both with the dev PKI's identities.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { startBroker, type BrokerEvent, type RunningBroker } from "../../../services/broker/broker";
import { startRestaurant, type Restaurant } from "../../../services/restaurant/restaurant";
import type { DevPki } from "../../../tools/pki/dev";

export interface LocalStack {
  broker: RunningBroker;
  restaurant: Restaurant;
  close(): Promise<void>;
}

export async function startLocalStack(dev: DevPki, options: { dir: string; onBrokerEvent?: (event: BrokerEvent) => void }): Promise<LocalStack> {
  const pem = (path: string) => readFileSync(path, "utf8");
  const trust = dev.pki.trustMaterial();
  const broker = await startBroker({
    host: "127.0.0.1",
    port: 0,
    key: pem(dev.broker.keyPath),
    cert: pem(dev.broker.certPath),
    ca: trust.ca,
    crl: trust.crl,
    topicPrefix: "pizza",
    identify: (fingerprint) => dev.pki.certificateBinding(fingerprint),
    ...(options.onBrokerEvent ? { log: options.onBrokerEvent } : {}),
  });
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
