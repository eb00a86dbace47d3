// The ESP32 build profiles' configuration, checked without ESP-IDF's toolchain (part of npm run
// build:esp32-check): the product's partition table (tools/firmware/partitions.ts), and for each profile
// what mcconfig makes of the app manifest. `mcconfig` without -m only writes the build's makefile, merged
// sdkconfig (sdkconfig.mc) and partition table (nothing is compiled or flashed): the check reads those and
// asserts every line of the profile's sdkconfig fragment and the product's table reached the build. With
// IDF_PATH, every CONFIG_ name of a fragment must also be an option of that ESP-IDF's Kconfig files.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { checkPartitions, PARTITIONS_CSV, readPartitions } from "./partitions";
import { runTool } from "./run";
import { REPO_ROOT, type Sdk } from "./sdk";

/** The SDK tools' environment without IDF_PATH: mcrun -p esp32 sources $IDF_PATH/export.sh when it is set, and neither this check nor the profile check needs ESP-IDF's tools (a headers-only ESP-IDF has no export.sh). */
export function withoutIdf(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const { IDF_PATH: _idf, ...rest } = env;
  return rest;
}

export const PROFILES = ["development", "production"] as const;
export type Profile = (typeof PROFILES)[number];

export function profileFragment(profile: Profile): string[] {
  const text = readFileSync(join(REPO_ROOT, "modules", "device", "esp32", profile, "sdkconfig.defaults"), "utf8");
  return text.split("\n").map((l) => l.trim()).filter((l) => l !== "" && !l.startsWith("#"));
}

/** Every `config NAME` of ESP-IDF's Kconfig files under components/ (absent folders are skipped). */
export function kconfigOptions(idfPath: string): Set<string> {
  const names = new Set<string>();
  const walk = (dir: string, depth: number) => {
    for (const entry of readdirSync(dir)) {
      const path = join(dir, entry);
      const stat = statSync(path, { throwIfNoEntry: false });
      if (!stat) continue;
      if (stat.isDirectory() && depth < 4 && entry !== "test_apps" && entry !== "host_test") walk(path, depth + 1);
      else if (stat.isFile() && entry.startsWith("Kconfig")) {
        for (const m of readFileSync(path, "utf8").matchAll(/^\s*(?:menu)?config\s+([A-Z0-9_]+)/gm)) names.add(m[1]!);
      }
    }
  };
  walk(join(idfPath, "components"), 0);
  return names;
}

export interface ProfileCheck {
  profile: Profile;
  /** Fragment lines found in the build's sdkconfig.mc. */
  options: number;
  /** Whether the build defines XS_MODS (mods on). */
  mods: boolean;
  /** The ESP-IDF whose Kconfig knew every option of the fragment (IDF_PATH), if one was given. */
  kconfig: string | undefined;
}

function findFile(dir: string, name: string): string | undefined {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isFile() && entry.name === name) return path;
    if (entry.isDirectory()) {
      const found = findFile(path, name);
      if (found) return found;
    }
  }
  return undefined;
}

export async function checkProfiles(options: { sdk: Sdk; outDir: string; log?: (line: string) => void }): Promise<ProfileCheck[]> {
  const problems = checkPartitions(readPartitions());
  if (problems.length > 0) throw new Error(`${PARTITIONS_CSV}: ${problems.join("; ")}`);
  const idf = options.sdk.env.IDF_PATH;
  const known = idf && existsSync(join(idf, "components")) ? kconfigOptions(idf) : undefined;
  const table = readFileSync(PARTITIONS_CSV, "utf8");
  const results: ProfileCheck[] = [];
  for (const profile of PROFILES) {
    const fragment = profileFragment(profile);
    if (known) {
      const unknown = fragment.map((l) => l.split("=")[0]!.replace(/^CONFIG_/, "")).filter((name) => !known.has(name));
      if (unknown.length > 0) throw new Error(`${profile} sdkconfig: not options of the ESP-IDF at ${idf}: ${unknown.join(", ")}`);
    }
    const out = join(options.outDir, `profile-${profile}`);
    rmSync(out, { recursive: true, force: true });
    mkdirSync(out, { recursive: true });
    // An empty identity folder: the development profile bakes PIZZA_CERTS, which need not exist for this.
    const certs = join(out, "no-identity");
    mkdirSync(certs);
    await runTool("mcconfig", ["-p", "esp32/nodemcu", "-o", out, join(REPO_ROOT, "manifest.json")], {
      cwd: REPO_ROOT,
      env: { ...withoutIdf(options.sdk.env), PIZZA_PROFILE: profile, PIZZA_CERTS: certs },
      log: options.log,
    });
    const sdkconfig = findFile(out, "sdkconfig.mc");
    const partitions = findFile(out, "partitions.csv");
    const defines = findFile(out, "mc.defines.h");
    if (!sdkconfig || !partitions || !defines) throw new Error(`mcconfig (${profile}) wrote no sdkconfig.mc, partitions.csv or mc.defines.h under ${out}`);
    const merged = new Set(readFileSync(sdkconfig, "utf8").split("\n").map((l) => l.trim()));
    const missing = fragment.filter((line) => !merged.has(line));
    if (missing.length > 0) throw new Error(`${profile}: the build's sdkconfig lacks ${missing.join(", ")}`);
    if (readFileSync(partitions, "utf8") !== table) throw new Error(`${profile}: the build's partition table is not ${PARTITIONS_CSV}`);
    results.push({ profile, options: fragment.length, mods: /MODDEF_XS_MODS\b/.test(readFileSync(defines, "utf8")), kconfig: known ? idf : undefined });
  }
  const production = results.find((r) => r.profile === "production")!;
  if (production.mods) throw new Error("production profile: mods are on (XS_MODS); its image must carry no mod loader");
  return results;
}
