// Keeps a running broker's trust (CAs, CRLs) in step with its PKI directory, without a restart.
// The PKI tool (another process) commits to the registry store (registry.db and its write-ahead log) and
// rewrites crl.pem (temp file + rename) whenever it revokes a thing, registers a CA or re-signs the CRLs.
// We watch the directory (not the files: a rename replaces the inode a file watch would hold), debounce
// the burst of events one command makes, read the trust material fresh and hand it to the broker only if it
// changed. A poll of the store's change counter backs the watch up (fs.watch can miss events on some file
// systems), and the CRLs are re-signed before they expire: an expired CRL makes OpenSSL refuse every
// certificate.
import fs from "node:fs";
import { Pki } from "../../tools/pki/pki";
import { PKI_CHANGE_FILES } from "../../tools/pki/store";

export interface TrustSource {
  ca: string[];
  crl: string[];
  /** The broker's own certificate and key (PEM): `pki broker cert --renew` replaces them. */
  server?: { cert: string; key: string };
  /** Trusted CAs without a CRL: node:tls refuses their certificates while a CRL is configured. */
  missingCrl: string[];
}

export interface TrustReloadOptions {
  dir: string;
  /** Reads the current trust material (Pki.trustMaterial). Throwing keeps the old trust. */
  read(): TrustSource;
  /** Applies it (RunningBroker.updateTrust). Throwing keeps the old trust. */
  apply(trust: { ca: string[]; crl: string[]; server?: { cert: string; key: string } }): void;
  /** Something in the PKI dir changed (after the debounce), whether or not the trust did. */
  onChange?(): void;
  log(event: string, fields: Record<string, unknown>): void;
  /** Quiet time after the last file event before reloading. */
  debounceMs?: number;
  /** The registry store's change counter (RegistryStore.generation): polled, a change means a reload. */
  generation?(): number;
  /** Fallback poll; 0 disables. */
  pollMs?: number;
  /** How often to re-sign CRLs that are close to their nextUpdate (Pki.open does it); 0 disables. */
  crlRefreshMs?: number;
}


export interface TrustReloader {
  /** Reads and applies now if the trust changed; resolves to what happened. */
  check(trigger: string): "updated" | "unchanged" | "failed";
  close(): void;
}

export function watchTrust(options: TrustReloadOptions): TrustReloader {
  const debounceMs = options.debounceMs ?? 150;
  let current = fingerprint(options.read());
  let timer: NodeJS.Timeout | undefined;
  let closed = false;

  const check = (trigger: string): "updated" | "unchanged" | "failed" => {
    let trust: TrustSource;
    try {
      trust = options.read();
    } catch (error) {
      options.log("trust-reload-failed", { trigger, reason: (error as Error).message, action: "keeping the current trust" });
      return "failed";
    }
    const next = fingerprint(trust);
    if (next === current) return "unchanged";
    try {
      options.apply({ ca: trust.ca, crl: trust.crl, ...(trust.server ? { server: trust.server } : {}) });
    } catch (error) {
      options.log("trust-reload-failed", { trigger, reason: (error as Error).message, action: "keeping the current trust" });
      return "failed";
    }
    current = next;
    options.log("trust-reloaded", { trigger, caCount: trust.ca.length, crlCount: trust.crl.length });
    if (trust.missingCrl.length > 0) {
      options.log("trust-warning", { reason: "CAs without a CRL: their certificates are refused until a CRL is imported", cas: trust.missingCrl });
    }
    return "updated";
  };

  let generation = options.generation?.();
  const changed = (trigger: string) => {
    if (closed) return;
    generation = options.generation?.() ?? generation;
    try {
      options.onChange?.();
    } catch (error) {
      options.log("trust-reload-failed", { trigger, reason: `change handler: ${(error as Error).message}` });
    }
    check(trigger);
  };

  const watcher = fs.watch(options.dir, { persistent: false }, (_type, filename) => {
    const name = filename?.toString();
    if (name !== undefined && !PKI_CHANGE_FILES.has(name)) return;
    clearTimeout(timer);
    timer = setTimeout(() => changed(`${name ?? "pki dir"} changed`), debounceMs);
  });
  watcher.on("error", (error) => options.log("trust-watch-error", { reason: error.message, action: "polling only" }));

  const pollMs = options.pollMs ?? (options.generation ? 1_000 : 30_000);
  const poll =
    pollMs > 0
      ? setInterval(() => {
          if (options.generation) {
            // A read of one row: cheap enough to poll every second, so no change waits for the watch.
            const now = options.generation();
            if (now === generation) return;
            generation = now;
            return changed("registry changed");
          }
          changed("poll");
        }, pollMs)
      : undefined;
  poll?.unref();

  const crlRefreshMs = options.crlRefreshMs ?? 3_600_000;
  const refresh =
    crlRefreshMs > 0
      ? setInterval(() => {
          // Pki.open re-signs CRLs that have less than half their validity left; the watch then reloads them.
          Pki.open(options.dir).catch((error: Error) => options.log("crl-refresh-failed", { reason: error.message }));
        }, crlRefreshMs)
      : undefined;
  refresh?.unref();

  return {
    check,
    close() {
      closed = true;
      clearTimeout(timer);
      if (poll) clearInterval(poll);
      if (refresh) clearInterval(refresh);
      watcher.close();
    },
  };
}

function fingerprint(trust: TrustSource): string {
  return JSON.stringify([trust.ca, trust.crl, trust.server?.cert ?? "", trust.server?.key ?? ""]);
}
