import { describe, expect, it } from "vitest";
import { parseImageUrl } from "../../../modules/core/image-url";

describe("image URL", () => {
  it("takes an https URL apart: host, port (default 443), path with its query", () => {
    expect(parseImageUrl("https://127.0.0.1:8443/images/ab12")).toEqual({ ok: true, value: { host: "127.0.0.1", port: 8443, path: "/images/ab12" } });
    expect(parseImageUrl("https://bucket.s3.eu-central-1.amazonaws.com/1.4.0/fw.bin?X-Amz-Signature=ab&X-Amz-Expires=3600")).toEqual({
      ok: true,
      value: { host: "bucket.s3.eu-central-1.amazonaws.com", port: 443, path: "/1.4.0/fw.bin?X-Amz-Signature=ab&X-Amz-Expires=3600" },
    });
    expect(parseImageUrl("https://images.example")).toEqual({ ok: true, value: { host: "images.example", port: 443, path: "/" } });
  });

  it("refuses plain http, user info, spaces and impossible ports", () => {
    for (const url of ["http://images.example/fw.bin", "https://user@images.example/fw.bin", "https://images.example/a b", "https://images.example:0/x", "https://images.example:70000/x", ""]) {
      expect(parseImageUrl(url).ok, url).toBe(false);
    }
  });
});
