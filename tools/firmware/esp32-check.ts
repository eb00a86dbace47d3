// ESP32 compile check without ESP-IDF: `mcrun -m -p esp32 -t build` turns every firmware module into
// bytecode (tsc against the SDK's own typings, then xsc) inside a mod archive. -t build only builds:
// the SDK's install targets (which run pkill serial2xsbug and talk to a serial port) are never reached.
import { existsSync, mkdirSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { REPO_ROOT, type Sdk } from "./sdk";
import { runTool } from "./run";
import { checkProfiles, withoutIdf, type ProfileCheck } from "./esp32-profiles";

export const ESP32_CHECK_MANIFEST = join(REPO_ROOT, "tools", "firmware", "esp32-check", "manifest.json");

export interface Esp32Check {
  archivePath: string;
  archiveBytes: number;
  buildMs: number;
  modules: number;
  /** The build profiles' sdkconfig and partition table, as mcconfig hands them to ESP-IDF (esp32-profiles.ts). */
  profiles: ProfileCheck[];
}

export async function esp32Check(options: { sdk: Sdk; outDir?: string; log?: (line: string) => void }): Promise<Esp32Check> {
  const started = Date.now();
  const outDir = resolve(options.outDir ?? join(REPO_ROOT, "build", "esp32-check"));
  mkdirSync(outDir, { recursive: true });
  const output = await runTool("mcrun", ["-m", "-p", "esp32", "-t", "build", "-o", outDir, ESP32_CHECK_MANIFEST], {
    cwd: REPO_ROOT,
    env: withoutIdf(options.sdk.env),
    log: options.log,
  });
  const archivePath = join(outDir, "bin", "esp32", "release", "esp32-check", "esp32-check.xsa");
  if (!existsSync(archivePath)) throw new Error(`mcrun succeeded but ${archivePath} is missing`);
  const profiles = await checkProfiles({ sdk: options.sdk, outDir, log: options.log });
  return {
    profiles,
    archivePath,
    archiveBytes: statSync(archivePath).size,
    buildMs: Date.now() - started,
    modules: output.split("\n").filter((line) => line.startsWith("# xsc ")).length,
  };
}
