// The kitchen page's HTTP hardening, apart from its routes: the Host allow-list (DNS rebinding), the
// JSON-only same-origin rule for POSTs (CSRF), a bounded body reader, the security headers every answer
// carries, the deadlines that close connections which hold the server without finishing a request, and
// errors as JSON.
import http from "node:http";
import type { Log } from "../../../modules/core/ports";

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export const MAX_BODY_BYTES = 4096;
/** Always allowed: the page opened on this computer. */
export const LOOPBACK_HOSTS: readonly string[] = ["localhost", "127.0.0.1", "::1"];
const WILDCARD_ADDRESSES = new Set(["0.0.0.0", "::", "0:0:0:0:0:0:0:0"]);

export const SECURITY_HEADERS: Record<string, string> = {
  "Content-Security-Policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  "X-Content-Type-Options": "nosniff",
  "X-Frame-Options": "DENY",
  "Referrer-Policy": "no-referrer",
  "Cross-Origin-Resource-Policy": "same-origin",
  "Cache-Control": "no-store",
};

export interface KitchenTimeouts {
  /** No traffic at all on a connection (before a request, between requests). */
  idleMs: number;
  /** A request's headers must be complete within this. */
  headersMs: number;
  /** A request, body included, must be complete within this. */
  requestMs: number;
}

export const DEFAULT_TIMEOUTS: KitchenTimeouts = { idleMs: 30_000, headersMs: 10_000, requestMs: 30_000 };

/** The Host names the page answers to: loopback names, the listen address unless it is a wildcard, and `extra`. */
export function allowedHostsFor(listenHost: string, extra: readonly string[] = []): Set<string> {
  const allowed = new Set(LOOPBACK_HOSTS);
  if (!WILDCARD_ADDRESSES.has(listenHost)) allowed.add(listenHost.toLowerCase());
  for (const name of extra) allowed.add(name.toLowerCase());
  return allowed;
}

/** DNS rebinding: a page on evil.example resolving to this server sends Host: evil.example. */
export function checkHost(req: http.IncomingMessage, allowed: ReadonlySet<string>): void {
  const hostname = hostnameOf(req.headers.host);
  if (hostname === undefined || !allowed.has(hostname)) {
    throw new HttpError(403, `Host ${JSON.stringify(req.headers.host ?? "")} is not allowed (this page answers to ${[...allowed].join(", ")}; add a name with --allowed-host)`);
  }
}

/** CSRF: only JSON from this page's own origin. */
export function checkJsonPost(req: http.IncomingMessage): void {
  const type = (req.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();
  if (type !== "application/json") throw new HttpError(415, "send the body as Content-Type: application/json");
  const origin = req.headers.origin;
  if (origin !== undefined && origin !== `http://${req.headers.host ?? ""}`) {
    throw new HttpError(403, `cross-origin request from ${origin} refused`);
  }
  const site = req.headers["sec-fetch-site"];
  if (site !== undefined && site !== "same-origin" && site !== "none") {
    throw new HttpError(403, `cross-site request (${site}) refused`);
  }
}

/** The body as a JSON object, at most MAX_BODY_BYTES (an empty body is {}). */
export async function readJsonBody(req: http.IncomingMessage): Promise<Record<string, unknown>> {
  const declared = Number(req.headers["content-length"] ?? 0);
  if (declared > MAX_BODY_BYTES) throw new HttpError(413, `body larger than ${MAX_BODY_BYTES} bytes`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new HttpError(413, `body larger than ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString("utf8");
  if (text.trim() === "") return {};
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new HttpError(400, "body is not valid JSON");
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) throw new HttpError(400, "body must be a JSON object");
  return body as Record<string, unknown>;
}

export function send(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { ...SECURITY_HEADERS, "Content-Type": "application/json; charset=utf-8", "Content-Length": Buffer.byteLength(text), ...headers });
  res.end(text);
}

/** A handler's error as the JSON answer (500s are logged with their stack, never shown). */
export function answerError(req: http.IncomingMessage, res: http.ServerResponse, error: unknown, log: Log | undefined): void {
  const status = error instanceof HttpError ? error.status : 500;
  if (status === 500) log?.error(`kitchen: ${req.method} ${req.url}: ${(error as Error).stack ?? String(error)}`);
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const message = status === 500 ? "internal error (see the restaurant's log)" : (error as Error).message;
  // A rejected body is not read to the end: close the connection rather than parse what follows.
  send(res, status, { error: message }, { ...(error instanceof HttpError ? error.headers : {}), ...(status === 413 ? { Connection: "close" } : {}) });
}

export function httpServerOptions(timeouts: KitchenTimeouts): http.ServerOptions {
  return {
    // Node checks header and request deadlines on this interval; its default (30 s) would let a slow
    // client hold a connection far past them.
    connectionsCheckingInterval: Math.max(50, Math.min(timeouts.headersMs, timeouts.requestMs) / 4),
    headersTimeout: timeouts.headersMs,
    requestTimeout: Math.max(timeouts.requestMs, timeouts.headersMs),
    // Between requests on a kept-alive connection: Node's own 5 s, or less.
    keepAliveTimeout: Math.min(5_000, timeouts.idleMs),
  };
}

function hostnameOf(hostHeader: string | undefined): string | undefined {
  if (!hostHeader) return undefined;
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(hostHeader);
  if (bracketed) return bracketed[1]!.toLowerCase();
  const plain = /^([^:]+)(?::\d+)?$/.exec(hostHeader);
  return plain?.[1]?.toLowerCase();
}
