// Policy storage and attachment, kept next to the PKI registry:
//   <pkiDir>/policies/<name>.json         stored policy documents (validated when stored)
//   <pkiDir>/policies/attachments.json    { "version": 1, "things": { "<thing>": ["<policy name>", …] },
//                                           "defaulted": ["<thing>", …] }
// "defaulted" lists the things that have had their default policy considered once: a later detach (even of
// the last policy, meaning "deny everything") is the operator's decision and is never undone.
// AWS IoT attaches policies to certificates; here they attach to a thing and so apply to every
// certificate of that thing. Everything is read fresh from disk on each call, so a broker started once
// sees attach/detach/edits from another process on the next connection.
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { isValidThingName } from "../../modules/core/config";
import { readRegistry } from "../pki/registry";
import { type ParsedPolicy, PolicyParseError, parsePolicy } from "./parse";

export const POLICIES_DIR = "policies";
export const ATTACHMENTS_FILE = "attachments.json";

/** AWS IoT policy names: 1–128 of [A-Za-z0-9_+=,.@-]. */
const POLICY_NAME = /^[\w+=,.@-]{1,128}$/;

export class PolicyStoreError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PolicyStoreError";
  }
}

export interface StoredPolicy {
  name: string;
  /** The document text as stored. */
  document: string;
  path: string;
}

interface Attachments {
  version: 1;
  things: Record<string, string[]>;
  /** Things whose default policy was applied (or found unnecessary) once. */
  defaulted?: string[];
}

export interface AttachResult {
  name: string;
  thing: string;
  /** "created": new policy; "updated": same name, new document; "unchanged": same document. */
  policy: "created" | "updated" | "unchanged";
  /** False when the policy was already attached to the thing. */
  newlyAttached: boolean;
  warnings: string[];
}

export interface PolicyStore {
  readonly dir: string;
  /** Validates `policyFile`, stores it under its base name (or `opts.name`) and attaches it to `thing`. */
  attach(policyFile: string, thing: string, opts?: { name?: string }): AttachResult;
  /**
   * Attaches `policyFile` only when `thing` has no policy attached yet (for defaults such as
   * `npm run simulate`'s): a user's own attachments are left alone. Returns undefined when it did nothing.
   */
  attachIfNone(policyFile: string, thing: string, opts?: { name?: string }): AttachResult | undefined;
  /**
   * A thing's default policy, once in its life: attached if the thing has no policy the first time it is
   * seen, never again afterwards (a detach is remembered). Returns undefined when it did nothing.
   */
  attachDefaultOnce(policyFile: string, thing: string, opts?: { name?: string }): AttachResult | undefined;
  /** Detaches policy `name` (a stored name or a file path whose base name it is) from `thing`. */
  detach(name: string, thing: string): void;
  /** Stored documents attached to `thing`, in attachment order. A missing document throws. */
  attached(thing: string): StoredPolicy[];
  /** Every stored policy with the things it is attached to. */
  list(): { name: string; things: string[] }[];
}

function policyNameOf(fileOrName: string): string {
  return basename(fileOrName).replace(/\.json$/i, "");
}

function writeAtomic(path: string, text: string): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, text, { mode: 0o644 });
  chmodSync(tmp, 0o644);
  renameSync(tmp, path);
}

export function openPolicyStore(pkiDir: string): PolicyStore {
  const dir = join(pkiDir, POLICIES_DIR);
  const attachmentsPath = join(dir, ATTACHMENTS_FILE);
  const docPath = (name: string) => join(dir, `${name}.json`);

  const readAttachments = (): Attachments => {
    if (!existsSync(attachmentsPath)) return { version: 1, things: {} };
    let data: Attachments;
    try {
      data = JSON.parse(readFileSync(attachmentsPath, "utf8")) as Attachments;
    } catch {
      throw new PolicyStoreError(`${attachmentsPath} is not valid JSON`);
    }
    if (data?.version !== 1 || typeof data.things !== "object" || data.things === null) {
      throw new PolicyStoreError(`${attachmentsPath} has an unknown format`);
    }
    return data;
  };
  const writeAttachments = (data: Attachments) => {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    writeAtomic(attachmentsPath, `${JSON.stringify(data, null, 2)}\n`);
  };
  const checkName = (name: string) => {
    if (!POLICY_NAME.test(name)) {
      throw new PolicyStoreError(`invalid policy name "${name}": use 1-128 characters from A-Z a-z 0-9 _ + = , . @ -`);
    }
  };
  const checkThing = (thing: string) => {
    if (!isValidThingName(thing)) throw new PolicyStoreError(`invalid thing name "${thing}"`);
    if (!readRegistry(pkiDir).things[thing]) {
      throw new PolicyStoreError(`unknown thing "${thing}" in ${pkiDir} (create it first: npm run pki -- thing create ${thing})`);
    }
  };

  const store: PolicyStore = {
    dir,
    attach(policyFile, thing, opts = {}) {
      const name = opts.name ?? policyNameOf(policyFile);
      checkName(name);
      checkThing(thing);
      let text: string;
      try {
        text = readFileSync(policyFile, "utf8");
      } catch (e) {
        throw new PolicyStoreError(`cannot read policy file ${policyFile}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      }
      let parsed: ParsedPolicy;
      try {
        parsed = parsePolicy(text, policyFile);
      } catch (e) {
        if (e instanceof PolicyParseError) throw new PolicyStoreError(`policy not stored: ${e.message}`);
        throw e;
      }
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      const path = docPath(name);
      const previous = existsSync(path) ? readFileSync(path, "utf8") : undefined;
      const policy = previous === undefined ? "created" : previous === text ? "unchanged" : "updated";
      if (policy !== "unchanged") writeAtomic(path, text);
      const attachments = readAttachments();
      const list = (attachments.things[thing] ??= []);
      const newlyAttached = !list.includes(name);
      if (newlyAttached) {
        list.push(name);
        writeAttachments(attachments);
      }
      return { name, thing, policy, newlyAttached, warnings: parsed.warnings };
    },

    attachIfNone(policyFile, thing, opts = {}) {
      if ((readAttachments().things[thing] ?? []).length > 0) return undefined;
      return store.attach(policyFile, thing, opts);
    },

    attachDefaultOnce(policyFile, thing, opts = {}) {
      const before = readAttachments();
      if (before.defaulted === undefined && existsSync(attachmentsPath)) {
        // A store written before defaults were recorded: every thing the registry knows has had its
        // default; one without any policy now was detached on purpose and stays so (deny, not allow).
        before.defaulted = Object.keys(readRegistry(pkiDir).things);
        writeAttachments(before);
      }
      if (before.defaulted?.includes(thing)) return undefined;
      const result = (before.things[thing] ?? []).length > 0 ? undefined : store.attach(policyFile, thing, opts);
      const after = readAttachments();
      after.defaulted = [...(after.defaulted ?? []), thing];
      writeAttachments(after);
      return result;
    },

    detach(nameOrFile, thing) {
      const name = policyNameOf(nameOrFile);
      const attachments = readAttachments();
      const list = attachments.things[thing] ?? [];
      if (!list.includes(name)) throw new PolicyStoreError(`policy "${name}" is not attached to "${thing}"`);
      attachments.things[thing] = list.filter((n) => n !== name);
      if (attachments.things[thing]!.length === 0) delete attachments.things[thing];
      writeAttachments(attachments);
    },

    attached(thing) {
      const names = readAttachments().things[thing] ?? [];
      return names.map((name) => {
        const path = docPath(name);
        let document: string;
        try {
          document = readFileSync(path, "utf8");
        } catch {
          throw new PolicyStoreError(`policy "${name}" is attached to "${thing}" but ${path} is missing`);
        }
        return { name, document, path };
      });
    },

    list() {
      const attachments = readAttachments();
      const names = existsSync(dir)
        ? readdirSync(dir)
            .filter((f) => f.endsWith(".json") && f !== ATTACHMENTS_FILE)
            .map((f) => f.slice(0, -".json".length))
            .sort()
        : [];
      return names.map((name) => ({
        name,
        things: Object.keys(attachments.things)
          .filter((t) => attachments.things[t]!.includes(name))
          .sort(),
      }));
    },
  };
  return store;
}

/**
 * IsAttached as the PKI registry knows it: the thing exists and this certificate (by SHA-256
 * fingerprint, any format) is one of its certificates and not revoked. Read fresh on each call.
 */
export function registryAttachment(pkiDir: string): (thingName: string, fingerprint256: string) => boolean {
  return (thingName, fingerprint256) => {
    const reg = readRegistry(pkiDir);
    if (!reg.things[thingName]) return false;
    const want = hexOf(fingerprint256);
    if (want === "") return false;
    return reg.certificates.some(
      (c) => c.thing === thingName && c.kind === "client" && c.state !== "REVOKED" && hexOf(c.fingerprint256) === want,
    );
  };
}

/** Lower-case hex without separators: AWS's certificate id for a SHA-256 fingerprint. */
export function hexOf(fingerprint: string): string {
  return fingerprint.replace(/[^0-9a-fA-F]/g, "").toLowerCase();
}
