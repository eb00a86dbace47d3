// The ESP32 build profiles as mcconfig hands them to ESP-IDF (tools/firmware/esp32-profiles.ts): mcconfig
// without -m writes the merged sdkconfig and partition table and builds nothing. Needs $MODDABLE for that
// part, and an ESP-IDF at $IDF_PATH for the Kconfig part; each is skipped with the reason otherwise.
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { checkProfiles, kconfigOptions, profileFragment } from "../../../../tools/firmware/esp32-profiles";
import { findSdk } from "../../../../tools/firmware/sdk";
import { removeDir, tempDir } from "../../integration/fixtures";

const sdk = findSdk();
const idfPath = process.env.IDF_PATH;
if (!sdk.ok) console.log(`esp32 profile check skipped: ${sdk.reason}`);
if (!idfPath) console.log("esp32 Kconfig check skipped: IDF_PATH is not set");

const dirs: string[] = [];
afterAll(() => dirs.forEach(removeDir));

describe("ESP32 build profiles", () => {
  it("production turns on flash encryption (release mode) and NVS encryption with keys under flash encryption", () => {
    expect(profileFragment("production")).toEqual(
      expect.arrayContaining([
        "CONFIG_SECURE_FLASH_ENC_ENABLED=y",
        "CONFIG_SECURE_FLASH_ENCRYPTION_MODE_RELEASE=y",
        "CONFIG_NVS_ENCRYPTION=y",
        "CONFIG_NVS_SEC_KEY_PROTECT_USING_FLASH_ENC=y",
      ]),
    );
    expect(profileFragment("development")).toEqual(["CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE=y"]);
  });

  it("both profiles boot a new image pending verification (app rollback, for firmware updates)", () => {
    for (const profile of ["development", "production"] as const) expect(profileFragment(profile)).toContain("CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE=y");
  });

  it.skipIf(!idfPath)("every option of both profiles is an option of ESP-IDF's Kconfig", () => {
    const known = kconfigOptions(idfPath!);
    for (const line of [...profileFragment("development"), ...profileFragment("production")]) expect(known.has(line.split("=")[0]!.replace(/^CONFIG_/, "")), line).toBe(true);
    expect(known.has("PIZZA_NOT_AN_OPTION")).toBe(false);
  });

  it.skipIf(!sdk.ok)("mcconfig merges each profile's fragment and the product's partition table; production has no mods", async () => {
    if (!sdk.ok) return;
    const dir = tempDir("esp32-profiles");
    dirs.push(dir);
    const results = await checkProfiles({ sdk: sdk.sdk, outDir: join(dir, "out") });
    expect(results.map(({ profile, options, mods }) => ({ profile, options, mods }))).toEqual([
      { profile: "development", options: profileFragment("development").length, mods: true },
      { profile: "production", options: profileFragment("production").length, mods: false },
    ]);
  }, 10 * 60_000);
});
