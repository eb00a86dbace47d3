// `mqtts://host:port` → host and port. Only mqtts: every connection in this product is TLS.
export function parseMqttsUrl(url: string): { host: string; port: number } {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new Error(`broker URL ${JSON.stringify(url)} is not a URL (expected mqtts://host:port)`);
  }
  if (parsed.protocol !== "mqtts:") {
    throw new Error(`broker URL ${JSON.stringify(url)} must use mqtts:// (TLS is required)`);
  }
  const host = parsed.hostname.replace(/^\[(.*)\]$/, "$1");
  if (!host) throw new Error(`broker URL ${JSON.stringify(url)} has no host`);
  if (parsed.pathname !== "" && parsed.pathname !== "/") {
    throw new Error(`broker URL ${JSON.stringify(url)} must not have a path`);
  }
  const port = parsed.port === "" ? 8883 : Number(parsed.port);
  return { host, port };
}
