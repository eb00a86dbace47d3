// Policies attached to things, kept in the PKI dir:
//   <pkiDir>/policies/<name>.json   stored policy documents (validated when stored)
//   the registry store               which policies are attached to which thing, in order, and which things
//                                    have had their default policy considered once
// A later detach (even of the last policy, meaning "deny everything") is the operator's decision and is
// never undone by a default. AWS IoT attaches policies to certificates; here they attach to a thing and so
// apply to every certificate of that thing. Each change is one registry transaction; reads see the last
// committed state, so a running broker sees attach/detach/edits from another process on the next connection.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { basename, join } from "node:path";
import { isIdentityName } from "./reserved";
import { type ParsedPolicy, PolicyParseError, parsePolicy } from "../policy/parse";
import { hexOf } from "../policy/evaluate";
import { ensureDir, writePublic } from "./files";
import type { RegistryData, ThingRecord } from "./registry";
import type { RegistryStore } from "./store";

export const POLICIES_DIR = "policies";

/** AWS IoT policy names: 1–128 of [A-Za-z0-9_+=,.@-]. */
const POLICY_NAME = /^[\w+=,.@-]{1,128}$/;

export class PolicyStoreError extends Error {
  override name = "PolicyStoreError";
}

export interface StoredPolicy {
  name: string;
  /** The document text as stored. */
  document: string;
  path: string;
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
  attach(policyFile: string, thing: string, opts?: { name?: string }): Promise<AttachResult>;
  /**
   * Attaches `policyFile` only when `thing` has no policy attached yet (for defaults such as
   * `npm run simulate`'s): a user's own attachments are left alone. Returns undefined when it did nothing.
   */
  attachIfNone(policyFile: string, thing: string, opts?: { name?: string }): Promise<AttachResult | undefined>;
  /**
   * A thing's default policy, once in its life: attached if the thing has no policy the first time it is
   * seen, never again afterwards (a detach is remembered). Returns undefined when it did nothing.
   */
  attachDefaultOnce(policyFile: string, thing: string, opts?: { name?: string }): Promise<AttachResult | undefined>;
  /**
   * attachDefaultOnce for every ACTIVE thing not seen before, in one transaction: `policyFor` names the
   * default policy file of a thing. Resolves to what it attached.
   */
  attachDefaults(policyFor: (thing: ThingRecord) => string): Promise<AttachResult[]>;
  /** Detaches policy `name` (a stored name or a file path whose base name it is) from `thing`. */
  detach(name: string, thing: string): Promise<void>;
  /** Stored documents attached to `thing`, in attachment order. A missing document throws. */
  attached(thing: string): StoredPolicy[];
  /** Every stored policy with the things it is attached to. */
  list(): { name: string; things: string[] }[];
}

function policyNameOf(fileOrName: string): string {
  return basename(fileOrName).replace(/\.json$/i, "");
}

/** A policy file read and validated, ready to store. */
interface PolicyText {
  name: string;
  text: string;
  parsed: ParsedPolicy;
}

function readPolicyFile(policyFile: string, name: string): PolicyText {
  if (!POLICY_NAME.test(name)) throw new PolicyStoreError(`invalid policy name "${name}": use 1-128 characters from A-Z a-z 0-9 _ + = , . @ -`);
  let text: string;
  try {
    text = readFileSync(policyFile, "utf8");
  } catch (e) {
    throw new PolicyStoreError(`cannot read policy file ${policyFile}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  try {
    return { name, text, parsed: parsePolicy(text, policyFile) };
  } catch (e) {
    if (e instanceof PolicyParseError) throw new PolicyStoreError(`policy not stored: ${e.message}`);
    throw e;
  }
}

export function openPolicyStore(registry: RegistryStore): PolicyStore {
  const dir = join(registry.dir, POLICIES_DIR);
  const docPath = (name: string) => join(dir, `${name}.json`);

  const checkThing = (reg: RegistryData, thing: string) => {
    if (!isIdentityName(thing)) throw new PolicyStoreError(`invalid thing name "${thing}"`);
    if (!reg.things[thing]) {
      throw new PolicyStoreError(`unknown thing "${thing}" in ${registry.dir} (create it first: npm run pki -- thing create ${thing})`);
    }
  };

  /** Inside a transaction: the document file first, then the attachment row. */
  const attachIn = (reg: RegistryData, policy: PolicyText, thing: string): AttachResult => {
    checkThing(reg, thing);
    ensureDir(dir);
    const path = docPath(policy.name);
    const previous = existsSync(path) ? readFileSync(path, "utf8") : undefined;
    const state = previous === undefined ? "created" : previous === policy.text ? "unchanged" : "updated";
    if (state !== "unchanged") writePublic(path, policy.text);
    const list = (reg.attachments[thing] ??= []);
    const newlyAttached = !list.includes(policy.name);
    if (newlyAttached) list.push(policy.name);
    return { name: policy.name, thing, policy: state, newlyAttached, warnings: policy.parsed.warnings };
  };

  const read = (policyFile: string, opts: { name?: string }) => readPolicyFile(policyFile, opts.name ?? policyNameOf(policyFile));

  return {
    dir,
    async attach(policyFile, thing, opts = {}) {
      const policy = read(policyFile, opts);
      return registry.update((reg) => attachIn(reg, policy, thing));
    },

    async attachIfNone(policyFile, thing, opts = {}) {
      const policy = read(policyFile, opts);
      return registry.update((reg) => ((reg.attachments[thing] ?? []).length > 0 ? undefined : attachIn(reg, policy, thing)));
    },

    async attachDefaultOnce(policyFile, thing, opts = {}) {
      const policy = read(policyFile, opts);
      return registry.update((reg) => {
        if (reg.defaulted.includes(thing)) return undefined;
        const result = (reg.attachments[thing] ?? []).length > 0 ? undefined : attachIn(reg, policy, thing);
        reg.defaulted.push(thing);
        return result;
      });
    },

    async attachDefaults(policyFor) {
      const pending = (reg: RegistryData) => Object.values(reg.things).filter((t) => t.state === "ACTIVE" && !reg.defaulted.includes(t.name));
      if (pending(registry.read()).length === 0) return [];
      const files = new Map<string, PolicyText>();
      return registry.update((reg) => {
        const results: AttachResult[] = [];
        for (const thing of pending(reg)) {
          const file = policyFor(thing);
          if (!files.has(file)) files.set(file, read(file, {}));
          if ((reg.attachments[thing.name] ?? []).length === 0) results.push(attachIn(reg, files.get(file)!, thing.name));
          reg.defaulted.push(thing.name);
        }
        return results;
      });
    },

    async detach(nameOrFile, thing) {
      const name = policyNameOf(nameOrFile);
      return registry.update((reg) => {
        const list = reg.attachments[thing] ?? [];
        if (!list.includes(name)) throw new PolicyStoreError(`policy "${name}" is not attached to "${thing}"`);
        reg.attachments[thing] = list.filter((n) => n !== name);
      });
    },

    attached(thing) {
      return registry.attachedPolicies(thing).map((name) => {
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

    list: () => listPolicies(dir, registry.read().attachments),
  };
}

/** Every policy document in `dir` with the things it is attached to. */
function listPolicies(dir: string, attachments: Record<string, string[]>): { name: string; things: string[] }[] {
  const names = existsSync(dir)
    ? readdirSync(dir)
        .filter((f) => f.endsWith(".json"))
        .map((f) => f.slice(0, -".json".length))
        .sort()
    : [];
  return names.map((name) => ({
    name,
    things: Object.keys(attachments)
      .filter((t) => attachments[t]!.includes(name))
      .sort(),
  }));
}

/**
 * IsAttached as the PKI registry knows it: the thing exists and this certificate (by SHA-256
 * fingerprint, any format) is one of its certificates and not revoked. Read fresh on each call.
 */
export function registryAttachment(registry: RegistryStore): (thingName: string, fingerprint256: string) => boolean {
  return (thingName, fingerprint256) => {
    const want = hexOf(fingerprint256);
    if (want === "") return false;
    return registry.unrevokedFingerprints(thingName).some((fp) => hexOf(fp) === want);
  };
}
