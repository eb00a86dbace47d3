// The core's FirmwarePort (core/jobs-agent) on the board, identical on the ESP32 and the headless Linux
// host: only "device/update" (the update API: ESP32 OTA slots, or files) differs between them.
//
// download: the job's image over HTTPS with the device's own TLS identity (the image server asks for the
// client certificate the broker knows), as Range requests of DOWNLOAD_CHUNK_BYTES, each streamed into the
// inactive slot and into a SHA-256 as its fragments arrive, so no chunk is ever held whole in memory. A
// chunk that breaks off is asked again from the byte it reached (CHUNK_TRIES times); a server that sends
// more than the job's size, or answers anything but 206 (or 200 with the whole image), ends the download.
// verifySignature: SHA-256 of the statement, the RSA public operation with the release key from the
// build, and a byte-for-byte comparison with the one valid PKCS#1 v1.5 block (core/release-key).
// activate: the slot becomes the next boot (pending verification), then the board restarts into it.
import SecureSocket from "securesocket";
import { Request } from "http";
import { sameBytes } from "../core/der";
import type { FirmwareJob } from "../core/firmware-job";
import { parseImageUrl } from "../core/image-url";
import type { FirmwarePort } from "../core/jobs-agent";
import type { Log, TimerHandle, Timers } from "../core/ports";
import { expectedSignatureBlock, type RsaPublicKey } from "../core/release-key";
import { rsaPublicOperation, Sha256, sha256 } from "device/release-crypto";
import { restart, UpdateImage } from "device/update";
import type { DeviceIdentity } from "./identity";

export const DOWNLOAD_CHUNK_BYTES = 64 * 1024;
const CHUNK_TRIES = 3;
const TLS_1_2 = 0x303;
// The SDK's http Request callback messages.
const STATUS = 1;
const RESPONSE_FRAGMENT = 4;
const RESPONSE_COMPLETE = 5;

export interface FirmwareUpdateOptions {
  identity: DeviceIdentity;
  /** The client certificate (DER) the MQTT connections present now (a renewed one from the store). */
  certificate: () => ArrayBuffer;
  releaseKey: RsaPublicKey;
  timers: Timers;
  log: Log;
}

type DownloadResult = { ok: true; sha256: Uint8Array } | { ok: false; reason: string };

function bufferOf(bytes: Uint8Array): ArrayBuffer {
  return (bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes.buffer : bytes.slice().buffer) as ArrayBuffer;
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export function firmwareUpdatePort(o: FirmwareUpdateOptions): FirmwarePort {
  let image: UpdateImage | undefined;
  const discard = () => {
    if (!image) return;
    try {
      image.cancel();
    } catch (error) {
      o.log.warn(`update: discarding the written image failed: ${errorText(error)}`);
    }
    image = undefined;
  };
  return {
    download(job, done, progress) {
      discard();
      return startDownload(job, o, (opened) => (image = opened), done, progress);
    },

    verifySignature(statement, signature) {
      const { modulus, exponent } = o.releaseKey;
      if (signature.length !== modulus.length) return false;
      const decoded = rsaPublicOperation(bufferOf(modulus), bufferOf(exponent), bufferOf(signature));
      if (!decoded) return false;
      const digest = new Uint8Array(sha256(bufferOf(statement)));
      return sameBytes(new Uint8Array(decoded), expectedSignatureBlock(digest, modulus.length));
    },

    discard,

    activate() {
      const written = image;
      image = undefined;
      try {
        written?.complete();
      } catch (error) {
        // The previous image boots again and reports the job FAILED (core/update-probation).
        o.log.error(`update: the new image cannot be made the next boot: ${errorText(error)}`);
      }
      restart();
    },
  };
}

function startDownload(
  job: FirmwareJob,
  o: FirmwareUpdateOptions,
  opened: (image: UpdateImage) => void,
  done: (result: DownloadResult) => void,
  progress: (() => void) | undefined,
): { abort(): void } {
  let ended = false;
  let request: Request | undefined;
  let pending: TimerHandle | undefined;
  const later = (callback: () => void) => {
    // From a fresh stack: never inside the caller (the agent expects done after download() returned), nor
    // inside the HTTP client's own callback for the next request.
    pending = o.timers.set(() => {
      pending = undefined;
      callback();
    }, 0);
  };
  const stop = () => {
    ended = true;
    if (pending !== undefined) o.timers.clear(pending);
    pending = undefined;
    const r = request;
    request = undefined;
    try {
      r?.close();
    } catch {
      // already closed
    }
  };
  const finish = (result: DownloadResult) => {
    if (ended) return;
    stop();
    done(result);
  };
  const fail = (reason: string) => later(() => finish({ ok: false, reason }));

  const where = parseImageUrl(job.url);
  if (!where.ok) {
    fail(where.reason);
    return { abort: stop };
  }
  const { host, port, path } = where.value;
  let slot: UpdateImage;
  try {
    slot = new UpdateImage();
  } catch (error) {
    fail(`cannot open the update slot: ${errorText(error)}`);
    return { abort: stop };
  }
  opened(slot);
  const hash = new Sha256();
  let received = 0;
  let tries = 0;

  const fetchChunk = () => {
    if (ended) return;
    if (received === job.size) {
      finish({ ok: true, sha256: new Uint8Array(hash.close()) });
      return;
    }
    const start = received;
    const last = Math.min(job.size, start + DOWNLOAD_CHUNK_BYTES) - 1;
    let status = 0;
    const secure = {
      protocolVersion: TLS_1_2,
      certificate: o.identity.ca,
      clientCertificates: [o.certificate()],
      clientKey: o.identity.privateKey,
      tls_server_name: host,
      cache: false, // the kept TLS session (ssl/cache) belongs to the broker's connection
    };
    const options = { host, port, path, headers: ["Range", `bytes=${start}-${last}`], Socket: SecureSocket, secure };
    const retry = (why: string) => {
      request = undefined;
      if (++tries > CHUNK_TRIES) return fail(`${why} (${CHUNK_TRIES} tries at byte ${received})`);
      o.log.warn(`update: ${why}; asking again from byte ${received}`);
      later(fetchChunk);
    };
    let current: Request;
    try {
      current = new Request(options as unknown as ConstructorParameters<typeof Request>[0]);
    } catch (error) {
      return retry(`cannot connect to ${host}:${port}: ${errorText(error)}`);
    }
    request = current;
    current.callback = (message: number, value?: unknown) => {
      if (ended || request !== current) return;
      if (message === STATUS) {
        status = Number(value);
        if (status !== 206 && !(status === 200 && start === 0)) {
          request = undefined;
          current.close();
          fail(`the image server answered HTTP ${status}`);
        }
      } else if (message === RESPONSE_FRAGMENT) {
        const bytes = current.read(ArrayBuffer);
        if (received + bytes.byteLength > job.size) {
          request = undefined;
          current.close();
          fail(`the server sent more than the job's ${job.size} bytes`);
          return;
        }
        try {
          slot.write(bytes);
        } catch (error) {
          request = undefined;
          current.close();
          fail(`writing the update slot failed: ${errorText(error)}`);
          return;
        }
        hash.write(bytes);
        received += bytes.byteLength;
        progress?.();
      } else if (message === RESPONSE_COMPLETE) {
        request = undefined;
        if (status === 206 && received !== last + 1) return retry(`the chunk ended at byte ${received} instead of ${last + 1}`);
        if (status === 200 && received !== job.size) return retry(`the image ended at byte ${received} of ${job.size}`);
        tries = 0;
        later(fetchChunk);
      } else if (message < 0) {
        retry(`the connection to ${host}:${port} failed`);
      }
    };
  };
  later(fetchChunk);
  return { abort: stop };
}
