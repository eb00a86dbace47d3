import fs from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { FileStore, MAX_KEY_LENGTH } from "../../device/file-store";
import { removeDir, tempDir } from "../integration/fixtures";

const dir = tempDir("store");
afterAll(() => removeDir(dir));
let n = 0;
const file = () => path.join(dir, `store-${++n}`, "button.json");

describe("FileStore", () => {
  it("reads back what it wrote, and a new instance on the same file sees it (durable across a restart)", () => {
    const at = file();
    const store = new FileStore({ path: at });
    expect(store.read("seq")).toBeUndefined();
    store.write("seq", "41");
    store.write("pending", '{"message":{}}');
    store.write("seq", "42");
    store.remove("pending");
    store.remove("never-there");
    expect(store.read("seq")).toBe("42");
    const reopened = new FileStore({ path: at });
    expect(reopened.read("seq")).toBe("42");
    expect(reopened.read("pending")).toBeUndefined();
    expect(JSON.parse(fs.readFileSync(at, "utf8"))).toEqual({ seq: "42" });
  });

  it("leaves no temp file behind and keeps the file private (0600)", () => {
    const at = file();
    new FileStore({ path: at }).write("k", "v");
    expect(fs.readdirSync(path.dirname(at))).toEqual(["button.json"]);
    expect(fs.statSync(at).mode & 0o777).toBe(0o600);
  });

  it("a temp file left by a crash mid-write does not change what is read", () => {
    const at = file();
    new FileStore({ path: at }).write("seq", "7");
    fs.writeFileSync(`${at}.12345.tmp`, '{"seq":"8"'); // torn write of a process that died
    expect(new FileStore({ path: at }).read("seq")).toBe("7");
  });

  it("enforces the NVS key limit (15 characters) and the value limit, changing nothing on refusal", () => {
    const store = new FileStore({ path: file() });
    expect("lastAccepted".length).toBeLessThanOrEqual(MAX_KEY_LENGTH);
    store.write("x".repeat(15), "ok");
    expect(() => store.write("x".repeat(16), "no")).toThrow(/1-15 characters/);
    expect(() => store.read("")).toThrow(RangeError);
    expect(() => store.write("big", "é".repeat(2001))).toThrow(/4002 bytes; the limit is 4000/);
    expect(store.read("big")).toBeUndefined();
    expect(new FileStore({ path: store.path }).read("x".repeat(15))).toBe("ok");
  });

  it("refuses to start on a file it cannot read rather than forget a pending order", () => {
    const at = file();
    fs.mkdirSync(path.dirname(at), { recursive: true });
    fs.writeFileSync(at, "{not json");
    expect(() => new FileStore({ path: at })).toThrow(/not valid JSON/);
  });
});
