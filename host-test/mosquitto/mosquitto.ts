// A real mosquitto (2.0.x) for tests: writes a config and an ACL from the PKI's files (config.ts, staged
// in a directory of its own by staging.ts), starts the binary as a child process on a free loopback port,
// waits until it listens, and stops it by its PID (process.ts).
//
// What mosquitto 2.0.11 does differently from the embedded broker (which disconnects on every violation),
// checked by host-test/test/security: a denied PUBLISH is dropped silently (a QoS 1 publish is still
// PUBACKed: MQTT 3.1.1 has no negative PUBACK), and a SUBSCRIBE is GRANTED whatever the filter (the ACL
// file is consulted per delivery, not per subscription), so a device cannot tell it was refused. Either
// way nothing reaches a client the ACL does not allow to read it.
// A refused client certificate gets a TLS alert naming the reason (unknown ca, certificate expired,
// certificate revoked, bad certificate, handshake failure, protocol version); node:tls sends none.
import net from "node:net";
import path from "node:path";
import fs, { accessSync, constants } from "node:fs";
import { DEFAULT_MAX_PACKET_BYTES, mosquittoAcl, mosquittoConfig, type MosquittoTlsFiles } from "./config";
import { killMosquitto, LogLines, spawnMosquitto, stopMosquitto, waitListening, type MosquittoProcess } from "./process";
import { registrySnapshot, resolveTlsFiles, stageFiles, type StagedFiles } from "./staging";
import { PKI_CHANGE_FILES } from "../../tools/pki/store";

export { DEFAULT_MAX_PACKET_BYTES, mosquittoAcl, mosquittoConfig, type MosquittoTlsFiles } from "./config";

/** Where Debian and most distributions put the binary; /usr/sbin is not on a non-root PATH. */
const CANDIDATES = ["/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto", "/usr/bin/mosquitto", "/usr/local/bin/mosquitto", "/opt/homebrew/sbin/mosquitto"];

/** The mosquitto binary: $MOSQUITTO_BIN, then PATH, then the usual sbin directories. undefined if absent. */
export function findMosquitto(): string | undefined {
  const fromEnv = process.env.MOSQUITTO_BIN;
  const dirs = (process.env.PATH ?? "").split(path.delimiter).filter(Boolean);
  const candidates = [...(fromEnv ? [fromEnv] : []), ...dirs.map((d) => path.join(d, "mosquitto")), ...CANDIDATES];
  for (const candidate of candidates) {
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // next
    }
  }
  return undefined;
}

/** Why mosquitto tests cannot run here, or undefined when they can. */
export function mosquittoUnavailableReason(): string | undefined {
  return findMosquitto()
    ? undefined
    : "mosquitto binary not found (looked at $MOSQUITTO_BIN, PATH, /usr/sbin): `apt-get install mosquitto` (.ci/run does)";
}

export interface MosquittoOptions {
  /** A PKI directory (tools/pki): trust.pem, crl.pem and the broker certificate are taken from it. */
  pkiDir?: string;
  /** Or the files themselves (wins over pkiDir). */
  tls?: MosquittoTlsFiles;
  /** 0 or undefined: a free port. */
  port?: number;
  topicPrefix?: string;
  /** CN (= username) of the restaurant service. */
  restaurantName?: string;
  maxPacketBytes?: number;
  /** Open connections at most (mosquitto `max_connections`; it has no per-address limit). */
  maxConnections?: number;
  /**
   * With pkiDir: follow the PKI as the embedded broker does, reloading (regenerated ACL and CRLs, SIGHUP)
   * when its registry or CRLs change. Default true.
   */
  followPki?: boolean;
  /** Log every packet (log_type all): needed to see "Denied PUBLISH" lines; noisy under load. */
  verbose?: boolean;
  /**
   * Errors, warnings and notices only, no per-connection lines: for load runs. mosquitto writes its log
   * with blocking writes to our pipe; a parent busy with 1,000 clients would otherwise stall the broker.
   */
  quiet?: boolean;
  /** Extra config lines appended verbatim (tests of mosquitto itself). */
  extraConfig?: string[];
  binary?: string;
  /** Every log line as it arrives (mosquitto writes its log to stderr). */
  onLog?: (line: string) => void;
  startTimeoutMs?: number;
}

export interface RunningMosquitto {
  readonly host: string;
  readonly port: number;
  /** `mqtts://127.0.0.1:<port>`: certificates of the PKI's own CA (all of them when it has no registered CA). */
  readonly url: string;
  /**
   * With a PKI that has registered (bring-your-own) CAs: the listener their certificates use (it trusts
   * only them, and its ACL names only things recorded through them). undefined otherwise.
   */
  readonly registeredCaUrl: string | undefined;
  /** PID of the running process (changes on restart); undefined while stopped. */
  readonly pid: number | undefined;
  /** The directory holding the config, the ACL and the copied certificate files. */
  readonly dir: string;
  readonly configPath: string;
  readonly aclPath: string;
  /** Every log line since the first start (kept across restarts). */
  readonly logs: readonly string[];
  /** The current length of `logs`; pass it to waitForLog to ignore older lines. */
  mark(): number;
  /** Resolves with the first line (from index `from`) matching; rejects after timeoutMs. */
  waitForLog(pattern: RegExp, from?: number, timeoutMs?: number): Promise<string>;
  /**
   * Writes the ACL again from the PKI registry, copies the current CA bundle and CRLs, and sends SIGHUP
   * (done by itself on every registry or CRL change unless followPki is false).
   * mosquitto then applies the new ACL to every message of every open connection (a thing revoked or
   * deactivated loses its rights at once, but its connection stays open: mosquitto has no way to end it).
   */
  reload(): Promise<void>;
  /** Stops the process (SIGTERM, then SIGKILL) and waits for it to exit. Files are kept for restart. */
  stop(): Promise<void>;
  /** Starts it again on the same port with the same config (after stop()). */
  start(): Promise<void>;
  /** stop() then start(). */
  restart(): Promise<void>;
  /** stop() and remove the directory. */
  close(): Promise<void>;
}

/** A port nobody listens on right now (it may be taken before mosquitto binds it: start() retries). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export async function startMosquitto(options: MosquittoOptions = {}): Promise<RunningMosquitto> {
  const binary = options.binary ?? findMosquitto();
  if (!binary) throw new Error(mosquittoUnavailableReason());
  const source = await resolveTlsFiles(options);
  const startTimeoutMs = options.startTimeoutMs ?? 10_000;
  const staged = stageFiles(source, mosquittoAcl(options));
  const { files, aclPath, configPath } = staged;
  const registeredAclPath = path.join(staged.dir, "acl-registered");
  const ownCaPath = path.join(staged.dir, "ca-own.pem");
  const registeredCaPath = path.join(staged.dir, "ca-registered.pem");

  const writeRegistryFiles = () => writePkiFiles(options, staged, { aclPath, registeredAclPath, ownCaPath, registeredCaPath });
  const split = await writeRegistryFiles();
  let registeredPort = 0;
  const log = new LogLines(options.onLog);

  let port = options.port && options.port > 0 ? options.port : 0;
  let current: MosquittoProcess | undefined;

  const registeredCa = (listenPort: number) => (split ? { port: listenPort, cafile: registeredCaPath, aclPath: registeredAclPath } : undefined);
  const writeConfig = (listenPort: number, registeredListenPort: number) =>
    staged.put(configPath, configText(options, { port: listenPort, files: split ? { ...files, cafile: ownCaPath } : files, aclPath, registeredCa: registeredCa(registeredListenPort) }), 0o644);

  const launch = async (): Promise<void> => {
    const started = await launchListening({ binary, configPath, log, startTimeoutMs, port, registeredPort: split ? registeredPort : undefined, writeConfig });
    port = started.port;
    registeredPort = started.registeredPort;
    current = started.process;
  };

  const stop = async (): Promise<void> => {
    const started = current;
    current = undefined;
    if (started) await stopMosquitto(started);
  };

  try {
    await launch();
  } catch (error) {
    staged.remove();
    throw error;
  }

  // Follow the PKI (watchPki): `thing revoke`/`deactivate` commit to the registry store, `ca import-crl`
  // rewrites crl.pem; mosquitto reloads them with SIGHUP.
  const watcher =
    options.pkiDir && !options.tls && options.followPki !== false
      ? watchPki(options.pkiDir, log, () => {
          if (current) running.reload().catch((error: Error) => log.push(`[launcher] reload after a PKI change failed: ${error.message}`));
        })
      : undefined;

  const host = "127.0.0.1";
  const running: RunningMosquitto = {
    host,
    get port() {
      return port;
    },
    get url() {
      return `mqtts://${host}:${port}`;
    },
    get registeredCaUrl() {
      return split ? `mqtts://${host}:${registeredPort}` : undefined;
    },
    get pid() {
      return current?.proc.pid;
    },
    dir: staged.dir,
    configPath,
    aclPath,
    logs: log.lines,
    mark: () => log.lines.length,
    async waitForLog(pattern, from = 0, timeoutMs = 5_000) {
      const line = await log.waitFor(pattern, from, timeoutMs);
      if (line === undefined) throw new Error(`mosquitto log: no line matching ${pattern} within ${timeoutMs} ms`);
      return line;
    },
    async reload() {
      if (!current?.proc.pid) throw new Error("mosquitto is not running");
      staged.refresh(await resolveTlsFiles(options));
      if ((await writeRegistryFiles()) !== split) throw new Error("the PKI's registered CAs changed: restart mosquitto (its listeners change)");
      await reloadConfig(current.proc.pid, log);
    },
    stop,
    start: async () => {
      if (current) return;
      await launch();
    },
    restart: async () => {
      await stop();
      await launch();
    },
    close: async () => {
      watcher?.close();
      await stop();
      staged.remove();
    },
  };
  return running;
}

/** mosquitto.conf for these options: the listener(s), the TLS files, the ACL and the bounds. */
function configText(
  options: MosquittoOptions,
  listener: Omit<Parameters<typeof mosquittoConfig>[0], "registeredCa"> & { registeredCa: Parameters<typeof mosquittoConfig>[0]["registeredCa"] },
): string {
  return mosquittoConfig({
    port: listener.port,
    files: listener.files,
    aclPath: listener.aclPath,
    ...(listener.registeredCa ? { registeredCa: listener.registeredCa } : {}),
    ...(options.maxPacketBytes !== undefined ? { maxPacketBytes: options.maxPacketBytes } : {}),
    ...(options.maxConnections !== undefined ? { maxConnections: options.maxConnections } : {}),
    ...(options.verbose ? { verbose: true } : {}),
    ...(options.quiet ? { quiet: true } : {}),
    ...(options.extraConfig ? { extraConfig: options.extraConfig } : {}),
  });
}

/**
 * With a PKI: the ACLs from its registry (ACTIVE things only) and, when it has registered CAs, a second
 * listener for their certificates (see RegisteredCaListener). Bare TLS files: pattern rules. Returns
 * whether the registered-CA listener is needed.
 */
async function writePkiFiles(
  options: MosquittoOptions,
  staged: StagedFiles,
  paths: { aclPath: string; registeredAclPath: string; ownCaPath: string; registeredCaPath: string },
): Promise<boolean> {
  if (!options.pkiDir || options.tls) return false;
  const snapshot = await registrySnapshot(options.pkiDir);
  const split = snapshot.registeredCas !== "";
  const own = snapshot.things.filter((t) => !split || t.issuer !== "registered");
  staged.put(paths.aclPath, mosquittoAcl({ ...options, things: own }), 0o644);
  if (split) {
    const theirs = snapshot.things.filter((t) => t.issuer === "registered" && t.kind !== "service");
    staged.put(paths.registeredAclPath, mosquittoAcl({ ...options, things: theirs }), 0o644);
    staged.put(paths.ownCaPath, snapshot.ownCas, 0o644);
    staged.put(paths.registeredCaPath, snapshot.registeredCas, 0o644);
  }
  return split;
}

/** SIGHUP: mosquitto reads its config, ACLs, CA and CRL files again; resolves once it says so. */
async function reloadConfig(pid: number, log: LogLines): Promise<void> {
  const from = log.lines.length;
  process.kill(pid, "SIGHUP");
  const line = await log.waitFor(/Reloading config/, from, 5_000);
  if (line === undefined) throw new Error("mosquitto did not log a config reload after SIGHUP");
}

/**
 * Starts mosquitto and waits until it listens: on `port` (0: a free one, picked again if another process
 * takes it first) and, when `registeredPort` is given, a second listener (0: a free one).
 */
async function launchListening(opts: {
  binary: string;
  configPath: string;
  log: LogLines;
  startTimeoutMs: number;
  port: number;
  registeredPort: number | undefined;
  writeConfig(port: number, registeredPort: number): void;
}): Promise<{ process: MosquittoProcess; port: number; registeredPort: number }> {
  const { log } = opts;
  const fixedPort = opts.port > 0;
  for (let attempt = 1; ; attempt++) {
    const tryPort = fixedPort ? opts.port : await freePort();
    const tryRegisteredPort = opts.registeredPort === undefined ? 0 : opts.registeredPort > 0 ? opts.registeredPort : await freePort();
    opts.writeConfig(tryPort, tryRegisteredPort);
    const from = log.lines.length;
    const started = spawnMosquitto(opts.binary, opts.configPath, log);
    const ready = await waitListening(started, log, from, opts.startTimeoutMs);
    if (ready === "listening") return { process: started, port: tryPort, registeredPort: tryRegisteredPort };
    await killMosquitto(started);
    const output = log.lines.slice(from).join("\n");
    const inUse = /Address already in use/i.test(output);
    // Another process took the free port between our probe and mosquitto's bind: pick another one.
    if (inUse && !fixedPort && attempt < 5) continue;
    if (inUse && fixedPort && attempt < 50) {
      // Restart on the same port: the old socket may linger briefly.
      await new Promise((resolve) => setTimeout(resolve, 100));
      continue;
    }
    throw new Error(`mosquitto did not start (${ready}):\n${output}`);
  }
}

/**
 * Follows the PKI: `thing revoke`/`deactivate`, `ca import-crl` rewrite registry.json or crl.pem (temp file +
 * rename, so the directory is watched, not the files); debounced like the embedded broker's.
 */
function watchPki(pkiDir: string, log: LogLines, onChange: () => void): { close(): void } {
  let timer: NodeJS.Timeout | undefined;
  const watcher = fs.watch(pkiDir, { persistent: false }, (_type, filename) => {
    const name = filename?.toString();
    if (name !== undefined && !PKI_CHANGE_FILES.has(name)) return;
    clearTimeout(timer);
    timer = setTimeout(onChange, 150);
  });
  watcher.on("error", (error) => log.push(`[launcher] PKI watch failed: ${error.message}`));
  return {
    close() {
      watcher.close();
      clearTimeout(timer);
    },
  };
}
