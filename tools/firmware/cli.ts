// `npm run firmware:host -- --certs <dir> [--out <dir>] [key=value …]` and `npm run build:esp32-check`.
// Both need an installed Moddable SDK ($MODDABLE with its host tools built); without one they say so,
// with the short way to install it, and exit 1 (a usage error exits 2). They build the app only; they
// never build or install the SDK.
import { parseArgs } from "node:util";
import { EXIT_FAILURE, EXIT_USAGE } from "../cli/conventions";
import { esp32Check } from "./esp32-check";
import { buildFirmwareHost } from "./host-build";
import { findSdk } from "./sdk";

const USAGE = `usage:
  firmware:host --certs <dir> [--out <dir>] [key=value …]
      Builds the headless Linux firmware (x-cli-lin) with the identity in <dir> (device.der,
      private-key.der, ca.der from: npm run pki -- export moddable <thing> --out <dir>).
      key=value: settings baked in (manifest.json "config" names, e.g. mqtt.host=127.0.0.1, and the update build
        settings firmware.version, release.key, update.probationMs: docs/updates.md).
      Run it: cd <state dir> && <binary> [key=value …]   (stdin: single|double|long|press|release|quit)
  esp32-check [--out <dir>]
      Compiles every firmware module for the ESP32 (mcrun -p esp32 -t build): no ESP-IDF needed.`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  let parsed;
  try {
    parsed = parseArgs({
      args: rest,
      allowPositionals: true,
      options: { certs: { type: "string" }, out: { type: "string" }, verbose: { type: "boolean" }, help: { type: "boolean" } },
    });
  } catch (error) {
    console.error(`${(error as Error).message}\n${USAGE}`);
    return EXIT_USAGE;
  }
  const { values, positionals } = parsed;
  if (values.help || (command !== "host" && command !== "esp32-check")) {
    console.log(USAGE);
    return values.help ? 0 : EXIT_USAGE;
  }
  if (command === "host" && !values.certs) {
    console.error("firmware:host needs --certs <dir>\n" + USAGE);
    return EXIT_USAGE;
  }
  const found = findSdk();
  if (!found.ok) {
    console.error(`cannot build the firmware: ${found.reason}`);
    return EXIT_FAILURE;
  }
  const log = values.verbose ? (line: string) => console.log(line) : undefined;

  if (command === "esp32-check") {
    const result = await esp32Check({ sdk: found.sdk, outDir: values.out, log });
    console.log(`esp32 compile check passed: ${result.modules === 0 ? "up to date" : `${result.modules} modules compiled`}, archive ${result.archiveBytes} bytes (${result.archivePath}), ${(result.buildMs / 1000).toFixed(1)} s`);
    for (const p of result.profiles) console.log(`esp32 ${p.profile} profile: partition table and ${p.options} sdkconfig options reach the build (mcconfig, not compiled by ESP-IDF), mods ${p.mods ? "on" : "off"}, ${p.kconfig ? `options known to ESP-IDF's Kconfig (${p.kconfig})` : "Kconfig not checked (no IDF_PATH)"}`);
    return 0;
  }

  const settings: Record<string, string> = {};
  for (const arg of positionals) {
    const eq = arg.indexOf("=");
    if (eq <= 0) {
      console.error(`"${arg}" is not key=value`);
      return EXIT_USAGE;
    }
    settings[arg.slice(0, eq)] = arg.slice(eq + 1);
  }
  const result = await buildFirmwareHost({ sdk: found.sdk, certsDir: values.certs!, outDir: values.out, settings, log });
  console.log(`built ${result.binaryPath} (${result.binaryBytes} bytes, thing ${result.thingName ?? "?"}) in ${(result.buildMs / 1000).toFixed(1)} s`);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : String(error));
    process.exit(1);
  },
);
