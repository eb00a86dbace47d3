// What the warm, cold and firmware sections measure against: a throw-away dev PKI, the embedded broker on a
// loopback ephemeral port and the restaurant service with its SQLite database, in temp dirs that
// Workspace.close() removes. (The load section starts its own processes: load-bench.ts.)
import { closeSync, fsyncSync, mkdirSync, mkdtempSync, openSync, readFileSync, renameSync, rmSync, writeSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { startBroker, type RunningBroker } from "../../services/broker/broker";
import { startRestaurant, type Restaurant } from "../../services/restaurant/restaurant";
import { mosquittoUnavailableReason, startMosquitto } from "../mosquitto/mosquitto";
import { ensureDevPki, type DevPki } from "../../tools/pki/dev";
import type { BaselineTarget } from "./baseline";

export const TOPIC_PREFIX = "pizza";
/** The bench's own button: RSA-2048 like the firmware's device certificate. */
export const BENCH_THING = "bench-button";

/**
 * The button's one store (its flash), shared by the warm and cold sections: one device, one seq counter.
 * (The core seeds a fresh store's seq from the wall clock in seconds; two stores for one thing, clicked
 * hundreds of times a second, would hand out the same orderIds and the restaurant would answer repeats.)
 */
export function benchStorePath(ws: Workspace): string {
  return path.join(ws.stateDir, `${BENCH_THING}.store.json`);
}

/** A click the restaurant answered as a repeat would measure a different path: refuse the run. */
export async function assertNewOrders(section: string, stack: Stack, before: number, clicks: number): Promise<void> {
  const added = (await benchOrders(stack)) - before;
  if (added !== clicks) throw new Error(`${section}: ${clicks} clicks but ${added} new orders in the restaurant (orderIds reused?)`);
}

/** Orders the restaurant holds for the bench's thing: every click must have added exactly one. */
export async function benchOrders(stack: Stack): Promise<number> {
  return (await stack.restaurant.orders()).filter((o) => o.thing === BENCH_THING).length;
}

export interface Workspace {
  /** The PKI (os.tmpdir()). */
  dir: string;
  /** The virtual buttons' stores (their "flash") and the restaurant's databases: tmpfs when there is one. */
  stateDir: string;
  dev: DevPki;
  pem: { ca: string; deviceCert: string; deviceKey: string; restaurantCert: string; restaurantKey: string };
  /** Another temp dir to remove with the workspace (e.g. a mosquitto's config dir, if the run is cut short). */
  track(dir: string): void;
  /** A child process to end (SIGTERM by PID) if the run is cut short; untrack it once it was stopped. */
  trackProcess(pid: number): void;
  untrackProcess(pid: number): void;
  /** Removes every dir of the workspace; synchronous, so it also works from an exit handler. */
  close(): void;
}

/**
 * Where state that is fsync'ed on every order lives. On this kind of machine's (shared) disk one fsync costs
 * 1–10 ms and varies wildly with what else runs; on tmpfs ~0.05 ms. Every button store write (two fsyncs;
 * the core makes two per click: one per change of state) and every restaurant commit (synchronous=FULL) pays it. The buttons' flash
 * is not a PC disk, and the restaurant's commit is the same for ours and the baseline; on tmpfs the ratio
 * shows the client stack's cost instead of the disk's noise. `--state-dir` puts it on a disk instead.
 */
export function defaultStateRoot(): string {
  try {
    const shm = "/dev/shm";
    const probe = mkdtempSync(path.join(shm, "pizza-bench-probe-"));
    rmSync(probe, { recursive: true, force: true });
    return shm;
  } catch {
    return os.tmpdir();
  }
}

export async function openWorkspace(options: { stateRoot?: string } = {}): Promise<Workspace> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "pizza-bench-"));
  const stateDir = mkdtempSync(path.join(options.stateRoot ?? defaultStateRoot(), "pizza-bench-state-"));
  const dirs = new Set([dir, stateDir]);
  const pids = new Set<number>();
  const close = () => {
    for (const pid of pids) {
      try {
        process.kill(pid, "SIGTERM");
      } catch {
        // already gone
      }
    }
    pids.clear();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  };
  try {
    const dev = await ensureDevPki(path.join(dir, "pki"), { deviceName: BENCH_THING });
    const read = (file: string) => readFileSync(file, "utf8");
    return {
      dir,
      stateDir,
      dev,
      pem: {
        ca: read(dev.device.caPath),
        deviceCert: read(dev.device.chainPath),
        deviceKey: read(dev.device.keyPath),
        restaurantCert: read(dev.restaurant.chainPath),
        restaurantKey: read(dev.restaurant.keyPath),
      },
      track: (extra) => void dirs.add(extra),
      trackProcess: (pid) => void pids.add(pid),
      untrackProcess: (pid) => void pids.delete(pid),
      close,
    };
  } catch (error) {
    close();
    throw error;
  }
}

export interface Stack {
  host: string;
  port: number;
  url: string;
  broker: RunningBroker;
  restaurant: Restaurant;
  close(): Promise<void>;
}

let stacks = 0;

/** The embedded broker (as `npm run simulate` runs it) and a restaurant (fresh database) connected to it. */
export async function startStack(ws: Workspace): Promise<Stack> {
  const pki = ws.dev.pki;
  const trust = pki.trustMaterial();
  const broker = await startBroker({
    host: "127.0.0.1",
    port: 0,
    key: readFileSync(ws.dev.broker.keyPath, "utf8"),
    cert: readFileSync(ws.dev.broker.certPath, "utf8"),
    ca: trust.ca,
    crl: trust.crl,
    topicPrefix: TOPIC_PREFIX,
    // The registry is asked on every CONNECT, as the product runs it.
    identify: (fingerprint) => pki.certificateBinding(fingerprint),
    // The warm bench clicks back to back on one connection, far faster than a person: with the product's
    // per-connection limit it would measure the limit, not the round trip.
    publishLimit: { burst: 1_000_000, perSecond: 1_000_000, exempt: [] },
  });
  const dbDir = path.join(ws.stateDir, `restaurant-${++stacks}`);
  mkdirSync(dbDir);
  let restaurant: Restaurant;
  try {
    restaurant = await startRestaurant({
      brokerUrl: broker.url,
      ca: ws.pem.ca,
      cert: ws.pem.restaurantCert,
      key: ws.pem.restaurantKey,
      clientId: "restaurant",
      dbPath: path.join(dbDir, "orders.sqlite"),
      topicPrefix: TOPIC_PREFIX,
      reconnectPeriodMs: 0,
    });
  } catch (error) {
    await broker.close();
    throw error;
  }
  return {
    host: broker.host,
    port: broker.port,
    url: broker.url,
    broker,
    restaurant,
    async close() {
      await restaurant.close();
      await broker.close();
    },
  };
}

/**
 * mosquitto (the product's config) with a restaurant on it, for the bench's second broker: `run` gets the
 * broker's address; both are closed after it. Skipped, with the reason, where mosquitto is unavailable.
 */
export async function onMosquittoStack<T>(ws: Workspace, dbName: string, run: (target: { host: string; port: number }) => Promise<T>): Promise<T | { skipped: string }> {
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

/** Mean cost (ms) of one durable write as FileStore does it (write, fsync, rename, fsync dir) in `dir`. */
export function fsyncCostMs(dir: string, rounds = 30): number {
  const probeDir = mkdtempSync(path.join(dir, "pizza-bench-fsync-"));
  try {
    const started = performance.now();
    for (let i = 0; i < rounds; i++) {
      const temp = path.join(probeDir, "probe.tmp");
      const fd = openSync(temp, "w");
      writeSync(fd, "x".repeat(200));
      fsyncSync(fd);
      closeSync(fd);
      renameSync(temp, path.join(probeDir, "probe"));
      const dirFd = openSync(probeDir, "r");
      fsyncSync(dirFd);
      closeSync(dirFd);
    }
    return Math.round(((performance.now() - started) / rounds) * 1000) / 1000;
  } finally {
    rmSync(probeDir, { recursive: true, force: true });
  }
}

/** The bench button's TLS identity, as the virtual device takes it. */
export function benchCredentials(ws: Workspace): { ca: string; cert: string; key: string } {
  return { ca: ws.pem.ca, cert: ws.pem.deviceCert, key: ws.pem.deviceKey };
}

/** The baseline client's target: the same broker, thing, topics and certificate as the bench button. */
export function benchTarget(ws: Workspace, stack: Stack): BaselineTarget {
  return { host: stack.host, port: stack.port, thing: BENCH_THING, topicPrefix: TOPIC_PREFIX, ...benchCredentials(ws) };
}
