// Finding an installed Moddable SDK. The project never builds the SDK: it uses the one $MODDABLE points
// at, whose host tools were built by its own Getting Started guide (Linux: make in build/makefiles/lin).
import { existsSync, statSync } from "node:fs";
import { delimiter, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const REPO_ROOT = resolve(fileURLToPath(new URL("../..", import.meta.url)));

const TOOLS = ["mcconfig", "mcrun", "mcrez", "xsc", "xsl"] as const;

export interface Sdk {
  moddable: string;
  /** $MODDABLE/build/bin/lin/release */
  binDir: string;
  /** Environment for the SDK tools: MODDABLE set; PATH with the project's tsc first, then the SDK tools. */
  env: NodeJS.ProcessEnv;
}

/** The short way to an SDK, said wherever one is missing: Moddable's own installer, from npm. */
export const SDK_INSTALL_HINT =
  "shortest path: `npx xs-dev setup` (installs the Moddable SDK and builds its host tools, sets MODDABLE in your shell " +
  "profile: open a new terminal afterwards; `npx xs-dev setup --device esp32` adds ESP-IDF for a board), or Moddable's " +
  "Getting Started: https://github.com/Moddable-OpenSource/moddable/blob/public/documentation/Moddable%20SDK%20-%20Getting%20Started.md";

export type SdkLookup = { ok: true; sdk: Sdk } | { ok: false; reason: string };

export function findSdk(env: NodeJS.ProcessEnv = process.env): SdkLookup {
  const moddable = env.MODDABLE;
  if (!moddable) {
    return { ok: false, reason: `MODDABLE is not set: install the Moddable SDK and export MODDABLE=<its folder>; ${SDK_INSTALL_HINT}` };
  }
  if (!existsSync(moddable) || !statSync(moddable).isDirectory()) return { ok: false, reason: `MODDABLE=${moddable} is not a directory; ${SDK_INSTALL_HINT}` };
  const binDir = join(resolve(moddable), "build", "bin", "lin", "release");
  const missing = TOOLS.filter((tool) => !existsSync(join(binDir, tool)));
  if (missing.length > 0) {
    return { ok: false, reason: `Moddable host tools not built (missing ${missing.join(", ")} in ${binDir}): run make in $MODDABLE/build/makefiles/lin as its Getting Started guide says, or \`npx xs-dev setup\`` };
  }
  const tsc = join(REPO_ROOT, "node_modules", ".bin");
  if (!existsSync(join(tsc, "tsc"))) return { ok: false, reason: "node_modules/.bin/tsc is missing: run npm ci" };
  const path = [tsc, binDir, env.PATH ?? ""].join(delimiter);
  return { ok: true, sdk: { moddable: resolve(moddable), binDir, env: { ...env, MODDABLE: resolve(moddable), PATH: path } } };
}
