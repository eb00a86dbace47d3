// A throwaway PostgreSQL cluster for tests: Debian's server binaries (postgresql package), a fresh data
// directory in a temp dir, listening on a free loopback port, started and stopped with pg_ctl. PostgreSQL
// refuses to run as root, so as root the cluster belongs to an unprivileged user (postgres, else nobody)
// and every command runs through runuser. Without the binaries, `findPostgres` says why and tests skip.
import { execFile } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import pg from "pg";

const run = promisify(execFile);

/** The server's bin directory (PG_BIN, else the newest /usr/lib/postgresql/<n>/bin), or why there is none. */
export function findPostgres(): { bin: string } | { missing: string } {
  const candidates = process.env.PG_BIN
    ? [process.env.PG_BIN]
    : fs.existsSync("/usr/lib/postgresql")
      ? fs
          .readdirSync("/usr/lib/postgresql")
          .sort((a, b) => Number(b) - Number(a))
          .map((version) => path.join("/usr/lib/postgresql", version, "bin"))
      : [];
  const bin = candidates.find((dir) => fs.existsSync(path.join(dir, "pg_ctl")) && fs.existsSync(path.join(dir, "initdb")));
  return bin ? { bin } : { missing: "PostgreSQL server binaries not found (apt-get install postgresql, or set PG_BIN)" };
}

export interface TestPostgres {
  readonly port: number;
  /** A new empty database; its postgres:// URL. */
  createDatabase(name: string): Promise<string>;
  stop(): Promise<void>;
}

/** The unprivileged user that owns the cluster when the tests run as root. */
function clusterUser(): string | undefined {
  if (process.getuid?.() !== 0) return undefined;
  for (const name of ["postgres", "nobody"]) {
    try {
      const line = fs.readFileSync("/etc/passwd", "utf8").split("\n").find((l) => l.startsWith(`${name}:`));
      if (line) return name;
    } catch {
      break;
    }
  }
  throw new Error("running as root and no unprivileged user (postgres, nobody) to own the test cluster");
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export async function startPostgres(bin: string): Promise<TestPostgres> {
  const user = clusterUser();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pizza-pg-"));
  fs.chmodSync(dir, 0o755);
  const data = path.join(dir, "data");
  const socketDir = path.join(dir, "socket");
  fs.mkdirSync(socketDir);
  if (user) {
    const { stdout } = await run("id", ["-u", user]);
    const { stdout: gid } = await run("id", ["-g", user]);
    fs.chownSync(dir, Number(stdout), Number(gid));
    fs.chownSync(socketDir, Number(stdout), Number(gid));
  }
  const as = (command: string, args: string[]) => (user ? run("runuser", ["-u", user, "--", path.join(bin, command), ...args]) : run(path.join(bin, command), args));
  await as("initdb", ["-D", data, "-U", "pizza", "--auth=trust", "-E", "UTF8", "--no-sync"]);
  const port = await freePort();
  const serverOptions = `-p ${port} -k ${socketDir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200`;
  await as("pg_ctl", ["-D", data, "-l", path.join(dir, "server.log"), "-w", "-t", "30", "-o", serverOptions, "start"]);
  const admin = `postgres://pizza@127.0.0.1:${port}/postgres`;
  return {
    port,
    async createDatabase(name) {
      const client = new pg.Client({ connectionString: admin });
      await client.connect();
      try {
        await client.query(`CREATE DATABASE ${name}`);
      } finally {
        await client.end();
      }
      return `postgres://pizza@127.0.0.1:${port}/${name}`;
    },
    async stop() {
      await as("pg_ctl", ["-D", data, "-m", "immediate", "-w", "stop"]).catch(() => undefined);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
