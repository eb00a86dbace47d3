// Small instruments the bench attaches to a VirtualDevice without changing it.
import type { Log } from "../../modules/core/ports";
import type { VirtualDevice } from "../device/virtual-device";

export const quietLog: Log = { info() {}, warn() {}, error() {} };

/**
 * Times every store write/remove of a device (its "flash": the core persists seq and the pending order
 * before sending, and the outcome after the ack). `ms` is the running total.
 */
export function timeStore(device: VirtualDevice): { readonly ms: number } {
  const store = device.store;
  const counter = { ms: 0 };
  const write = store.write.bind(store);
  const remove = store.remove.bind(store);
  store.write = (key: string, value: string) => {
    const t = performance.now();
    try {
      write(key, value);
    } finally {
      counter.ms += performance.now() - t;
    }
  };
  store.remove = (key: string) => {
    const t = performance.now();
    try {
      remove(key);
    } finally {
      counter.ms += performance.now() - t;
    }
  };
  return counter;
}
