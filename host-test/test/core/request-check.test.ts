// The setup page's request rules, the kitchen page's rules as pure data.
import { describe, expect, it } from "vitest";
import { checkRequest, hostnameOf } from "../../../modules/core/request-check";

const rules = { allowedHosts: ["127.0.0.1", "localhost", "192.168.4.1"], maxBodyBytes: 2048 };
const post = (headers: Record<string, string>) =>
  checkRequest({ method: "POST", headers: { host: "192.168.4.1", "content-type": "application/json", "content-length": "10", ...headers } }, rules);

describe("checkRequest", () => {
  it("serves a GET to an allowed host, with or without a port", () => {
    expect(checkRequest({ method: "GET", headers: { host: "192.168.4.1" } }, rules)).toBeUndefined();
    expect(checkRequest({ method: "GET", headers: { host: "LOCALHOST:8080" } }, rules)).toBeUndefined();
  });

  it("refuses a foreign or missing Host (DNS rebinding) with 403", () => {
    expect(checkRequest({ method: "GET", headers: { host: "evil.example" } }, rules)).toMatchObject({ status: 403 });
    expect(checkRequest({ method: "GET", headers: {} }, rules)).toMatchObject({ status: 403 });
    expect(checkRequest({ method: "GET", headers: { host: "127.0.0.1.evil.example" } }, rules)).toMatchObject({ status: 403 });
    expect(checkRequest({ method: "GET", headers: { host: "127.0.0.1 evil" } }, rules)).toMatchObject({ status: 403 });
  });

  it("takes a same-origin JSON POST with a Content-Length within the limit", () => {
    expect(post({ origin: "http://192.168.4.1", "sec-fetch-site": "same-origin" })).toBeUndefined();
    expect(post({})).toBeUndefined(); // clients that send neither Origin nor Sec-Fetch-Site
  });

  it("refuses cross-site POSTs: form content types (415), a foreign Origin or Sec-Fetch-Site (403)", () => {
    expect(post({ "content-type": "application/x-www-form-urlencoded" })).toMatchObject({ status: 415 });
    expect(post({ "content-type": "text/plain" })).toMatchObject({ status: 415 });
    expect(post({ origin: "http://evil.example" })).toMatchObject({ status: 403 });
    expect(post({ origin: "null" })).toMatchObject({ status: 403 });
    expect(post({ "sec-fetch-site": "cross-site" })).toMatchObject({ status: 403 });
    expect(post({ "sec-fetch-site": "same-site" })).toMatchObject({ status: 403 });
  });

  it("refuses oversized (413), unsized or chunked (411) bodies, and other methods (405)", () => {
    expect(post({ "content-length": "2049" })).toMatchObject({ status: 413 });
    expect(post({ "content-length": "99999999999" })).toMatchObject({ status: 411 });
    expect(post({ "transfer-encoding": "chunked" })).toMatchObject({ status: 411 });
    expect(checkRequest({ method: "PUT", headers: { host: "localhost" } }, rules)).toMatchObject({ status: 405 });
    expect(checkRequest({ method: "GET", headers: { host: "localhost", "content-length": "5" } }, rules)).toMatchObject({ status: 400 });
  });

  it("hostnameOf strips the port and IPv6 brackets and refuses junk", () => {
    expect(hostnameOf("[::1]:80")).toBe("::1");
    expect(hostnameOf("Example.COM:443")).toBe("example.com");
    expect(hostnameOf("a/b")).toBeUndefined();
    expect(hostnameOf(undefined)).toBeUndefined();
  });
});
