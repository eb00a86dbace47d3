// Where a firmware image is: the job document's `url` taken apart for the board's HTTPS client (the SDK's
// http Request wants host, port and path separately). Only https: the image server must prove who it is.

export interface ImageLocation {
  host: string;
  port: number;
  /** Path and query, e.g. "/images/<sha256>" or an S3 pre-signed URL's "/key?X-Amz-…". */
  path: string;
}

export function parseImageUrl(url: string): { ok: true; value: ImageLocation } | { ok: false; reason: string } {
  const m = /^https:\/\/([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::([0-9]{1,5}))?(\/[^\s#]*)?$/.exec(url);
  if (!m) return { ok: false, reason: "the image URL is not https://host[:port]/path" };
  const port = m[2] === undefined ? 443 : Number(m[2]);
  if (port < 1 || port > 65_535) return { ok: false, reason: `the image URL's port ${m[2]} is not a port` };
  return { ok: true, value: { host: m[1]!, port, path: m[3] ?? "/" } };
}
