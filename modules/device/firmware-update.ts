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
import { type ImageLocation, parseImageUrl } from "../core/image-url";
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
  const download = new ImageDownload(job, o, done, progress);
  const where = parseImageUrl(job.url);
  if (!where.ok) download.fail(where.reason);
  else {
    try {
      const slot = new UpdateImage();
      opened(slot);
      download.start(where.value, slot);
    } catch (error) {
      download.fail(`cannot open the update slot: ${errorText(error)}`);
    }
  }
  return { abort: () => download.stop() };
}

/** One download: chunk after chunk (each its own HTTPS request), until `job.size` bytes or a failure. */
class ImageDownload {
  private ended = false;
  private request: Request | undefined;
  private pending: TimerHandle | undefined;
  private readonly hash = new Sha256();
  private received = 0;
  private tries = 0;
  private where!: ImageLocation;
  private slot!: UpdateImage;

  constructor(
    private readonly job: FirmwareJob,
    private readonly o: FirmwareUpdateOptions,
    private readonly done: (result: DownloadResult) => void,
    private readonly progress: (() => void) | undefined,
  ) {}

  start(where: ImageLocation, slot: UpdateImage): void {
    this.where = where;
    this.slot = slot;
    this.later(() => this.fetchChunk());
  }

  /** Ends with `reason`, from a fresh stack (never inside download() or the HTTP client's callback). */
  fail(reason: string): void {
    this.closeRequest();
    this.later(() => this.finish({ ok: false, reason }));
  }

  /** Stops without calling done (abort). */
  stop(): void {
    this.ended = true;
    if (this.pending !== undefined) this.o.timers.clear(this.pending);
    this.pending = undefined;
    this.closeRequest();
  }

  private finish(result: DownloadResult): void {
    if (this.ended) return;
    this.stop();
    this.done(result);
  }

  private later(callback: () => void): void {
    this.pending = this.o.timers.set(() => {
      this.pending = undefined;
      callback();
    }, 0);
  }

  private closeRequest(): void {
    const request = this.request;
    this.request = undefined;
    try {
      request?.close();
    } catch {
      // already closed
    }
  }

  private retry(why: string): void {
    this.request = undefined;
    if (++this.tries > CHUNK_TRIES) return this.fail(`${why} (${CHUNK_TRIES} tries at byte ${this.received})`);
    this.o.log.warn(`update: ${why}; asking again from byte ${this.received}`);
    this.later(() => this.fetchChunk());
  }

  private fetchChunk(): void {
    if (this.ended) return;
    const { job, where } = this;
    if (this.received === job.size) return this.finish({ ok: true, sha256: new Uint8Array(this.hash.close()) });
    const first = this.received;
    const last = Math.min(job.size, first + DOWNLOAD_CHUNK_BYTES) - 1;
    const secure = {
      protocolVersion: TLS_1_2,
      certificate: this.o.identity.ca,
      clientCertificates: [this.o.certificate()],
      clientKey: this.o.identity.privateKey,
      tls_server_name: where.host,
      cache: false, // the kept TLS session (ssl/cache) belongs to the broker's connection
    };
    const options = { host: where.host, port: where.port, path: where.path, headers: ["Range", `bytes=${first}-${last}`], Socket: SecureSocket, secure };
    let request: Request;
    try {
      request = new Request(options as unknown as ConstructorParameters<typeof Request>[0]);
    } catch (error) {
      return this.retry(`cannot connect to ${where.host}:${where.port}: ${errorText(error)}`);
    }
    this.request = request;
    let status = 0;
    request.callback = (message: number, value?: unknown) => {
      if (this.ended || this.request !== request) return;
      if (message === STATUS) {
        status = Number(value);
        if (status !== 206 && !(status === 200 && first === 0)) this.fail(`the image server answered HTTP ${status}`);
      } else if (message === RESPONSE_FRAGMENT) this.take(request.read(ArrayBuffer));
      else if (message === RESPONSE_COMPLETE) {
        this.request = undefined;
        const expected = status === 206 ? last + 1 : job.size;
        if (this.received !== expected) return this.retry(`the response ended at byte ${this.received} instead of ${expected}`);
        this.tries = 0;
        this.later(() => this.fetchChunk());
      } else if (message < 0) this.retry(`the connection to ${where.host}:${where.port} failed`);
    };
  }

  /** One fragment: into the slot and the hash as it is; never a byte past the job's size. */
  private take(bytes: ArrayBuffer): void {
    if (this.received + bytes.byteLength > this.job.size) return this.fail(`the server sent more than the job's ${this.job.size} bytes`);
    try {
      this.slot.write(bytes);
    } catch (error) {
      return this.fail(`writing the update slot failed: ${errorText(error)}`);
    }
    this.hash.write(bytes);
    this.received += bytes.byteLength;
    this.progress?.();
  }
}
