// `policy attach|detach|list` over a PKI dir's policy store: `npm run pki -- policy …` (the PKI CLI
// passes its own dir) and `npm run policy -- … --pki-dir <dir>`.
import { EXIT_FAILURE, EXIT_USAGE } from "../cli/conventions";
import { PkiError } from "./errors";
import { PolicyStoreError, openPolicyStore } from "./policy-store";
import { RegistryStore } from "./store";

export interface StoreCliIo {
  out: (line: string) => void;
  err: (line: string) => void;
}

export const POLICY_STORE_USAGE = [
  "policy attach <policy.json> <thing> [--name <policy name>]",
  "    Validates the policy, stores it as <pki dir>/policies/<name>.json (name: the file's base name)",
  "    and attaches it to the thing. Attaching a changed file again updates the stored policy; the",
  "    broker uses the new version from the next connection on.",
  "policy detach <policy name | policy.json> <thing>",
  "policy list [<thing>]",
].join("\n");

/**
 * Runs `attach|detach|list` (argv without the leading "policy"). Returns the exit status: 0 done,
 * 2 on a usage error, 1 on a refusal (bad policy, unknown thing, not attached).
 */
export async function policyStoreCommand(argv: string[], opts: { pkiDir: string; io: StoreCliIo }): Promise<number> {
  const io = opts.io;
  const usage = (problem: string) => {
    io.err(`error: ${problem}\nusage:\n${indent(POLICY_STORE_USAGE, "  ")}`);
    return EXIT_USAGE;
  };
  const [command, ...rest] = argv;
  let name: string | undefined;
  const positionals: string[] = [];
  for (let i = 0; i < rest.length; i++) {
    if (rest[i] === "--name") name = rest[++i];
    else positionals.push(rest[i]!);
  }
  try {
    const store = openPolicyStore(RegistryStore.open(opts.pkiDir));
    switch (command) {
      case "attach": {
        if (positionals.length !== 2 || (rest.includes("--name") && !name)) return usage("attach needs <policy.json> <thing>");
        const r = await store.attach(positionals[0]!, positionals[1]!, name ? { name } : {});
        const what = r.policy === "created" ? "stored" : r.policy === "updated" ? "updated" : "unchanged";
        io.out(`policy ${r.name} ${what}; ${r.newlyAttached ? "attached to" : "already attached to"} ${r.thing}`);
        for (const w of r.warnings) io.out(`  warning: ${w}`);
        return 0;
      }
      case "detach": {
        if (positionals.length !== 2) return usage("detach needs <policy> <thing>");
        await store.detach(positionals[0]!, positionals[1]!);
        io.out(`policy ${positionals[0]} detached from ${positionals[1]}`);
        return 0;
      }
      case "list": {
        if (positionals.length > 1) return usage("list takes at most a thing name");
        const thing = positionals[0];
        if (thing !== undefined) {
          const attached = store.attached(thing);
          if (attached.length === 0) io.out(`${thing}: no policies attached (every request is denied)`);
          for (const p of attached) io.out(`${thing}: ${p.name} (${p.path})`);
          return 0;
        }
        const all = store.list();
        if (all.length === 0) io.out(`no policies stored in ${store.dir}`);
        for (const p of all) io.out(`${p.name}: ${p.things.length ? p.things.join(", ") : "(not attached)"}`);
        return 0;
      }
      default:
        return usage(command === undefined ? "missing subcommand" : `unknown subcommand "${command}"`);
    }
  } catch (e) {
    if (e instanceof PolicyStoreError || e instanceof PkiError) {
      io.err(`error: ${e.message}`);
      return EXIT_FAILURE;
    }
    throw e;
  }
}


export function indent(text: string, by: string): string {
  return text.replace(/^/gm, by);
}
