// A bench section's run against mosquitto: mosquitto on the workspace's PKI with a restaurant on it, both
// stopped after the run; { skipped } where mosquitto is not installed.
import path from "node:path";
import { startRestaurant } from "../../services/restaurant/restaurant";
import { mosquittoUnavailableReason, startMosquitto } from "../mosquitto/mosquitto";
import type { Workspace } from "./stack";

export async function onMosquitto<T>(ws: Workspace, dbName: string, run: (target: { host: string; port: number }) => Promise<T>): Promise<T | { skipped: string }> {
  const skip = mosquittoUnavailableReason();
  if (skip) return { skipped: skip };
  const broker = await startMosquitto({ pkiDir: ws.dev.pki.dir, quiet: true });
  ws.track(broker.dir);
  try {
    const restaurant = await startRestaurant({
      brokerUrl: broker.url,
      ca: ws.pem.ca,
      cert: ws.pem.restaurantCert,
      key: ws.pem.restaurantKey,
      dbPath: path.join(ws.stateDir, dbName),
      reconnectPeriodMs: 0,
    });
    try {
      return await run({ host: broker.host, port: broker.port });
    } finally {
      await restaurant.close();
    }
  } finally {
    await broker.close();
  }
}
