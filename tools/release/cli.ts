// `npm run release -- …`: the release key, signed images and the jobs that deliver them (docs/updates.md).
import fs from "node:fs";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE } from "../cli/conventions";
import { Pki } from "../pki/pki";
import { isValidThingName, RESERVED_THING_NAMES } from "../../modules/core/topics";
import { DEFAULT_JOBS_DIR, JobStore } from "./job-store";
import { createReleaseKey, readPrivateKey, readPublicKey } from "./keys";
import { releaseProblem, signRelease, TARGETS, type SignedRelease } from "./sign";


const HELP = `Usage:
  npm run release -- key create --out <file.pem>
  npm run release -- sign <image> --key <release key.pem> --version X.Y.Z --target ${TARGETS.join("|")} [--out <release.json>]
  npm run release -- publish <thing>… | --all  --release <release.json> --image <image>
                   [--public-key <file>] [--job-id <id>] [--jobs-dir <dir>] [--pki-dir <dir>]
  npm run release -- status [<job id>] [--jobs-dir <dir>] [--json]
  npm run release -- cancel <job id> [--jobs-dir <dir>]

key create  A new RSA-2048 release key: <file.pem> (private, 0600; refused inside this repository and never
            overwritten) and <file>.pub.pem / <file>.pub.der (the public half: build it into the firmware as
            release-key.der).
sign        The release (job document without url): target, version, size, SHA-256 and the signature over
            them. Default --out: <image>.release.json.
publish     Checks the release against the image (and --public-key, if given) and creates a job: one QUEUED
            execution per thing (--all: every ACTIVE device of the PKI in --pki-dir, default certs). The jobs
            service (npm run jobs) notifies the things and serves the image. --jobs-dir default ${DEFAULT_JOBS_DIR}.
status      Every execution (of one job), with its status and status details.
cancel      Cancels the job's executions that have not ended.
Exit status: 0 done, 1 failed, 2 usage error.
`;

export interface CliIo {
  out(line: string): void;
  err(line: string): void;
}

class UsageError extends Error {}

export async function releaseCli(argv: string[], io: CliIo = { out: (l) => console.log(l), err: (l) => console.error(l) }): Promise<number> {
  if (argv.includes("--help") || argv.includes("-h")) {
    io.out(HELP);
    return EXIT_OK;
  }
  try {
    const [command, ...rest] = argv;
    if (command === "key" && rest[0] === "create") return keyCreate(rest.slice(1), io);
    if (command === "sign") return sign(rest, io);
    if (command === "publish") return await publish(rest, io);
    if (command === "status") return status(rest, io);
    if (command === "cancel") return cancel(rest, io);
    throw new UsageError(command === undefined ? "no command" : `unknown command ${JSON.stringify([command, rest[0]].filter(Boolean).join(" "))}`);
  } catch (error) {
    if (error instanceof UsageError || (error as { code?: string }).code?.startsWith("ERR_PARSE_ARGS")) {
      io.err(`release: ${(error as Error).message}\n(npm run release -- --help)`);
      return EXIT_USAGE;
    }
    io.err(`release: ${(error as Error).message}`);
    return EXIT_FAILURE;
  }
}

function need(value: string | undefined, flag: string): string {
  if (value === undefined || value === "") throw new UsageError(`${flag} is required`);
  return value;
}

function keyCreate(args: string[], io: CliIo): number {
  const { values, positionals } = parseArgs({ args, options: { out: { type: "string" } }, strict: true, allowPositionals: true });
  if (positionals.length) throw new UsageError(`unexpected ${positionals.join(" ")}`);
  const files = createReleaseKey(need(values.out, "--out"));
  io.out(`release key: ${files.privateKeyPath} (private: keep it offline, never commit it)`);
  io.out(`public key:  ${files.publicPemPath}, ${files.publicDerPath} (build it into the firmware as release-key.der)`);
  return EXIT_OK;
}

function sign(args: string[], io: CliIo): number {
  const { values, positionals } = parseArgs({
    args,
    options: { key: { type: "string" }, version: { type: "string" }, target: { type: "string" }, out: { type: "string" } },
    strict: true,
    allowPositionals: true,
  });
  if (positionals.length !== 1) throw new UsageError("sign takes one image file");
  const imagePath = positionals[0]!;
  const version = need(values.version, "--version");
  const target = need(values.target, "--target");
  if (!(TARGETS as readonly string[]).includes(target)) throw new UsageError(`--target must be one of ${TARGETS.join(", ")}`);
  const key = readPrivateKey(need(values.key, "--key"));
  const release = signRelease({ image: fs.readFileSync(imagePath), version, target, key });
  const out = values.out ?? `${imagePath}.release.json`;
  fs.writeFileSync(out, `${JSON.stringify(release, null, 2)}\n`);
  io.out(`signed ${imagePath}: ${target} ${version}, ${release.size} bytes, sha256 ${release.sha256}`);
  io.out(`release: ${out}`);
  return EXIT_OK;
}

async function publish(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: {
      all: { type: "boolean" },
      release: { type: "string" },
      image: { type: "string" },
      "public-key": { type: "string" },
      "job-id": { type: "string" },
      "jobs-dir": { type: "string" },
      "pki-dir": { type: "string" },
    },
    strict: true,
    allowPositionals: true,
  });
  if (values.all && positionals.length) throw new UsageError("name things or give --all, not both");
  if (!values.all && positionals.length === 0) throw new UsageError("name the things to update, or --all");
  for (const thing of positionals) {
    if (!isValidThingName(thing) || RESERVED_THING_NAMES.includes(thing)) throw new UsageError(`${JSON.stringify(thing)} is not a button's thing name`);
  }
  const releaseFile = need(values.release, "--release");
  const image = fs.readFileSync(need(values.image, "--image"));
  const release = JSON.parse(fs.readFileSync(releaseFile, "utf8")) as SignedRelease;
  const publicKey = values["public-key"] ? readPublicKey(values["public-key"]) : undefined;
  const problem = releaseProblem(release, { image, ...(publicKey ? { publicKey } : {}) });
  if (problem) throw new Error(`${releaseFile}: ${problem}`);
  let things = positionals;
  if (values.all) {
    const pki = await Pki.open(values["pki-dir"] ?? "certs");
    things = pki.listThings().filter((t) => t.kind !== "service" && t.state === "ACTIVE").map((t) => t.name);
    if (things.length === 0) throw new Error(`no ACTIVE device in ${pki.dir}`);
  }
  const jobId = values["job-id"] ?? `fw-${release.target}-${release.version.replace(/\./g, "_")}-${Date.now().toString(36)}`;
  const store = JobStore.open(values["jobs-dir"] ?? DEFAULT_JOBS_DIR);
  try {
    store.createJob({ jobId, release, image, things });
  } finally {
    store.close();
  }
  io.out(`job ${jobId}: ${release.target} ${release.version} for ${things.length} thing${things.length === 1 ? "" : "s"} (${things.join(", ")})`);
  return EXIT_OK;
}

function status(args: string[], io: CliIo): number {
  const { values, positionals } = parseArgs({ args, options: { "jobs-dir": { type: "string" }, json: { type: "boolean" } }, strict: true, allowPositionals: true });
  if (positionals.length > 1) throw new UsageError("status takes at most one job id");
  const store = JobStore.open(values["jobs-dir"] ?? DEFAULT_JOBS_DIR);
  try {
    const rows = store.executions(positionals[0]);
    if (values.json) {
      io.out(JSON.stringify(rows.map(({ release, ...row }) => ({ ...row, version: release.version, target: release.target }))));
      return EXIT_OK;
    }
    if (rows.length === 0) io.out("no job executions");
    for (const r of rows) {
      const details = r.statusDetails ? ` ${Object.entries(r.statusDetails).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(" ")}` : "";
      io.out(`${r.jobId}  ${r.thing}  ${r.release.version}  ${r.status}${details}`);
    }
    return EXIT_OK;
  } finally {
    store.close();
  }
}

function cancel(args: string[], io: CliIo): number {
  const { values, positionals } = parseArgs({ args, options: { "jobs-dir": { type: "string" } }, strict: true, allowPositionals: true });
  if (positionals.length !== 1) throw new UsageError("cancel takes one job id");
  const store = JobStore.open(values["jobs-dir"] ?? DEFAULT_JOBS_DIR);
  try {
    io.out(`job ${positionals[0]}: ${store.cancel(positionals[0]!)} execution(s) canceled`);
    return EXIT_OK;
  } finally {
    store.close();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await releaseCli(process.argv.slice(2));
}
