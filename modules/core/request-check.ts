// Request checks for a small HTTP page that changes something (the button's setup page), as pure data so
// any HTTP server can apply them: the same rules as the kitchen page (services/restaurant/kitchen).
// - Host must name an allowed host: a page on evil.example that resolves to the button (DNS rebinding)
//   sends Host: evil.example.
// - A state-changing request is JSON (a cross-site HTML form cannot send application/json without a CORS
//   preflight, which is never granted), its Origin (when sent) is this page, and Sec-Fetch-Site (when sent)
//   is same-origin or none.
// - A body is at most maxBodyBytes, known from Content-Length before it is read.

export interface RequestFacts {
  method: string;
  /** Header values by lower-case name; a header sent twice is refused by the server adapter. */
  headers: { readonly [name: string]: string | undefined };
}

export interface RequestRules {
  /** Lower-case host names (or addresses) the page answers to. */
  allowedHosts: readonly string[];
  maxBodyBytes: number;
}

export interface Refusal {
  status: 400 | 403 | 405 | 411 | 413 | 415;
  error: string;
}

/** The host name of a Host header (port and IPv6 brackets removed, lower case), or undefined if malformed. */
export function hostnameOf(host: string | undefined): string | undefined {
  if (host === undefined) return undefined;
  const text = host.trim().toLowerCase();
  const bracketed = /^\[([0-9a-f:.]+)\](?::[0-9]{1,5})?$/.exec(text);
  if (bracketed) return bracketed[1];
  const plain = /^([a-z0-9.-]+)(?::[0-9]{1,5})?$/.exec(text);
  return plain ? plain[1] : undefined;
}

/** Checks a request's head: undefined when it may be served, else why not (status + text). */
export function checkRequest(request: RequestFacts, rules: RequestRules): Refusal | undefined {
  const host = request.headers.host;
  const hostname = hostnameOf(host);
  if (hostname === undefined || rules.allowedHosts.indexOf(hostname) < 0) {
    return { status: 403, error: `Host ${JSON.stringify(host ?? "")} is not allowed (this page answers to ${rules.allowedHosts.join(", ")})` };
  }
  const method = request.method.toUpperCase();
  if (method === "GET" || method === "HEAD") {
    return request.headers["content-length"] !== undefined && request.headers["content-length"] !== "0" ? { status: 400, error: "a GET has no body" } : undefined;
  }
  if (method !== "POST") return { status: 405, error: `method ${method} not allowed` };
  const type = (request.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();
  if (type !== "application/json") return { status: 415, error: "send the body as Content-Type: application/json" };
  const origin = request.headers.origin;
  if (origin !== undefined && origin !== `http://${host!.trim().toLowerCase()}`) return { status: 403, error: `cross-origin request from ${origin} refused` };
  const site = request.headers["sec-fetch-site"];
  if (site !== undefined && site !== "same-origin" && site !== "none") return { status: 403, error: `cross-site request (${site}) refused` };
  if (request.headers["transfer-encoding"] !== undefined) return { status: 411, error: "send a Content-Length, not a chunked body" };
  const length = request.headers["content-length"];
  if (length === undefined || !/^[0-9]{1,9}$/.test(length.trim())) return { status: 411, error: "a POST needs a Content-Length" };
  if (Number(length) > rules.maxBodyBytes) return { status: 413, error: `body larger than ${rules.maxBodyBytes} bytes` };
  return undefined;
}
