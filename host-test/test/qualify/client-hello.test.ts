// The ClientHello reader on real ClientHellos from Node's TLS client, with cipher lists we choose.
import tls from "node:tls";
import { describe, expect, it } from "vitest";
import { catchClientHello } from "../../qualify/case-server";
import { DHE_RSA_SUITES, parseClientHello } from "../../qualify/client-hello";

async function helloOf(options: tls.ConnectionOptions) {
  const catcher = await catchClientHello(() => 0);
  try {
    const socket = tls.connect({ host: "127.0.0.1", port: catcher.port, rejectUnauthorized: true, ...options });
    socket.on("error", () => undefined); // the catcher hangs up after the hello
    const { bytes } = await catcher.hello;
    socket.destroy();
    return parseClientHello(bytes)!;
  } finally {
    await catcher.close();
  }
}

describe("parseClientHello", () => {
  it("lists the offered suites in order, and TLS 1.2 only when capped at 1.2", async () => {
    const hello = await helloOf({ maxVersion: "TLSv1.2", ciphers: "ECDHE-RSA-AES128-GCM-SHA256:AES128-SHA" });
    expect(hello.version).toBe(0x0303);
    expect(hello.cipherSuites.filter((s) => s !== 0x00ff)).toEqual([0xc02f, 0x002f]);
    expect(hello.supportedVersions ?? [0x0303]).not.toContain(0x0304);
  });

  it("sees the DHE_RSA suites Node offers by default, and TLS 1.3 in supported_versions", async () => {
    const hello = await helloOf({});
    expect(hello.cipherSuites.some((s) => DHE_RSA_SUITES.has(s))).toBe(true);
    expect(hello.supportedVersions).toContain(0x0304);
  });

  it("waits for more bytes on a partial record, and refuses what is not a handshake", () => {
    expect(parseClientHello(Buffer.from([22, 3, 1, 0, 200, 1]))).toBeUndefined();
    expect(() => parseClientHello(Buffer.from("GET / HTTP/1.1\r\n\r\n"))).toThrow(/not a TLS handshake/);
  });
});
