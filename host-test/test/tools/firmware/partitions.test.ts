import { describe, expect, it } from "vitest";
import { checkPartitions, FLASH_BYTES, parsePartitions, readPartitions } from "../../../../tools/firmware/partitions";

describe("the product's ESP32 partition table", () => {
  it("fits 4 MiB with esp_secure_cert (0x3F, encrypted), nvs_keys, otadata and two equal OTA slots", () => {
    const table = readPartitions();
    expect(checkPartitions(table)).toEqual([]);
    const slots = table.filter((p) => p.type === "app");
    expect(slots.map((p) => p.subtype)).toEqual(["ota_0", "ota_1"]);
    expect(slots[0]!.size).toBe(slots[1]!.size);
    expect(Math.max(...table.map((p) => p.offset + p.size))).toBeLessThanOrEqual(FLASH_BYTES);
    expect(table.find((p) => p.name === "esp_secure_cert")).toMatchObject({ type: 0x3f, size: 0x2000, flags: ["encrypted"] });
  });
});

describe("parsePartitions / checkPartitions", () => {
  it("places partitions without an offset as ESP-IDF does (apps on 64 KiB, data on 4 KiB)", () => {
    const table = parsePartitions("nvs, data, nvs, , 0x6000,\nphy, data, phy, , 0x1000\nfactory, app, factory, , 1M\n");
    expect(table.map((p) => [p.name, p.offset, p.size])).toEqual([["nvs", 0x9000, 0x6000], ["phy", 0xf000, 0x1000], ["factory", 0x10000, 0x100000]]);
  });

  it("names every problem: overlap, alignment, flash size, a factory app, the partitions the product needs", () => {
    const problems = checkPartitions(
      parsePartitions("nvs, data, nvs, 0x9000, 0x6000,\nphy, data, phy, 0xE000, 0x1000\nfactory, app, factory, 0x18000, 4M\n"),
    );
    expect(problems).toEqual(
      expect.arrayContaining([
        "phy: overlaps nvs",
        "factory: offset 0x18000 is not aligned",
        "factory: ends past the 4 MiB flash",
        "no esp_secure_cert partition",
        "no nvs_keys partition flagged encrypted (NVS encryption)",
        "no otadata partition",
        "fewer than two OTA app slots",
      ]),
    );
    expect(() => parsePartitions("x, data, nvs, 0x9000, lots,\n")).toThrow(/size of x "lots" is not a number/);
  });
});
