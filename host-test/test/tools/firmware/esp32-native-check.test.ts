// The header check of the firmware's ESP32 C files (tools/firmware/esp32-native-check.sh). With an ESP-IDF
// at $IDF_PATH (a checkout, or its components/ extracted with git archive) and the SDK at $MODDABLE it
// compiles them for real; without, only its refusals are checked.
import { spawnSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO_ROOT } from "../../../../tools/firmware/sdk";
import { removeDir, tempDir } from "../../integration/fixtures";

const SCRIPT = join(REPO_ROOT, "tools", "firmware", "esp32-native-check.sh");
const moddable = process.env.MODDABLE;
const idfPath = process.env.IDF_PATH;

function check(env: NodeJS.ProcessEnv) {
  const { IDF_PATH: _i, MODDABLE: _m, ...rest } = process.env;
  const run = spawnSync("sh", [SCRIPT], { env: { ...rest, ...env }, encoding: "utf8" });
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

describe("esp32 native check (ESP-IDF headers, host gcc)", () => {
  let dir: string;
  beforeAll(() => {
    dir = tempDir("esp32-native");
  });
  afterAll(() => removeDir(dir));

  it("without IDF_PATH or MODDABLE it says why it skips, and exits 0", () => {
    const noIdf = check({ MODDABLE: "/nonexistent" });
    expect(noIdf).toMatchObject({ status: 0 });
    expect(noIdf.output).toMatch(/skipped: IDF_PATH is not set/);
    mkdirSync(join(dir, "idf", "components"), { recursive: true });
    const noSdk = check({ IDF_PATH: join(dir, "idf") });
    expect(noSdk).toMatchObject({ status: 0 });
    expect(noSdk.output).toMatch(/skipped: MODDABLE is not set/);
  });

  it.skipIf(!moddable)("an ESP-IDF without the headers the C file needs fails the check (it really compiles)", () => {
    mkdirSync(join(dir, "empty-idf", "components"), { recursive: true });
    const run = check({ IDF_PATH: join(dir, "empty-idf"), MODDABLE: moddable });
    expect(run.status, run.output).toBe(1);
    expect(run.output).toMatch(/esp_idf_version\.h: No such file/);
    expect(run.output).toMatch(/FAILED: modules\/device\/sleep\/esp32\/deep_sleep\.c/);
  });

  it.skipIf(!moddable || !idfPath)("deep_sleep.c, secure_cert_partition.c and update.c compile against the ESP-IDF at $IDF_PATH", () => {
    const run = check({ IDF_PATH: idfPath, MODDABLE: moddable });
    expect(run.status, run.output).toBe(0);
    expect(run.output).toMatch(/deep_sleep\.c compiles against ESP-IDF \d+\.\d+\.\d+ headers/);
    expect(run.output).toMatch(/secure_cert_partition\.c compiles against ESP-IDF \d+\.\d+\.\d+ headers/);
    expect(run.output).toMatch(/secure_cert_partition\.js compiles with xsc/);
    expect(run.output).toMatch(/update\/esp32\/update\.c compiles against ESP-IDF \d+\.\d+\.\d+ headers/);
    expect(run.output).toMatch(/update\/esp32\/update\.js compiles with xsc/);
  });
});
