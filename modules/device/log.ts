// Log port on trace (serial console / xsbug on a device, stdout on the Linux host build).

import type { Log } from "../core/ports";

export const traceLog: Log = {
  info: (message) => trace(`info: ${message}\n`),
  warn: (message) => trace(`warn: ${message}\n`),
  error: (message) => trace(`error: ${message}\n`),
};
