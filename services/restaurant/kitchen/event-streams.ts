// The open event streams (server-sent events) of the kitchen page, with a cap: a stream holds a socket
// for as long as the page is open, so an address may hold at most `perAddress` and the page at most
// `total`. Past either, the newest request is refused with 503 and Retry-After; streams already open
// (staff's pages) are never dropped to make room.
import type http from "node:http";
import { HttpError, SECURITY_HEADERS } from "./http-guard";

export interface StreamLimits {
  /** Open streams from one remote address. */
  perAddress: number;
  /** Open streams in all. */
  total: number;
}

/** A kitchen has a few screens; a browser opens one stream per tab. */
export const DEFAULT_STREAM_LIMITS: StreamLimits = { perAddress: 8, total: 64 };
/** Seconds a refused page waits before it tries again. */
const RETRY_AFTER_S = 10;

export class EventStreams {
  readonly #limits: StreamLimits;
  readonly #open = new Map<http.ServerResponse, string>();
  readonly #perAddress = new Map<string, number>();

  constructor(limits: StreamLimits) {
    for (const [name, value] of Object.entries(limits)) {
      if (!Number.isSafeInteger(value) || value < 1) throw new Error(`kitchen: streamLimits.${name} must be a whole number ≥ 1`);
    }
    this.#limits = limits;
  }

  get size(): number {
    return this.#open.size;
  }

  /** Starts a stream with its first frame; throws a 503 HttpError when a limit is reached. */
  open(req: http.IncomingMessage, res: http.ServerResponse, firstFrame: string): void {
    const address = req.socket.remoteAddress ?? "unknown";
    const fromAddress = this.#perAddress.get(address) ?? 0;
    if (this.#open.size >= this.#limits.total || fromAddress >= this.#limits.perAddress) {
      const which = fromAddress >= this.#limits.perAddress ? `${this.#limits.perAddress} from one address` : `${this.#limits.total} in all`;
      throw new HttpError(503, `too many open event streams (at most ${which}); close another kitchen page`, { "Retry-After": String(RETRY_AFTER_S) });
    }
    res.writeHead(200, { ...SECURITY_HEADERS, "Content-Type": "text/event-stream; charset=utf-8", Connection: "keep-alive" });
    res.write(`retry: 2000\n${firstFrame}`);
    this.#open.set(res, address);
    this.#perAddress.set(address, fromAddress + 1);
    req.socket.setNoDelay(true);
    const done = () => this.#forget(res);
    req.on("close", done);
    res.on("error", done);
  }

  broadcast(event: string, data: unknown): void {
    this.write(frame(event, data));
  }

  write(text: string): void {
    for (const res of this.#open.keys()) res.write(text);
  }

  closeAll(): void {
    for (const res of this.#open.keys()) res.end();
    this.#open.clear();
    this.#perAddress.clear();
  }

  #forget(res: http.ServerResponse): void {
    const address = this.#open.get(res);
    if (address === undefined) return;
    this.#open.delete(res);
    const left = (this.#perAddress.get(address) ?? 1) - 1;
    if (left > 0) this.#perAddress.set(address, left);
    else this.#perAddress.delete(address);
  }
}

export function frame(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}
