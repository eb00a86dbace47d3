// `npm run pki -- [--pki-dir <pkiDir>] <command> …`: the PKI as a tool a user runs.
// Every failure is one line on stderr: exit 1, or 2 for a usage error (tools/cli/conventions.ts); private
// keys are written to files, never printed.
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { parseArgs, type ParseArgsConfig } from "node:util";
import { fileURLToPath } from "node:url";
import { EXIT_FAILURE, EXIT_USAGE, renameDeprecatedFlags } from "../cli/conventions";
import { PkiError, UsageError, fail, usageFail } from "./errors";
import { readUserText, writePublic } from "./files";
import { createCsr, Pki, type ThingState } from "./pki";
import { parseCertificate, type KeyType } from "./crypto";
import type { VerifyResult } from "./verify";
import { policyStoreCommand } from "./policy-store-cli";
import { setupDevice, shortPath } from "./device-setup";
import { auditPki, auditTable, DEFAULT_AUDIT_WINDOWS } from "./audit";
import { renewBrokerCert } from "./renew";
import { exportEsp32Command } from "./esp-secure-cert";

export interface CliIo {
  out(line: string): void;
  err(line: string): void;
}

type Options = NonNullable<ParseArgsConfig["options"]>;
type Values = Record<string, string | boolean | string[] | undefined>;

interface Ctx {
  dir: string;
  args: string[];
  values: Values;
  io: CliIo;
  /** Open the PKI dir, which must exist already. */
  open(): Promise<Pki>;
}

interface Command {
  usage: string;
  summary: string;
  details?: string;
  options?: Options;
  optionHelp?: string[];
  args: [min: number, max: number];
  run(ctx: Ctx): Promise<number | void>;
}

const EC_DEVICE_KEY_WARNING =
  "EC device key: the firmware (the Moddable SDK's TLS) can't use it and `export moddable` will refuse it; " +
  "it works with the host harness only. For a real button: thing create <name> --key-type rsa";

const KEY_TYPE_HELP = "--key-type rsa|ec   key type (default rsa: RSA-2048; the Moddable TLS stack needs RSA device keys)";

function keyType(v: unknown): KeyType {
  if (v === undefined) return "rsa";
  if (v !== "rsa" && v !== "ec") usageFail(`--key-type must be rsa or ec, not "${String(v)}"`);
  return v;
}

function days(v: unknown): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 36500) usageFail(`--days must be a whole number of days between 1 and 36500, not "${String(v)}"`);
  return n;
}

function wholeNumber(v: unknown, flag: string): number {
  if (typeof v !== "string" || !/^[0-9]{1,9}$/.test(v)) usageFail(`${flag} must be a whole number, not "${String(v)}"`);
  return Number(v);
}

function required(values: Values, name: string): string {
  const v = values[name];
  if (typeof v !== "string" || v === "") usageFail(`missing --${name}`);
  return v;
}

function setState(state: ThingState, verb: string): Command {
  return {
    usage: `thing ${verb} <name>`,
    summary: {
      INACTIVE: "deactivate a thing: the broker refuses it at CONNECT until activated again",
      ACTIVE: "activate a deactivated thing",
      REVOKED: "revoke a thing's certificates (final): adds them to the issuing CA's CRL",
    }[state],
    args: [1, 1],
    async run({ args, io, open }) {
      const pki = await open();
      await pki.setThingState(args[0]!, state);
      io.out(`thing ${args[0]}: ${state}`);
      if (state === "REVOKED") {
        const issuedBy = pki.listThings().find((t) => t.name === args[0])?.issuedBy;
        if (issuedBy === "byo-ca" || issuedBy === "aws-import") {
          // We hold no key of their CA, so the certificate goes on no CRL: the registry is the deny list.
          io.out(`not on any CRL: ${issuedBy === "aws-import" ? "AWS IoT" : "its registered CA"} signs that CA's CRL, not this PKI`);
          io.out("the registry is the deny list: the embedded broker refuses it at once and closes its open connections;");
          io.out("mosquitto (host-test/mosquitto) drops it from the generated ACL on its next reload: it may connect but neither publish nor receive");
        } else {
          io.out(`CRLs updated: ${pki.trustMaterial().crlFile}`);
          io.out("a running broker refuses it at once from the registry and closes its open connections; the CRL refuses it in the TLS handshake");
        }
      }
    },
  };
}

function printVerify(io: CliIo, file: string, r: VerifyResult): void {
  io.out(`certificate: ${file}`);
  r.chain.forEach((c, i) => {
    const role = c.trust ? ` [${c.trust} CA]` : c.isCa ? " [CA]" : "";
    io.out(`${"  ".repeat(i)}${i === 0 ? "" : "└ "}${c.subject}${role}`);
    io.out(`${"  ".repeat(i)}    issuer:      ${c.issuer}`);
    io.out(`${"  ".repeat(i)}    valid:       ${c.notBefore} → ${c.notAfter}`);
    io.out(`${"  ".repeat(i)}    key:         ${c.key}`);
    if (c.extendedKeyUsage) io.out(`${"  ".repeat(i)}    key usage:   ${c.extendedKeyUsage.join(", ")}`);
    if (c.subjectAltNames) io.out(`${"  ".repeat(i)}    alt names:   ${c.subjectAltNames.join(", ")}`);
    io.out(`${"  ".repeat(i)}    serial:      ${c.serial}`);
    io.out(`${"  ".repeat(i)}    SHA-256:     ${c.fingerprint256}`);
  });
  io.out(r.ok ? "result: OK" : `result: FAILED (${r.message})`);
}

/** `policy attach|detach|list`: the AWS IoT policy store under <dir>/policies (tools/pki/policy-store.ts). */
function policyCommand(sub: string, usage: string, summary: string, args: [number, number], options: Options = {}, optionHelp: string[] = []): Command {
  return {
    usage,
    summary,
    options,
    optionHelp,
    args,
    run: async ({ dir, args: a, values, io }) =>
      policyStoreCommand([sub, ...a, ...(typeof values.name === "string" ? ["--name", values.name] : [])], { pkiDir: dir, io }),
  };
}

const commands: Record<string, Command> = {
  "ca init": {
    usage: "ca init [--intermediate] [--key-type rsa|ec] [--days N]",
    summary: "create the root CA (and an intermediate that issues device certificates) with empty CRLs",
    options: { intermediate: { type: "boolean" }, "key-type": { type: "string" }, days: { type: "string" } },
    optionHelp: ["--intermediate      also create an intermediate CA; devices are then issued by it", "--key-type rsa|ec   CA key type (default rsa)", "--days N            root validity (default 3650)"],
    args: [0, 0],
    async run({ values, io, dir }) {
      const pki = await Pki.open(dir);
      const d = days(values.days);
      await pki.initCa({ intermediate: values.intermediate === true, keyType: keyType(values["key-type"]), ...(d ? { validDays: d } : {}) });
      const tm = pki.trustMaterial();
      io.out(`CA created in ${pki.dir}`);
      io.out(`root CA:      ${resolve(pki.dir, "ca/root.cert.pem")}`);
      if (values.intermediate) io.out(`intermediate: ${resolve(pki.dir, "ca/intermediate.cert.pem")}`);
      io.out(`trust bundle: ${tm.caFile}`);
      io.out(`CRL bundle:   ${tm.crlFile}`);
    },
  },
  "ca sign": {
    usage: "ca sign <csr.pem> [--out <cert.pem>] [--days N]",
    summary: "issue a device certificate from a CSR alone (option 2); the CN is the thing name",
    details: "Only the CSR's public key and CN are used; the extensions are this PKI's device profile.",
    options: { out: { type: "string" }, days: { type: "string" } },
    optionHelp: ["--out <file>   also write the certificate there", "--days N       validity (default 730)"],
    args: [1, 1],
    async run({ args, values, io, open }) {
      const pki = await open();
      const csrPem = readUserText(args[0]!, "CSR file");
      const d = days(values.days);
      const signed = await pki.signCsr(csrPem, { source: args[0]!, ...(d ? { validDays: d } : {}) });
      if (typeof values.out === "string") writePublic(resolve(values.out), signed.certPem);
      io.out(`issued ${signed.name}`);
      io.out(`certificate: ${typeof values.out === "string" ? resolve(values.out) : signed.certPath}`);
      io.out(`chain:       ${signed.chainPath}`);
      io.out(`broker CA:   ${signed.caPath}`);
    },
  },
  "ca register": {
    usage: "ca register <ca-cert.pem> [--crl <crl.pem>] [--names <pattern>]",
    summary: "trust another CA (option 3, bring your own CA): certificates it issues are accepted",
    details:
      "The file may hold the CA and its parents up to a self-signed root. node:tls checks a CRL for every CA\n" +
      "in a chain, so the embedded broker accepts this CA's certificates only once its CRL is registered\n" +
      "(--crl here, or later with \"ca import-crl\"). A certificate of this CA is accepted only once it is\n" +
      "recorded for its thing (\"thing register\"); --names limits which thing names it may be recorded for.",
    options: { crl: { type: "string" }, names: { type: "string" } },
    optionHelp: ["--crl <file>       the CA's current CRL (PEM)", "--names <pattern>  thing names this CA may issue for, with * and ? (e.g. 'acme-*')"],
    args: [1, 1],
    async run({ args, values, io, open }) {
      const pki = await open();
      const pem = readUserText(args[0]!, "CA certificate file");
      const crlPem = typeof values.crl === "string" ? readUserText(values.crl, "CRL file") : undefined;
      const names = typeof values.names === "string" ? values.names : undefined;
      const added = await pki.registerCa(pem, { source: args[0]!, ...(crlPem !== undefined ? { crlPem } : {}), ...(names !== undefined ? { names } : {}) });
      for (const ca of added) io.out(`registered ${ca.subject} (SHA-256 ${ca.fingerprint256})${ca.hasCrl ? " with its CRL" : ""}`);
      for (const ca of added.filter((a) => !a.hasCrl)) {
        io.err(`warning: no CRL for ${ca.subject}: the embedded broker refuses its certificates until "ca import-crl <crl.pem>"`);
      }
    },
  },
  "ca import-crl": {
    usage: "ca import-crl <crl.pem>",
    summary: "add or replace the CRL of a registered CA (its owner signs it; we cannot)",
    args: [1, 1],
    async run({ args, io, open }) {
      const pki = await open();
      for (const subject of await pki.importCrl(readUserText(args[0]!, "CRL file"))) io.out(`CRL updated for ${subject}`);
    },
  },
  "service create": {
    usage: "service create <name> [--instance N] [--key-type rsa|ec] [--days N]",
    summary: "issue a reserved service identity (restaurant): the only way to get its certificate and rights",
    details:
      "Service names are reserved: thing create, ca sign, thing csr, thing register and import aws refuse them.\n" +
      "The broker grants the service's rights only to the certificate recorded here (by fingerprint).\n" +
      "--instance N: one of several restaurant instances, with its own certificate and identity restaurant.N\n" +
      "(its CN and MQTT client id), the restaurant's rights and nothing more; revoke it alone with\n" +
      "\"thing revoke restaurant.N\".",
    options: { "key-type": { type: "string" }, days: { type: "string" }, instance: { type: "string" } },
    optionHelp: [KEY_TYPE_HELP, "--days N            validity (default 730)", "--instance N        instance N (1-999) of the restaurant: identity restaurant.N"],
    args: [1, 1],
    async run({ args, values, io, open }) {
      const pki = await open();
      const d = days(values.days);
      const instance = values.instance === undefined ? undefined : wholeNumber(values.instance, "--instance");
      const files = await pki.createService(args[0]!, { keyType: keyType(values["key-type"]), ...(d ? { validDays: d } : {}), ...(instance !== undefined ? { instance } : {}) });
      io.out(`created service ${files.name}`);
      io.out(`certificate: ${files.certPath}`);
      io.out(`private key: ${files.keyPath} (mode 0600)`);
      io.out(`chain:       ${files.chainPath}`);
      io.out(`broker CA:   ${files.caPath}`);
    },
  },
  "thing create": {
    usage: "thing create <name> [--key-type rsa|ec] [--days N] [--json]",
    summary: "option 1, one click: generate a key pair and a certificate (CN = name) signed by the issuing CA",
    options: { "key-type": { type: "string" }, days: { type: "string" }, json: { type: "boolean" } },
    optionHelp: [KEY_TYPE_HELP, "--days N            validity (default 730)", "--json              the created files as JSON"],
    args: [1, 1],
    async run({ args, values, io, open }) {
      const pki = await open();
      const d = days(values.days);
      const type = keyType(values["key-type"]);
      const files = await pki.createThing(args[0]!, { keyType: type, ...(d ? { validDays: d } : {}) });
      // Said at creation, not first at `export moddable`: the identity is made for a button that can't use it.
      const warnings = type === "ec" ? [EC_DEVICE_KEY_WARNING] : [];
      for (const w of warnings) io.err(`warning: ${w}`);
      if (values.json) {
        const { name, certPath, keyPath, chainPath, caPath } = files;
        io.out(JSON.stringify({ name, keyType: type, certPath, keyPath, chainPath, caPath, warnings }, null, 2));
        return;
      }
      io.out(`created ${files.name}`);
      io.out(`certificate: ${files.certPath}`);
      io.out(`private key: ${files.keyPath} (mode 0600)`);
      io.out(`chain:       ${files.chainPath}`);
      io.out(`broker CA:   ${files.caPath}`);
    },
  },
  "thing csr": {
    usage: "thing csr <name> --out <dir> [--key-type rsa|ec]",
    summary: "option 2, device side: generate a key and a CSR in <dir>; the key never goes to the CA",
    details: "Needs no PKI dir. Send <dir>/<name>.csr.pem to the CA operator (\"ca sign\"); keep <dir>/<name>.key.pem.",
    options: { out: { type: "string" }, "key-type": { type: "string" } },
    optionHelp: ["--out <dir>         where to write <name>.key.pem (0600) and <name>.csr.pem", KEY_TYPE_HELP],
    args: [1, 1],
    async run({ args, values, io }) {
      const out = required(values, "out");
      const r = await createCsr(args[0]!, { outDir: out, keyType: keyType(values["key-type"]) });
      io.out(`private key: ${r.keyPath} (mode 0600; stays here)`);
      io.out(`CSR:         ${r.csrPath} (send this to the CA: pki ca sign ${r.csrPath})`);
    },
  },
  "thing register": {
    usage: "thing register <name> --cert <cert.pem>",
    summary: "record a certificate issued by a registered CA (option 3) so the thing has a registry state",
    options: { cert: { type: "string" } },
    optionHelp: ["--cert <file>   the device certificate (CN must equal <name>)"],
    args: [1, 1],
    async run({ args, values, io, open }) {
      const pki = await open();
      const file = required(values, "cert");
      await pki.registerThingCertificate(args[0]!, readUserText(file, "certificate file"), file);
      io.out(`registered ${args[0]} (ACTIVE, issued by a registered CA)`);
    },
  },
  "thing setup": {
    usage: "thing setup <name> --out <dir> [--mqtt-host <address>] [--key <private-key.pem>] [--json]",
    summary: "one step for a real button: create (or reuse) the identity, attach the device policy, export for Moddable",
    details:
      "Creates an RSA identity if <name> has none, attaches services/policies/device.json if it has no policy,\n" +
      "writes device.der, private-key.der (0600) and ca.der to <dir>, and prints the mcconfig line to flash it.",
    options: { out: { type: "string" }, "mqtt-host": { type: "string" }, key: { type: "string" }, json: { type: "boolean" } },
    optionHelp: [
      "--out <dir>            where the firmware's three files go (the firmware's default: certs/device)",
      "--mqtt-host <address>  the broker's address, for the printed mcconfig line",
      "--key <file>           the private key, for a thing issued from a CSR",
      "--json                 what was done, as JSON",
    ],
    args: [1, 1],
    async run({ args, values, io, open }) {
      const out = required(values, "out");
      const setup = await setupDevice({
        pki: await open(),
        name: args[0]!,
        outDir: out,
        ...(typeof values.key === "string" ? { keyPath: values.key } : {}),
        ...(typeof values["mqtt-host"] === "string" ? { mqttHost: values["mqtt-host"] } : {}),
      });
      if (values.json) {
        io.out(JSON.stringify(setup, null, 2));
        return;
      }
      io.out(`${setup.created ? "created" : "reusing"} ${setup.name} (${shortPath(setup.thing.certPath)})`);
      io.out(`policies:  ${setup.policies.join(", ")}${setup.policyAttached ? " (attached now)" : ""}`);
      io.out(`firmware:  ${shortPath(setup.exported.certPath)}, ${shortPath(setup.exported.keyPath)} (0600, never commit it), ${shortPath(setup.exported.caPath)}`);
      io.out("flash it:");
      io.out(`  ${setup.mcconfig}`);
    },
  },
  "thing list": {
    usage: "thing list [--json]",
    summary: "list things with state, how the certificate was obtained, key and expiry",
    options: { json: { type: "boolean" } },
    args: [0, 0],
    async run({ values, io, open }) {
      const things = (await open()).listThings();
      // (no `return io.out(…)`: what a run returns is the exit status)
      if (values.json) return void io.out(JSON.stringify(things, null, 2));
      if (things.length === 0) return void io.out("no things");
      const rows = things.map((t) => [t.name, t.state, t.kind === "service" ? `service (${t.issuedBy ?? ""})` : (t.issuedBy ?? ""), t.keyType ?? "", (t.notAfter ?? "").slice(0, 10), t.serial ?? ""]);
      const head = ["NAME", "STATE", "ISSUED-BY", "KEY", "NOT-AFTER", "SERIAL"];
      const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
      for (const r of [head, ...rows]) io.out(r.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd());
    },
  },
  "thing deactivate": setState("INACTIVE", "deactivate"),
  "thing activate": setState("ACTIVE", "activate"),
  "thing revoke": setState("REVOKED", "revoke"),
  "thing lifetime": {
    usage: "thing lifetime <name> <days | held>",
    summary: "how long the thing's renewed certificates last (default \"held\": as long as the one it renews)",
    args: [2, 2],
    async run({ args, io, open }) {
      const [name, value] = args as [string, string];
      if (value !== "held" && !/^\d+$/.test(value)) usageFail(`lifetime must be a number of days or "held", not "${value}"`);
      const pki = await open();
      await pki.setRenewalLifetime(name, value === "held" ? undefined : Number(value));
      io.out(`thing ${name}: renewed certificates last ${value === "held" ? "as long as the one they renew" : `${value} days`}`);
    },
  },
  crl: {
    usage: "crl",
    summary: "re-sign the CRL of every CA this PKI owns and print the CRL paths (bundle: mosquitto crlfile)",
    args: [0, 0],
    async run({ io, open }) {
      const pki = await open();
      const bundle = await pki.writeCrls();
      io.out(bundle);
    },
  },
  audit: {
    usage: "audit [--window-days N] [--json]",
    summary: "list certificates (things, broker, CAs) and CRLs by time left; flag those inside the window",
    details:
      "Exit code 1 when one has already expired (for a cron job), 0 otherwise, flagged or not.\n" +
      `Default windows: ${DEFAULT_AUDIT_WINDOWS.thing} days for devices and CAs, ${DEFAULT_AUDIT_WINDOWS.broker} for the broker, ${DEFAULT_AUDIT_WINDOWS.crl} for CRLs (nextUpdate).`,
    options: { "window-days": { type: "string" }, json: { type: "boolean" } },
    optionHelp: ["--window-days N   one window for everything, in days", "--json            one JSON document: { entries, expiring, expired }"],
    args: [0, 0],
    async run({ values, io, open }) {
      const pki = await open();
      let windows = {};
      if (values["window-days"] !== undefined) {
        const w = Number(values["window-days"]);
        if (!Number.isInteger(w) || w < 0 || w > 36500) fail(`--window-days must be a whole number of days between 0 and 36500, not "${String(values["window-days"])}"`);
        windows = { thing: w, broker: w, ca: w, crl: w };
      }
      const entries = auditPki(pki.dir, { windows });
      const expired = entries.filter((e) => e.status === "expired").length;
      const expiring = entries.filter((e) => e.status === "expiring").length;
      if (values.json) io.out(JSON.stringify({ entries, expiring, expired }, null, 2));
      else {
        for (const line of auditTable(entries)) io.out(line);
        io.out(`${entries.length} checked: ${expired} expired, ${expiring} inside their window`);
      }
      return expired > 0 ? 1 : 0;
    },
  },
  verify: {
    usage: "verify <cert.pem> [--purpose client|server|any] [--json]",
    summary: "check a certificate against this PKI: chain to the root, validity, key usage, key, revocation",
    details: "Exit code 1 when it fails, with the reason: expired, not-yet-valid, unknown-issuer, revoked,\ninactive, wrong-key-usage, weak-key, bad-signature.",
    options: { purpose: { type: "string" }, json: { type: "boolean" } },
    optionHelp: ["--purpose client|server|any   required extended key usage (default any)", "--json                        machine-readable result"],
    args: [1, 1],
    async run({ args, values, io, open }) {
      const purpose = values.purpose ?? "any";
      if (purpose !== "client" && purpose !== "server" && purpose !== "any") usageFail(`--purpose must be client, server or any, not "${String(purpose)}"`);
      const pem = readUserText(args[0]!, "certificate file");
      parseCertificate(pem, args[0]!); // a clear error naming the file when it is not a certificate
      const r = await (await open()).verify(pem, { purpose });
      if (values.json) io.out(JSON.stringify(r, null, 2));
      else printVerify(io, args[0]!, r);
      return r.ok ? 0 : 1;
    },
  },
  "export moddable": {
    usage: "export moddable <name> --out <dir> [--key <private-key.pem>]",
    summary: "write device.der, private-key.der (PKCS#8, RSA only) and ca.der for the firmware's resources",
    details: "List the three files under the manifest's resources. The SDK's TLS cannot use EC device keys.",
    options: { out: { type: "string" }, key: { type: "string" } },
    optionHelp: ["--out <dir>    output directory", "--key <file>   the private key, for things issued from a CSR (the key is not in the PKI dir)"],
    args: [1, 1],
    async run({ args, values, io, open }) {
      const out = required(values, "out");
      const files = await (await open()).exportModdable(args[0]!, { outDir: out, ...(typeof values.key === "string" ? { keyPath: values.key } : {}) });
      io.out(`device certificate: ${files.certPath}`);
      io.out(`private key:        ${files.keyPath} (mode 0600)`);
      io.out(`broker CA:          ${files.caPath}`);
    },
  },
  "export esp32": exportEsp32Command,
  "import aws": {
    usage: "import aws --cert <device.pem.crt> --key <private.pem.key> --ca <AmazonRootCA1.pem> --name <thing>",
    summary: "take the files AWS IoT hands out and store them in the same layout as a created thing",
    details:
      "AWS-issued certificates all carry CN \"AWS IoT Certificate\": --name records which thing this certificate is\n" +
      "(the broker binds it by fingerprint). Configure the device with the same thing name (thing=<name>).",
    options: { cert: { type: "string" }, key: { type: "string" }, ca: { type: "string" }, name: { type: "string" } },
    optionHelp: ["--cert <file>   device certificate from AWS IoT", "--key <file>    its private key (PKCS#1 or PKCS#8 PEM)", "--ca <file>     the CA of the AWS IoT endpoint (AmazonRootCA1.pem)", "--name <thing>  thing name"],
    args: [0, 0],
    async run({ values, io, open }) {
      const [cert, key, ca, name] = [required(values, "cert"), required(values, "key"), required(values, "ca"), required(values, "name")];
      const pki = await open();
      const files = await pki.importAws({
        name,
        certPem: readUserText(cert, "--cert file"),
        keyPem: readUserText(key, "--key file"),
        caPem: readUserText(ca, "--ca file"),
      });
      io.out(`imported ${files.name}`);
      io.out(`certificate: ${files.certPath}`);
      io.out(`private key: ${files.keyPath} (mode 0600)`);
      io.out(`broker CA:   ${files.caPath}`);
    },
  },
  "policy attach": policyCommand(
    "attach",
    "policy attach <policy.json> <thing> [--name <policy name>]",
    "validate an AWS IoT policy, store it under <dir>/policies and attach it to a thing (used from its next connection)",
    [2, 2],
    { name: { type: "string" } },
    ["--name <name>   the stored policy's name (default: the file's base name)"],
  ),
  "policy detach": policyCommand("detach", "policy detach <policy name> <thing>", "detach a stored policy from a thing", [2, 2]),
  "policy list": policyCommand("list", "policy list [<thing>]", "list stored policies and their things, or one thing's policies", [0, 1]),
  "broker cert": {
    usage: "broker cert [--host <name>]… [--ip <address>]… [--key-type rsa|ec] [--days N] | broker cert --renew [--days N]",
    summary: "issue the broker's server certificate (serverAuth, subjectAltName) from the root CA",
    details: "Without --host/--ip: localhost and 127.0.0.1. --renew: a new key and certificate for the names of the\ncurrent one; a running broker serves it to new connections without a restart.",
    options: { host: { type: "string", multiple: true }, ip: { type: "string", multiple: true }, "key-type": { type: "string" }, days: { type: "string" }, renew: { type: "boolean" } },
    optionHelp: ["--host <name>    DNS name (repeatable)", "--ip <address>   IP address (repeatable)", "--key-type rsa|ec (default rsa; with --renew: the current key's type)", "--days N         validity (default 397)", "--renew          keep the current certificate's names (subjectAltName)"],
    args: [0, 0],
    async run({ values, io, open }) {
      const pki = await open();
      const d = days(values.days);
      let hosts = (values.host as string[] | undefined) ?? [];
      let ips = (values.ip as string[] | undefined) ?? [];
      let files;
      if (values.renew) {
        if (hosts.length + ips.length > 0) fail("--renew keeps the current names: leave out --host/--ip (or issue anew without --renew)");
        const renewed = await renewBrokerCert(pki, { ...(d ? { validDays: d } : {}), ...(values["key-type"] !== undefined ? { keyType: keyType(values["key-type"]) } : {}) });
        ({ hosts, ips } = renewed);
        files = renewed;
      } else {
        if (hosts.length === 0 && ips.length === 0) [hosts, ips] = [["localhost"], ["127.0.0.1"]];
        files = await pki.createBrokerCert({ hosts, ips, keyType: keyType(values["key-type"]), ...(d ? { validDays: d } : {}) });
      }
      io.out(`broker certificate for ${[...hosts, ...ips].join(", ")}${values.renew ? " (renewed)" : ""}`);
      io.out(`certificate: ${files.certPath}`);
      io.out(`private key: ${files.keyPath} (mode 0600)`);
      io.out(`CA:          ${files.caPath}`);
    },
  },
};

/** Every command, e.g. "thing create" (for help and tests). */
export const COMMAND_NAMES: readonly string[] = Object.keys(commands);

const GROUPS = new Set(Object.keys(commands).filter((k) => k.includes(" ")).map((k) => k.split(" ")[0]!));

function topHelp(io: CliIo): void {
  io.out("usage: npm run pki -- [--pki-dir <pkiDir>] <command> [options]");
  io.out("");
  io.out("Local PKI for pizza buttons: a CA, device identities (three ways), states, CRLs, exports.");
  io.out("--pki-dir <pkiDir>   the PKI directory (default: certs; --dir is a deprecated alias)");
  io.out("Exit status: 0 done, 1 failed, 2 usage error.");
  io.out("");
  // "thing create <name> [--key-type …]" → "thing create <name>"
  const short = (c: Command) => c.usage.split(" ").filter((w, i, all) => !all.slice(0, i + 1).some((x) => x.startsWith("[") || x.startsWith("--"))).join(" ");
  const width = Math.max(...Object.values(commands).map((c) => short(c).length));
  for (const c of Object.values(commands)) io.out(`  ${short(c).padEnd(width)}  ${c.summary}`);
  io.out("");
  io.out("Run any command with --help for its options.");
}

function commandHelp(io: CliIo, c: Command): void {
  io.out(`usage: npm run pki -- [--pki-dir <pkiDir>] ${c.usage}`);
  io.out("");
  io.out(c.summary);
  if (c.details) io.out(c.details);
  io.out("");
  io.out("options:");
  for (const line of c.optionHelp ?? []) io.out(`  ${line}`);
  io.out("  --pki-dir <pkiDir>   the PKI directory (default: certs)");
  io.out("  --help           this help");
}

function parseError(e: unknown, usage: string): never {
  const err = e as Error & { code?: string };
  const quoted = /'([^']+)'/.exec(err.message)?.[1];
  if (err.code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") usageFail(`unknown option ${quoted ?? ""} (usage: ${usage})`);
  if (err.code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE") usageFail(`${(quoted ?? "option").split(" ")[0]} needs a value (usage: ${usage})`);
  if (err.code === "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL") usageFail(`unexpected argument ${quoted ?? ""} (usage: ${usage})`);
  usageFail(`${err.message.split("\n")[0]} (usage: ${usage})`);
}

export async function runCli(argv: string[], io: CliIo): Promise<number> {
  try {
    // Global options may come anywhere: take --pki-dir and --help out first.
    const given = renameDeprecatedFlags(argv, { "--dir": "--pki-dir" }, io.err);
    let dir = "certs";
    let help = false;
    const rest: string[] = [];
    for (let i = 0; i < given.length; i++) {
      const a = given[i]!;
      if (a === "--pki-dir") {
        const v = given[++i];
        if (v === undefined || v.startsWith("--")) usageFail("--pki-dir needs a value");
        dir = v;
      } else if (a.startsWith("--pki-dir=")) dir = a.slice("--pki-dir=".length);
      else if (a === "--help" || a === "-h") help = true;
      else rest.push(a);
    }
    const [group, sub] = rest;
    if (group === undefined || group.startsWith("-")) {
      topHelp(io);
      return help ? 0 : EXIT_USAGE;
    }
    const isGroup = GROUPS.has(group);
    const key = isGroup && sub !== undefined && !sub.startsWith("-") ? `${group} ${sub}` : group;
    const command = commands[key];
    if (!command) {
      if (isGroup) {
        if (help && (sub === undefined || sub.startsWith("-"))) {
          for (const c of Object.entries(commands).filter(([k]) => k.startsWith(group + " "))) io.out(`  ${c[1].usage}\n      ${c[1].summary}`);
          return 0;
        }
        const subs = Object.keys(commands).filter((k) => k.startsWith(group + " ")).map((k) => k.split(" ")[1]).join(", ");
        usageFail(sub === undefined || sub.startsWith("-") ? `"${group}" needs a subcommand: ${subs}` : `unknown command "${group} ${sub}" (${group} commands: ${subs})`);
      }
      usageFail(`unknown command "${group}" (see --help)`);
    }
    if (help) {
      commandHelp(io, command);
      return 0;
    }
    const words = key.split(" ").length;
    let parsed;
    try {
      parsed = parseArgs({ args: rest.slice(words), options: command.options ?? {}, allowPositionals: true, strict: true });
    } catch (e) {
      parseError(e, command.usage);
    }
    const args = parsed.positionals;
    const [min, max] = command.args;
    if (args.length < min) usageFail(`missing argument (usage: ${command.usage})`);
    if (args.length > max) usageFail(`unexpected argument "${args[max]}" (usage: ${command.usage})`);
    const absDir = resolve(dir);
    const ctx: Ctx = {
      dir: absDir,
      args,
      values: parsed.values as Values,
      io,
      async open() {
        if (!existsSync(absDir)) fail(`PKI dir not found: ${absDir} (create it with "pki ca init", or pass --pki-dir)`);
        return Pki.open(absDir);
      },
    };
    return (await command.run(ctx)) ?? 0;
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    io.err(`error: ${message.split("\n")[0]}${e instanceof PkiError || e instanceof UsageError ? "" : " (unexpected)"}`);
    return e instanceof UsageError ? EXIT_USAGE : EXIT_FAILURE;
  }
}

const isMain = process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) {
  // `pki … | head` closes the pipe early: stop quietly instead of crashing with EPIPE.
  process.stdout.on("error", (e: NodeJS.ErrnoException) => {
    if (e.code === "EPIPE") process.exit(process.exitCode ?? 0);
  });
  const code = await runCli(process.argv.slice(2), {
    out: (l) => process.stdout.write(l + "\n"),
    err: (l) => process.stderr.write(l + "\n"),
  });
  process.exitCode = code;
}
