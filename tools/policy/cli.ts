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
} from "./evaluate";
import { POLICY_STORE_USAGE, indent, policyStoreCommand } from "./store-cli";

const HELP = `Usage:
  npm run policy -- explain --policy <file> [--policy <file2> …] --client-id <id>
                   [--thing <name>] [--attached true|false] [--cn <common name>]
                   [--thing-type <type>] [--cert-id <sha256 hex>]
                   --action <iot:Connect|iot:Publish|iot:Subscribe|iot:Receive|…>
                   [--resource <client id | topic | topic filter | full ARN>]
                   [--region <region>] [--account <account id>] [--json]
  npm run policy -- check <file> [<file> …]
  npm run policy -- attach|detach|list … [--pki <dir>]     (the same as npm run pki -- policy …)

explain  Decides one request the way AWS IoT Core does for a certificate with these policies
         attached, and prints allow/deny, the deciding statement and every statement's outcome.
         --thing          the registry thing named like the client id and attached to the certificate;
                          without it (or with --attached false) \${iot:Connection.Thing.ThingName}
                          does not resolve and \${iot:Connection.Thing.IsAttached} is "false".
         --resource       the MQTT name: client id for iot:Connect (default: --client-id), topic for
                          iot:Publish/iot:Receive, topic filter for iot:Subscribe (+ and # are plain
                          characters in policies); or a full ARN.
         --region/--account  the endpoint's region and account (default "*": any the policy names).
         Exit status: 0 allowed, 1 denied, 2 usage error or invalid policy.
check    Parses policy files strictly and prints warnings. Exit status: 0 valid, 2 invalid.
attach, detach, list: the policy store of a PKI dir (--pki, default "certs"):
${indent(POLICY_STORE_USAGE, "  ")}
`;

export interface CliIo {
  out: (line: string) => void;
  err: (line: string) => void;
}

const defaultIo: CliIo = { out: (l) => console.log(l), err: (l) => console.error(l) };

class UsageError extends Error {}

function loadPolicy(file: string): NamedPolicy {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new UsageError(`cannot read policy file ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
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
  if (args.length === 0) throw new UsageError("give at least one policy file");
  let failed = false;
  for (const file of args) {
    try {
      const { policy } = loadPolicy(file);
      io.out(`ok   ${file} (${policy.statements.length} statement${policy.statements.length === 1 ? "" : "s"})`);
      for (const w of policy.warnings) io.out(`  warning: ${w}`);
    } catch (e) {
      if (!(e instanceof PolicyParseError || e instanceof UsageError)) throw e;
      failed = true;
      io.err(`FAIL ${e.message}`);
    }
  }
  return failed ? 2 : 0;
}

/** Runs the CLI; returns the exit status. */
export function runCli(argv: string[], io: CliIo = defaultIo): number {
  const [command, ...rest] = argv;
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
      const at = rest.indexOf("--pki");
      let pkiDir = "certs";
      if (at >= 0) {
        const dir = rest[at + 1];
        if (!dir) throw new UsageError("--pki needs a directory");
        pkiDir = dir;
        rest.splice(at, 2);
      }
      return policyStoreCommand([command, ...rest], { pkiDir, io });
    }
    throw new UsageError(`unknown command "${command}"`);
  } catch (e) {
    if (e instanceof PolicyParseError) {
      io.err(`error: ${e.message}`);
      return 2;
    }
    if (e instanceof UsageError || (e as { code?: string }).code?.startsWith("ERR_PARSE_ARGS")) {
      io.err(`error: ${(e as Error).message}\n(run with --help for usage)`);
      return 2;
    }
    throw e;
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  process.exitCode = runCli(process.argv.slice(2));
}
