// Ports: everything the core needs from its host comes in through these small interfaces.
// The firmware (modules/device) and the Node harness (host-test/device) each provide adapters.
// Nothing here may reference a platform global: the core must run unchanged under XS and Node.

/** Opaque handle returned by Timers.set. */
export type TimerHandle = unknown;

/** One-shot timers. Durations are milliseconds. */
export interface Timers {
  set(callback: () => void, delayMs: number): TimerHandle;
  clear(handle: TimerHandle): void;
}

/** Wall clock in epoch milliseconds (firmware: after SNTP). Used for timestamps that survive a reset. */
export interface Clock {
  now(): number;
}

/** A single LED. The pattern player drives it; adapters only switch it. */
export interface Led {
  set(on: boolean): void;
}

/**
 * Small persistent key/value store (firmware: Preference/NVS, harness: a JSON file).
 * Keys are at most 15 characters (NVS limit); values at most 4000 bytes. Writes are durable on return.
 */
export interface Store {
  read(key: string): string | undefined;
  write(key: string, value: string): void;
  remove(key: string): void;
}

export interface Log {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

/** Why a connection ended. "auth": TLS refused / certificate rejected / CONNACK not authorized / SUBACK refused. */
export type CloseKind = "network" | "auth";

export interface ConnectionHandlers {
  /** Connected (TLS + MQTT CONNACK accepted) and subscribed to the ack topic: publishing may start. */
  onReady(): void;
  onMessage(topic: string, payload: Uint8Array): void;
  /**
   * Called at most once, and never after the core itself called close(). May come from inside the
   * adapter's own callbacks, even inside connect() or publish(): the core handles it once that call returned.
   * hungUpAfterPublish: the broker closed the connection after a PUBLISH of ours went out on it (a pipelined
   * one included), before any answer: what AWS IoT does to a publish or subscribe its policy denies, and
   * what a restarting broker does.
   */
  onClose(kind: CloseKind, detail: string, hungUpAfterPublish?: boolean): void;
}

/** One live (or connecting) MQTT connection. Created by MqttConnector.connect. */
export interface MqttConnection {
  publish(topic: string, payload: Uint8Array): void;
  close(): void;
}

/**
 * The MQTT transport port. Broker address, credentials (client certificate and key), client id and TLS
 * settings belong to the adapter; the core only says which topic to subscribe to.
 * Each connect() is a fresh connection object, so callbacks of an old connection cannot reach a new one.
 */
export interface MqttConnector {
  /**
   * publish() may be called right after connect(), before onReady: the connection sends it behind CONNECT
   * and SUBSCRIBE in the first flight (MQTT 3.1.1 §3.1.4) and a refusal still arrives as onClose("auth").
   * Without it the core waits for onReady before publishing.
   */
  readonly publishesBeforeReady?: boolean;
  connect(request: { subscribe: string }, handlers: ConnectionHandlers): MqttConnection;
}

/**
 * Whether the device has a network (firmware: Wi-Fi joined with an address). While it is down the core
 * opens no connections (docs/setup.md, "When the Wi-Fi goes away"). Hosts without such a signal pass none:
 * the network then counts as always up.
 */
export interface Network {
  readonly up: boolean;
  /** Called on every change of `up`. */
  onChange(listener: (up: boolean) => void): void;
}

/**
 * The Wi-Fi station (firmware: the SDK's WiFi; headless: a stand-in). join() starts joining and reports,
 * until leave(): "up" once it has an address, "down" when a join failed or the network was lost.
 */
export interface WifiStation {
  /**
   * accessPoint: join that BSSID on that channel only, without scanning (a battery wake's fast rejoin);
   * otherwise scan for the SSID. staticIp: use that address instead of asking DHCP.
   */
  join(network: WifiNetwork, onChange: (state: "up" | "down") => void): void;
  leave(): void;
  /** The access point joined (BSSID and channel), once up; undefined where the station cannot tell. */
  joinedAccessPoint?(): { bssid: Uint8Array; channel: number } | undefined;
}

export interface WifiNetwork {
  ssid: string;
  password: string;
  accessPoint?: { bssid: Uint8Array; channel: number };
  staticIp?: { address: string; netmask: string; gateway: string; dns: string };
}
