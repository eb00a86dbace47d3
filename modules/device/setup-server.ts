// The setup page (core/setup-page.ts) on the SDK's HTTP server (modules/network/http), on the ESP32 and
// the headless build alike. The adapter adds what only a server can: a request that is not over in
// REQUEST_TIMEOUT_MS is closed, a head over MAX_HEAD_BYTES or with a header twice is refused, a refused
// request's body is skipped unread, and a response goes out in pieces the socket has room for (the SDK
// sends a one-piece body only once it fits the socket's buffer whole, which a page never does on Linux).

import { Server } from "http";
import type { Log } from "../core/ports";
import { asciiJson, type SetupPage, type SetupResponse } from "../core/setup-page";
import { sdkTimers as timers } from "./timers";

const REQUEST_TIMEOUT_MS = 10_000;
const MAX_HEAD_BYTES = 4096;

export interface SetupServerOptions {
  port: number;
  page: SetupPage;
  log: Log;
  /** The settings were saved and the answer has gone out: restart into normal mode. */
  onSaved(): void;
}

/** Per-request state, on the SDK's request object. */
interface Exchange {
  method: string;
  path: string;
  headers: { [name: string]: string };
  headBytes: number;
  refusal: SetupResponse | undefined;
  body: Uint8Array | undefined;
  saved: boolean;
  timer: unknown;
  /** The response body still to send. */
  out: string;
}

type SdkRequest = { close(): void; pizza?: Exchange };

export function startSetupServer(options: SetupServerOptions): Server {
  const { page, log } = options;
  const server = new Server({ port: options.port });
  const refuse = (x: Exchange, status: number, error: string) => {
    x.refusal ??= { status, headers: ["content-type", "application/json"], body: asciiJson({ error }) };
  };
  server.callback = function (this: unknown, message: number, value1?: unknown, value2?: unknown) {
    const request = this as SdkRequest;
    const x = request.pizza;
    switch (message) {
      case Server.connection: {
        const exchange: Exchange = { method: "", path: "", headers: {}, headBytes: 0, refusal: undefined, body: undefined, saved: false, timer: undefined, out: "" };
        exchange.timer = timers.set(() => {
          exchange.timer = undefined;
          log.warn("setup page: request not finished in time: closed");
          try {
            request.close();
          } catch {
            // already closed
          }
        }, REQUEST_TIMEOUT_MS);
        request.pizza = exchange;
        return;
      }
      case Server.status:
        if (!x) return;
        x.path = String(value1);
        x.method = String(value2);
        x.headBytes += x.path.length + x.method.length;
        return;
      case Server.header: {
        if (!x) return;
        const name = String(value1);
        x.headBytes += name.length + String(value2).length + 4;
        if (x.headBytes > MAX_HEAD_BYTES) refuse(x, 431, `request head larger than ${MAX_HEAD_BYTES} bytes`);
        else if (Object.prototype.hasOwnProperty.call(x.headers, name)) refuse(x, 400, `header ${name} sent twice`);
        else x.headers[name] = String(value2);
        return;
      }
      case Server.headersComplete:
        if (!x) return false;
        x.refusal ??= page.refuse({ method: x.method, headers: x.headers });
        if (x.refusal) return false; // the body is skipped, never buffered
        return ArrayBuffer;
      case Server.requestComplete:
        if (x && value1 instanceof ArrayBuffer) x.body = new Uint8Array(value1);
        return;
      case Server.prepareResponse: {
        if (!x) return { status: 500, headers: [], body: "" };
        const response = x.refusal ?? page.handle({ method: x.method, path: x.path, headers: x.headers, body: x.body });
        x.saved = response.saved === true;
        if (response.status >= 400) log.warn(`setup page: ${x.method} ${x.path} → ${response.status}`);
        x.out = response.body;
        return { status: response.status, headers: [...response.headers, "content-length", String(response.body.length)], body: true };
      }
      case Server.responseFragment: {
        if (!x || x.out === "") return undefined;
        const room = Math.max(1, Number(value1));
        const piece = x.out.slice(0, room);
        x.out = x.out.slice(room);
        return piece;
      }
      case Server.responseComplete:
      case Server.error:
        if (!x) return;
        if (x.timer !== undefined) timers.clear(x.timer);
        x.timer = undefined;
        if (message === Server.responseComplete && x.saved) options.onSaved();
        return;
    }
    return undefined;
  } as unknown as Server["callback"];
  return server;
}
