// `npm run policy -- …`: explain AWS IoT policy decisions locally and check policy files.
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import {
  type ConnectionContext,
  type NamedPolicy,
  PolicyParseError,
  evaluate,
  parsePolicy,
  resourceArn,
} from "../policy/evaluate";
import { isKnownAction, MQTT_ACTIONS } from "../policy/parse";
import { POLICY_STORE_USAGE, indent, policyStoreCommand } from "./policy-store-cli";
import { EXIT_FAILURE, EXIT_USAGE, renameDeprecatedFlags, UsageError } from "../cli/conventions";

const HELP = `Usage:
  npm run policy -- explain --policy <file> [--policy <file2> …] --client-id <id>
                   [--thing <name>] [--attached true|false] [--cn <common name>]
                   [--thing-type <type>] [--cert-id <sha256 hex>]
                   --action <iot:Connect|iot:Publish|iot:Subscribe|iot:Receive|…>
                   [--resource <client id | topic | topic filter | full ARN>]
                   [--region <region>] [--account <account id>] [--json]
  npm run policy -- check <file> [<file> …] [--strict] [--json]
  npm run policy -- attach|detach|list … [--pki-dir <dir>]   (the same as npm run pki -- policy …)

explain  Decides one request the way AWS IoT Core does for a certificate with these policies
         attached, and prints allow/deny, the deciding statement and every statement's outcome.
         --thing          the registry thing named like the client id and attached to the certificate;
                          without it (or with --attached false) \${iot:Connection.Thing.ThingName}
                          does not resolve and \${iot:Connection.Thing.IsAttached} is "false".
         --resource       the MQTT name: client id for iot:Connect (default: --client-id), topic for
                          iot:Publish/iot:Receive, topic filter for iot:Subscribe (+ and # are plain
                          characters in policies); or a full ARN.
         --region/--account  the endpoint's region and account (default "*": any the policy names).
         --json           the decision, the context and every statement's outcome as JSON.
         Exit status: 0 allowed, 1 denied or a policy file unreadable or invalid, 2 usage error.
check    Parses policy files strictly and prints warnings. --strict: a warning fails the check too.
         --json: one object per file ({file, ok, statements, warnings, error}) in a JSON array.
         Exit status: 0 valid, 1 invalid (or, with --strict, warnings), 2 usage error.
attach, detach, list: the policy store of a PKI dir (--pki-dir, default "certs"; --pki is a deprecated
alias):
${indent(POLICY_STORE_USAGE, "  ")}
`;

export interface CliIo {
  out: (line: string) => void;
  err: (line: string) => void;
}

const defaultIo: CliIo = { out: (l) => console.log(l), err: (l) => console.error(l) };


/** A policy file that cannot be read: a failure (exit 1), not a usage error. */
class PolicyFileError extends Error {}

function loadPolicy(file: string): NamedPolicy {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new PolicyFileError(`cannot read policy file ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  return { name: file, policy: parsePolicy(text, file) };
}

function bool(flag: string, value: string | undefined, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (value === "true") return true;
  if (value === "false") return false;
  throw new UsageError(`--${flag} must be true or false, got "${value}"`);
}

function explain(args: string[], io: CliIo): number {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      policy: { type: "string", multiple: true },
      "client-id": { type: "string" },
      thing: { type: "string" },
      attached: { type: "string" },
      cn: { type: "string" },
      "thing-type": { type: "string" },
      "cert-id": { type: "string" },
      action: { type: "string" },
      resource: { type: "string" },
      region: { type: "string", default: "*" },
      account: { type: "string", default: "*" },
      json: { type: "boolean", default: false },
    },
  });
  if (positionals.length) throw new UsageError(`unexpected argument "${positionals[0]}"`);
  const files = values.policy ?? [];
  if (files.length === 0) throw new UsageError("give at least one --policy <file>");
  const clientId = values["client-id"];
  if (!clientId) throw new UsageError("--client-id is required");
  const action = values.action;
  if (!action) throw new UsageError("--action is required (e.g. iot:Publish)");
  if (!isKnownAction(action)) {
    throw new UsageError(`unknown action "${action}": AWS IoT's MQTT actions are ${MQTT_ACTIONS.join(", ")} (other iot: actions need --resource as a full ARN)`);
  }
  const resource = values.resource ?? (action.toLowerCase() === "iot:connect" ? clientId : undefined);
  if (resource === undefined) throw new UsageError(`--resource is required for ${action}`);
  const attached = bool("attached", values.attached, values.thing !== undefined);
  if (attached && values.thing === undefined) throw new UsageError("--attached true needs --thing <name>");

  const ctx: ConnectionContext = { clientId };
  if (attached) {
    ctx.thing = { name: values.thing! };
    if (values["thing-type"] !== undefined) ctx.thing.typeName = values["thing-type"];
  }
  if (values.cn !== undefined) ctx.commonName = values.cn;
  if (values["cert-id"] !== undefined) ctx.certificateId = values["cert-id"].toLowerCase();
  const config = { region: values.region!, account: values.account! };

  const policies = files.map(loadPolicy);
  let arn: string;
  try {
    arn = resourceArn(action, resource, config);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const decision = evaluate(policies, { action, resource }, ctx, config, { trace: true });
  const warnings = policies.flatMap((p) => p.policy.warnings);

  if (values.json) {
    io.out(JSON.stringify({ ...decision, request: { action, resource: arn }, context: ctx, warnings }, null, 2));
    return decision.allow ? 0 : 1;
  }
  io.out(`${decision.allow ? "ALLOW" : "DENY"}  ${action} on ${arn}`);
  const d = decision.decidingStatement;
  io.out(
    `  deciding statement: ${
      d ? `${d.policy} Statement[${d.index}]${d.sid !== undefined ? ` (Sid "${d.sid}")` : ""}` : "none (implicit deny: nothing allows it)"
    }`,
  );
  io.out(`  reason: ${decision.reason}`);
  io.out(
    `  context: clientId=${clientId}, thing=${ctx.thing ? `${ctx.thing.name} (attached)` : "none (IsAttached=false)"}, cn=${
      ctx.commonName ?? "none"
    }${ctx.thing?.typeName ? `, thingType=${ctx.thing.typeName}` : ""}${ctx.certificateId ? `, certificateId=${ctx.certificateId}` : ""}, region=${config.region}, account=${config.account}`,
  );
  if (ctx.thing && ctx.thing.name !== clientId) {
    io.out(`  note: AWS IoT takes the thing from the client id; a thing named "${ctx.thing.name}" is used only if the client id is the same`);
  }
  io.out("  statements:");
  for (const t of decision.trace ?? []) {
    const mark = t.applies ? (t.effect === "Deny" ? "DENIES " : "ALLOWS ") : "skipped";
    io.out(`    ${mark} ${t.policy} Statement[${t.index}]${t.sid !== undefined ? ` (Sid "${t.sid}")` : ""} ${t.effect}: ${t.why}`);
  }
  for (const w of warnings) io.out(`  warning: ${w}`);
  return decision.allow ? 0 : 1;
}

function check(args: string[], io: CliIo): number {
  const { values, positionals: files } = parseArgs({
    args,
    allowPositionals: true,
    options: { strict: { type: "boolean", default: false }, json: { type: "boolean", default: false } },
  });
  if (files.length === 0) throw new UsageError("give at least one policy file");
  const results: Array<{ file: string; ok: boolean; statements?: number; warnings: string[]; error?: string }> = [];
  for (const file of files) {
    try {
      const { policy } = loadPolicy(file);
      const ok = !(values.strict && policy.warnings.length > 0);
      results.push({ file, ok, statements: policy.statements.length, warnings: policy.warnings });
    } catch (e) {
      if (!(e instanceof PolicyParseError || e instanceof PolicyFileError)) throw e;
      results.push({ file, ok: false, warnings: [], error: e.message });
    }
  }
  if (values.json) io.out(JSON.stringify(results, null, 2));
  else {
    for (const r of results) {
      if (r.error !== undefined) {
        io.err(`FAIL ${r.error}`);
        continue;
      }
      const n = `${r.statements} statement${r.statements === 1 ? "" : "s"}`;
      io.out(`${r.ok ? "ok  " : "FAIL"} ${r.file} (${n}${r.ok ? "" : `; --strict: ${r.warnings.length} warning${r.warnings.length === 1 ? "" : "s"}`})`);
      for (const w of r.warnings) io.out(`  warning: ${w}`);
    }
  }
  return results.every((r) => r.ok) ? 0 : EXIT_FAILURE;
}

/** Runs the CLI; returns the exit status (later for the store commands, which wait for the registry). */
export function runCli(argv: string[], io: CliIo = defaultIo): number | Promise<number> {
  const [command, ...rest] = renameDeprecatedFlags(argv, { "--pki": "--pki-dir" }, io.err);
  try {
    if (command === undefined || command === "--help" || command === "-h" || command === "help") {
      io.out(HELP);
      return command === undefined ? 2 : 0;
    }
    if (rest.includes("--help") || rest.includes("-h")) {
      io.out(HELP);
      return 0;
    }
    if (command === "explain") return explain(rest, io);
    if (command === "check") return check(rest, io);
    if (command === "attach" || command === "detach" || command === "list") {
      let pkiDir = "certs";
      const inline = rest.findIndex((a) => a.startsWith("--pki-dir="));
      if (inline >= 0) pkiDir = rest.splice(inline, 1)[0]!.slice("--pki-dir=".length);
      const at = rest.indexOf("--pki-dir");
      if (at >= 0) {
        const dir = rest[at + 1];
        if (!dir || dir.startsWith("--")) throw new UsageError("--pki-dir needs a directory");
        pkiDir = dir;
        rest.splice(at, 2);
      }
      return policyStoreCommand([command, ...rest], { pkiDir, io });
    }
    throw new UsageError(`unknown command "${command}"`);
  } catch (e) {
    if (e instanceof PolicyParseError || e instanceof PolicyFileError) {
      io.err(`error: ${e.message}`);
      return EXIT_FAILURE;
    }
    if (e instanceof UsageError || (e as { code?: string }).code?.startsWith("ERR_PARSE_ARGS")) {
      io.err(`error: ${(e as Error).message}\n(run with --help for usage)`);
      return EXIT_USAGE;
    }
    throw e;
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  process.exitCode = await runCli(process.argv.slice(2));
}
