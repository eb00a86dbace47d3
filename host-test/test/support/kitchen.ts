// The restaurant service (services/restaurant, SQLite) for the reliability suites, with its events and
// log lines kept for assertions. Reconnects quickly (250 ms) so broker restarts stay short.
import { memoryLog } from "../../device/log";
import { startRestaurant, type Restaurant, type RestaurantEvent, type RestaurantOptions } from "../../../services/restaurant/restaurant";
import type { Credentials } from "./security-pki";

export interface Kitchen {
  restaurant: Restaurant;
  events: RestaurantEvent[];
  log: ReturnType<typeof memoryLog>;
  dbPath: string;
  close(): Promise<void>;
}

export async function startKitchen(options: {
  url: string;
  credentials: Credentials;
  dbPath: string;
  /** Called synchronously with every event, e.g. to inject a fault at an exact point. */
  onEvent?: (event: RestaurantEvent, kitchen: Kitchen) => void;
  extra?: Partial<RestaurantOptions>;
}): Promise<Kitchen> {
  const events: RestaurantEvent[] = [];
  const log = memoryLog();
  let kitchen: Kitchen | undefined;
  const restaurant = await startRestaurant({
    brokerUrl: options.url,
    ...options.credentials,
    dbPath: options.dbPath,
    reconnectPeriodMs: 250,
    log,
    onEvent: (event) => {
      events.push(event);
      if (kitchen) options.onEvent?.(event, kitchen);
    },
    ...options.extra,
  });
  kitchen = { restaurant, events, log, dbPath: options.dbPath, close: () => restaurant.close() };
  return kitchen;
}
