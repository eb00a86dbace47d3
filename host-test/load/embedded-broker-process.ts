// The embedded broker in a process of its own, for load tests and benchmarks: a broker sharing the event
// loop with 1,000 clients and the restaurant would be measured against itself, while mosquitto gets its
// own process (and core). Same startBroker() as everywhere, trust and certificate from a PKI dir.
//
//   tsx host-test/load/embedded-broker-process.ts --pki-dir DIR [--port N]
// prints one JSON line {"event":"listening","port":N,"pid":P} on stdout, then runs until SIGTERM/SIGINT
// (or until its parent's stdin closes), printing {"event":"stats",...} on exit.
import { readFileSync } from "node:fs";
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { startBroker } from "../../services/broker/broker";
import { Pki } from "../../tools/pki/pki";

async function main(argv: string[]): Promise<void> {
  const arg = (name: string) => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const pkiDir = arg("--pki-dir");
  if (!pkiDir) throw new Error("usage: embedded-broker-process --pki-dir DIR [--port N]");
  const pki = await Pki.open(pkiDir);
  const files = pki.brokerFiles();
  if (!files) throw new Error(`no broker certificate in ${pkiDir}`);
  const trust = pki.trustMaterial();
  const broker = await startBroker({
    host: "127.0.0.1",
    port: Number(arg("--port") ?? 0),
    key: readFileSync(files.keyPath, "utf8"),
    cert: readFileSync(files.certPath, "utf8"),
    ca: trust.ca,
    crl: trust.crl,
    identify: (fingerprint) => pki.certificateBinding(fingerprint),
    // Every simulated button connects from the loopback address: no per-address bound here.
    maxConnectionsPerAddress: Number.MAX_SAFE_INTEGER,
  });
  process.stdout.write(`${JSON.stringify({ event: "listening", port: broker.port, pid: process.pid })}\n`);
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    const stats = broker.stats;
    await broker.close();
    process.stdout.write(`${JSON.stringify({ event: "stats", ...stats })}\n`);
    process.exit(0);
  };
  process.on("SIGTERM", () => void stop());
  process.on("SIGINT", () => void stop());
  // The parent holds our stdin open; if it dies without signalling us, we go too.
  process.stdin.on("end", () => void stop());
  process.stdin.resume();
}

export interface BrokerProcess {
  readonly host: string;
  readonly port: number;
  readonly url: string;
  readonly pid: number;
  /** SIGTERM by PID; resolves with the broker's final stats once it has exited. */
  stop(): Promise<Record<string, number> | undefined>;
}

/** Starts the embedded broker in a child process (tsx) and waits until it listens. */
export async function startEmbeddedBrokerProcess(options: {
  pkiDir: string;
  port?: number;
  timeoutMs?: number;
  /** Extra node flags for the broker process, e.g. ["--cpu-prof", "--cpu-prof-dir=prof"]. */
  nodeArgs?: string[];
}): Promise<BrokerProcess> {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const root = path.resolve(here, "../..");
  // node --import tsx (not the tsx CLI, which forks a second process): the PID is the broker itself.
  const args = [...(options.nodeArgs ?? []), "--import", "tsx", path.join(here, "embedded-broker-process.ts"), "--pki-dir", options.pkiDir, ...(options.port ? ["--port", String(options.port)] : [])];
  const child: ChildProcess = spawn(process.execPath, args, { cwd: root, stdio: ["pipe", "pipe", "pipe"] });
  const lines: string[] = [];
  let stderr = "";
  child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const listening = await new Promise<{ port: number; pid: number }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`embedded broker process did not start in time: ${stderr}`)), options.timeoutMs ?? 20_000);
    let buffered = "";
    child.stdout!.on("data", (chunk: Buffer) => {
      buffered += chunk.toString();
      let nl: number;
      while ((nl = buffered.indexOf("\n")) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        lines.push(line);
        const event = JSON.parse(line) as { event: string; port: number; pid: number };
        if (event.event === "listening") {
          clearTimeout(timer);
          resolve(event);
        }
      }
    });
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`embedded broker process exited: ${stderr}`));
    });
  });
  const pid = child.pid!;
  return {
    host: "127.0.0.1",
    port: listening.port,
    url: `mqtts://127.0.0.1:${listening.port}`,
    pid,
    async stop() {
      if (child.exitCode === null) process.kill(pid, "SIGTERM");
      const timer = setTimeout(() => child.exitCode === null && process.kill(pid, "SIGKILL"), 5_000);
      await exited;
      clearTimeout(timer);
      const stats = lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((e) => e.event === "stats");
      if (!stats) return undefined;
      const { event: _event, ...rest } = stats;
      return rest as Record<string, number>;
    },
  };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).catch((error: Error) => {
    process.stderr.write(`${error.message}\n`);
    process.exit(1);
  });
}
