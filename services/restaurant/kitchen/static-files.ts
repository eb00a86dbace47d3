// The page itself: three small files from ./static (no CDN: works offline), read once at start so a
// missing one fails the start, not a request.
import fs from "node:fs";
import type http from "node:http";
import { fileURLToPath } from "node:url";
import { SECURITY_HEADERS } from "./http-guard";

const STATIC_DIR = fileURLToPath(new URL("./static/", import.meta.url));
const STATIC_FILES: Record<string, { file: string; type: string }> = {
  "/": { file: "index.html", type: "text/html; charset=utf-8" },
  "/kitchen.css": { file: "kitchen.css", type: "text/css; charset=utf-8" },
  "/kitchen.js": { file: "kitchen.js", type: "text/javascript; charset=utf-8" },
};

export type StaticFiles = ReadonlyMap<string, { body: Buffer; type: string }>;

export const STATIC_PATHS: readonly string[] = Object.keys(STATIC_FILES);

export function readStatics(): StaticFiles {
  const statics = new Map<string, { body: Buffer; type: string }>();
  for (const [route, { file, type }] of Object.entries(STATIC_FILES)) {
    statics.set(route, { body: fs.readFileSync(`${STATIC_DIR}${file}`), type });
  }
  return statics;
}

export function serveStatic(statics: StaticFiles, req: http.IncomingMessage, res: http.ServerResponse, pathname: string): void {
  const page = statics.get(pathname)!;
  res.writeHead(200, { ...SECURITY_HEADERS, "Content-Type": page.type, "Content-Length": page.body.length });
  res.end(req.method === "HEAD" ? undefined : page.body);
}
