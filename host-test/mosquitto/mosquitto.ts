// A real mosquitto (2.0.x) for tests: writes a config and an ACL from the PKI's files, starts the binary as
// a child process on a free loopback port, waits until it listens, and stops it by its PID.
//
// The config mirrors the embedded broker's rules as far as mosquitto can (docs/ARCHITECTURE.md, "Identity and topics"):
//   listener <port> 127.0.0.1        loopback only
//   require_certificate true         mutual TLS: no client certificate, no connection
//   use_identity_as_username true    the certificate CN is the username the ACL sees (%u)
//   use_username_as_clientid true    ...and the client id: mosquitto cannot REFUSE client id ≠ CN (that
//                                    needs a plugin), so it replaces the client id with the CN. A device
//                                    can then never take over another device's session by naming its id.
//   tls_version tlsv1.2              in mosquitto 2.x this is the MINIMUM (1.6 and older: the only version);
//                                    TLS 1.3 clients still get 1.3, TLS 1.0/1.1 are refused
//   crlfile                          revoked certificates are refused in the handshake
//   set_tcp_nodelay true             Nagle off (docs/ARCHITECTURE.md, "Latency")
//   allow_anonymous false, acl_file  devices: write <p>/orders/%u, read <p>/acks/%u;
//                                    restaurant: read <p>/orders/+, write <p>/acks/+
//   max_packet_size                  the embedded broker's 64 KiB limit: bigger packets disconnect
//
// What mosquitto 2.0.11 does differently from the embedded broker (which disconnects on every violation),
// checked by host-test/test/security: a denied PUBLISH is dropped silently (a QoS 1 publish is still
// PUBACKed: MQTT 3.1.1 has no negative PUBACK), and a SUBSCRIBE is GRANTED whatever the filter (the ACL
// file is consulted per delivery, not per subscription), so a device cannot tell it was refused. Either
// way nothing reaches a client the ACL does not allow to read it.
// A refused client certificate gets a TLS alert naming the reason (unknown ca, certificate expired,
// certificate revoked, bad certificate, handshake failure, protocol version); node:tls sends none.
//
// The log goes to stderr (unbuffered; stdout to a pipe is block-buffered by libc and lines would arrive
// late). mosquitto blocks on a full pipe, so load runs use `quiet` (no per-connection lines).
//
// Running as root, mosquitto switches to the `mosquitto` user before it reads certificates and the ACL;
// the PKI's directories are 0700, so the files it needs are copied into a directory of its own.
import { spawn, type ChildProcess } from "node:child_process";
import { accessSync, chmodSync, chownSync, constants, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { BUTTON_SETTINGS, pickSettings, validateSettings } from "../../modules/core/settings";
import { acksTopic, allAcksFilter, allOrdersFilter, isValidThingName, ordersTopic, RESTAURANT_NAME } from "../../modules/core/topics";
import { Pki } from "../../tools/pki/pki";

export const DEFAULT_MAX_PACKET_BYTES = 64 * 1024;

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

/** PEM files the listener uses. */
export interface MosquittoTlsFiles {
  /** Every CA trusted for client certificates (the PKI's ca/trust.pem). */
  cafile: string;
  /** Broker certificate and key. */
  certfile: string;
  keyfile: string;
  /** Every CRL (the PKI's crl.pem). Strongly recommended: without it revocation is not enforced. */
  crlfile?: string;
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
  /** `mqtts://127.0.0.1:<port>` */
  readonly url: string;
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
  /** Stops the process (SIGTERM, then SIGKILL) and waits for it to exit. Files are kept for restart. */
  stop(): Promise<void>;
  /** Starts it again on the same port with the same config (after stop()). */
  start(): Promise<void>;
  /** stop() then start(). */
  restart(): Promise<void>;
  /** stop() and remove the directory. */
  close(): Promise<void>;
}

/** The ACL file: devices use their own topics, the restaurant reads all orders and writes all acks. */
export function mosquittoAcl(options: { topicPrefix?: string; restaurantName?: string } = {}): string {
  // The button's topicPrefix setting, read and checked by the same schema as everywhere else.
  const read = validateSettings({ settings: pickSettings(BUTTON_SETTINGS, ["topicPrefix"]), rules: [] }, { topicPrefix: options.topicPrefix });
  if (!read.ok) throw new Error(`mosquitto: invalid ${read.errors.join("; ")}`);
  const prefix = read.values.topicPrefix as string;
  const restaurant = options.restaurantName ?? RESTAURANT_NAME;
  if (!isValidThingName(restaurant)) throw new Error(`mosquitto: invalid restaurantName ${JSON.stringify(restaurant)}`);
  return [
    "# Written by host-test/mosquitto. %u is the username = the client certificate's CN (use_identity_as_username).",
    "# pattern lines apply to every client, the restaurant included.",
    `pattern write ${ordersTopic(prefix, "%u")}`,
    `pattern read ${acksTopic(prefix, "%u")}`,
    "",
    `user ${restaurant}`,
    `topic read ${allOrdersFilter(prefix)}`,
    `topic write ${allAcksFilter(prefix)}`,
    "",
  ].join("\n");
}

/** The mosquitto.conf text for one TLS listener on 127.0.0.1. Paths must be absolute. */
export function mosquittoConfig(options: {
  port: number;
  files: Required<Pick<MosquittoTlsFiles, "cafile" | "certfile" | "keyfile">> & { crlfile?: string };
  aclPath: string;
  maxPacketBytes?: number;
  verbose?: boolean;
  quiet?: boolean;
  extraConfig?: string[];
}): string {
  const { files } = options;
  const maxPacket = options.maxPacketBytes ?? DEFAULT_MAX_PACKET_BYTES;
  if (!Number.isInteger(options.port) || options.port <= 0 || options.port > 65535) throw new Error(`mosquitto: bad port ${options.port}`);
  if (!Number.isInteger(maxPacket) || maxPacket < 20) throw new Error("mosquitto: maxPacketBytes must be an integer ≥ 20");
  const lines = [
    "# Written by host-test/mosquitto for one test broker. Loopback only, mutual TLS, per-thing ACL.",
    "per_listener_settings false",
    "persistence false",
    "log_dest stderr", // unbuffered: stdout to a pipe is block-buffered by libc
    ...(options.verbose
      ? ["log_type all"]
      : options.quiet
        ? ["log_type error", "log_type warning", "log_type notice", "log_type information"]
        : ["log_type error", "log_type warning", "log_type notice", "log_type information", "log_type subscribe"]),
    "log_timestamp true",
    "log_timestamp_format %H:%M:%S",
    `connection_messages ${options.quiet ? "false" : "true"}`,
    "set_tcp_nodelay true",
    `max_packet_size ${maxPacket}`,
    "allow_anonymous false",
    `acl_file ${options.aclPath}`,
    "",
    `listener ${options.port} 127.0.0.1`,
    "protocol mqtt",
    "tls_version tlsv1.2",
    `cafile ${files.cafile}`,
    `certfile ${files.certfile}`,
    `keyfile ${files.keyfile}`,
    ...(files.crlfile ? [`crlfile ${files.crlfile}`] : []),
    "require_certificate true",
    "use_identity_as_username true",
    "use_username_as_clientid true",
    ...(options.extraConfig ?? []),
    "",
  ];
  return lines.join("\n");
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

async function resolveFiles(options: MosquittoOptions): Promise<MosquittoTlsFiles> {
  if (options.tls) return options.tls;
  if (!options.pkiDir) throw new Error("startMosquitto: give pkiDir or tls files");
  const pki = await Pki.open(options.pkiDir);
  const broker = pki.brokerFiles();
  if (!broker) throw new Error(`startMosquitto: no broker certificate in ${options.pkiDir} (pki broker cert)`);
  const trust = pki.trustMaterial();
  if (trust.missingCrl.length > 0) {
    // OpenSSL's leaf CRL check would refuse their certificates anyway; say why up front.
    throw new Error(`startMosquitto: trusted CAs without a CRL: ${trust.missingCrl.join("; ")}`);
  }
  return { cafile: trust.caFile, certfile: broker.certPath, keyfile: broker.keyPath, crlfile: trust.crlFile };
}

/** uid/gid of the user mosquitto switches to when started as root, from /etc/passwd. */
function mosquittoUser(): { uid: number; gid: number } | undefined {
  if (typeof process.getuid !== "function" || process.getuid() !== 0) return undefined;
  let passwd = "";
  try {
    passwd = readFileSync("/etc/passwd", "utf8");
  } catch {
    return undefined;
  }
  // mosquitto falls back to "nobody" when there is no mosquitto user.
  for (const name of ["mosquitto", "nobody"]) {
    const line = passwd.split("\n").find((l) => l.startsWith(`${name}:`));
    const fields = line?.split(":");
    if (fields && fields.length > 3) return { uid: Number(fields[2]), gid: Number(fields[3]) };
  }
  return undefined;
}

const running = new Set<ChildProcess>();
let exitHookInstalled = false;

/** A test that dies must not leave brokers behind: kill our own children (by PID) on exit. */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once("exit", () => {
    for (const child of running) {
      if (child.pid !== undefined && child.exitCode === null) {
        try {
          process.kill(child.pid, "SIGKILL");
        } catch {
          // already gone
        }
      }
    }
  });
}

export async function startMosquitto(options: MosquittoOptions = {}): Promise<RunningMosquitto> {
  const binary = options.binary ?? findMosquitto();
  if (!binary) throw new Error(mosquittoUnavailableReason());
  const source = await resolveFiles(options);
  const startTimeoutMs = options.startTimeoutMs ?? 10_000;

  const dir = mkdtempSync(path.join(tmpdir(), "mosquitto-"));
  const owner = mosquittoUser();
  /** Writes a file mosquitto may read (owned by its user when we are root); mode survives the umask. */
  const put = (file: string, data: string | Buffer, mode: number): string => {
    writeFileSync(file, data, { mode });
    chmodSync(file, mode);
    if (owner) chownSync(file, owner.uid, owner.gid);
    return file;
  };
  const copy = (from: string, name: string, mode: number): string => put(path.join(dir, name), readFileSync(from), mode);
  // Private: the key copy is 0600 and owned by the user mosquitto runs as; the directory is 0700.
  const files = {
    cafile: copy(source.cafile, "ca.pem", 0o644),
    certfile: copy(source.certfile, "broker.cert.pem", 0o644),
    keyfile: copy(source.keyfile, "broker.key.pem", 0o600),
    ...(source.crlfile ? { crlfile: copy(source.crlfile, "crl.pem", 0o644) } : {}),
  };
  const aclPath = path.join(dir, "acl");
  put(aclPath, mosquittoAcl(options), 0o644);
  if (owner) chownSync(dir, owner.uid, owner.gid);
  const configPath = path.join(dir, "mosquitto.conf");

  const logs: string[] = [];
  const waiters: Array<{ pattern: RegExp; from: number; resolve: (line: string) => void }> = [];
  const onLine = (line: string) => {
    logs.push(line);
    options.onLog?.(line);
    for (let i = waiters.length - 1; i >= 0; i--) {
      const w = waiters[i]!;
      if (logs.length - 1 >= w.from && w.pattern.test(line)) {
        waiters.splice(i, 1);
        w.resolve(line);
      }
    }
  };

  let port = options.port && options.port > 0 ? options.port : 0;
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();

  /** mosquitto logs "mosquitto version X running" once its listeners are open. */
  const waitRunning = (from: number, procExited: Promise<void>, timeoutMs: number): Promise<"listening" | "exited" | "timeout"> =>
    new Promise((resolve) => {
      const timer = setTimeout(() => done("timeout"), timeoutMs);
      const waiter = { pattern: /mosquitto version \S+ running/, from, resolve: () => done("listening") };
      function done(result: "listening" | "exited" | "timeout") {
        clearTimeout(timer);
        const i = waiters.indexOf(waiter);
        if (i >= 0) waiters.splice(i, 1);
        resolve(result);
      }
      if (logs.slice(from).some((line) => waiter.pattern.test(line))) return done("listening");
      waiters.push(waiter);
      // Lines still in the pipe when it exits arrive before "exit"; give them a tick.
      void procExited.then(() => setImmediate(() => done("exited")));
    });

  const launch = async (): Promise<void> => {
    const fixedPort = port > 0;
    for (let attempt = 1; ; attempt++) {
      const tryPort = fixedPort ? port : await freePort();
      put(
        configPath,
        mosquittoConfig({
          port: tryPort,
          files,
          aclPath,
          ...(options.maxPacketBytes !== undefined ? { maxPacketBytes: options.maxPacketBytes } : {}),
          ...(options.verbose ? { verbose: true } : {}),
          ...(options.quiet ? { quiet: true } : {}),
          ...(options.extraConfig ? { extraConfig: options.extraConfig } : {}),
        }),
        0o644,
      );
      const from = logs.length;
      // Through sh only to raise the open-files limit to the hard limit (1,000 clients need more than a
      // 1,024 default); `exec` keeps the PID, so the PID we stop is mosquitto's.
      const proc = spawn("/bin/sh", ["-c", 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$0" "$@"', binary, "-c", configPath], {
        stdio: ["ignore", "pipe", "pipe"],
      });
      running.add(proc);
      installExitHook();
      const procExited = new Promise<void>((resolve) => proc.once("exit", () => resolve()));
      void procExited.then(() => running.delete(proc));
      for (const stream of [proc.stdout!, proc.stderr!]) {
        let buffered = "";
        stream.setEncoding("utf8");
        stream.on("data", (chunk: string) => {
          buffered += chunk;
          let nl: number;
          while ((nl = buffered.indexOf("\n")) >= 0) {
            onLine(buffered.slice(0, nl));
            buffered = buffered.slice(nl + 1);
          }
        });
      }
      const ready = await waitRunning(from, procExited, startTimeoutMs);
      if (ready === "listening") {
        port = tryPort;
        child = proc;
        exited = procExited;
        return;
      }
      if (proc.exitCode === null && proc.pid !== undefined) {
        process.kill(proc.pid, "SIGKILL");
        await procExited;
      }
      const output = logs.slice(from).join("\n");
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
  };

  const stop = async (): Promise<void> => {
    const proc = child;
    child = undefined;
    if (!proc || proc.pid === undefined || proc.exitCode !== null) return;
    const pid = proc.pid;
    process.kill(pid, "SIGTERM");
    const killTimer = setTimeout(() => {
      if (proc.exitCode === null) process.kill(pid, "SIGKILL");
    }, 3_000);
    await exited;
    clearTimeout(killTimer);
  };

  try {
    await launch();
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }

  const host = "127.0.0.1";
  return {
    host,
    get port() {
      return port;
    },
    get url() {
      return `mqtts://${host}:${port}`;
    },
    get pid() {
      return child?.pid;
    },
    dir,
    configPath,
    aclPath,
    logs,
    mark: () => logs.length,
    waitForLog(pattern, from = 0, timeoutMs = 5_000) {
      const seen = logs.slice(from).find((line) => pattern.test(line));
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const waiter = { pattern, from, resolve: (line: string) => (clearTimeout(timer), resolve(line)) };
        const timer = setTimeout(() => {
          const i = waiters.indexOf(waiter);
          if (i >= 0) waiters.splice(i, 1);
          reject(new Error(`mosquitto log: no line matching ${pattern} within ${timeoutMs} ms`));
        }, timeoutMs);
        waiters.push(waiter);
      });
    },
    stop,
    start: async () => {
      if (child) return;
      await launch();
    },
    restart: async () => {
      await stop();
      await launch();
    },
    close: async () => {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

