// Certificate renewal on the device, with the same key: when the certificate in use is within `windowDays`
// of its notAfter (by the wall clock), the button asks the renewal service for a new one on its own topic,
// on a short connection of its own after an order's outcome (never before or during an order; button.ts says
// how each connection mode makes room for it). It checks the
// answer against the certificate it holds (same public key, subject and issuer; valid now; later notAfter)
// and only then stores it; the host's transport presents the stored certificate from its next connection.
// Anything else (no answer, refusal, a certificate that does not match) keeps the old one and retries later
// with backoff: a renewal can never leave the button without a certificate that worked before.
//
//   device  → <prefix>/renew/<thing>     {"v":1,"serial":"<hex serial of the certificate in use>"}
//   service → <prefix>/renewed/<thing>   {"v":1,"status":"issued","cert":"<base64 DER>"}
//                                        {"v":1,"status":"refused","reason":"…"}

import { Backoff } from "./backoff";
import { base64Decode, base64Encode, readCertificate, sameBytes, type CertificateFields } from "./der";
import type { ConnectionHandlers, Clock, Log, MqttConnection, MqttConnector, Store, TimerHandle, Timers } from "./ports";
import { renewedTopic, renewTopic } from "./topics";
import { utf8Decode, utf8Encode } from "./utf8";
import { CLOCK_SET_AFTER_MS } from "./wall-clock";

/** Store key of the renewed certificate (base64 DER; NVS keys ≤ 15 characters, values ≤ 4000 bytes). */
export const RENEWED_CERT_KEY = "renewedCert";
export const MAX_STORED_CERT_CHARS = 4000;
export const MAX_RENEWAL_ANSWER_BYTES = 8192;
/** A device asks for a renewal when fewer than this many days are left; the renewal service holds it to that. */
export const RENEWAL_WINDOW_DAYS = 60;
const DAY = 86_400_000;
/** The PKI backdates notBefore by 5 minutes; allow the device's SNTP clock the same slack. */
const CLOCK_SKEW_MS = 5 * 60_000;

export type RenewalRequest = { v: 1; serial: string };
export type RenewalAnswer = { v: 1; status: "issued"; cert: string } | { v: 1; status: "refused"; reason: string };

export function encodeRenewalRequest(request: { serial: string }): Uint8Array {
  return utf8Encode(JSON.stringify({ v: 1, serial: request.serial }));
}

export function decodeRenewalRequest(payload: Uint8Array): { ok: true; value: RenewalRequest } | { ok: false; reason: string } {
  const parsed = parseJson(payload, 512);
  if (!parsed.ok) return parsed;
  const o = parsed.value;
  if (o.v !== 1) return { ok: false, reason: "v must be 1" };
  if (typeof o.serial !== "string" || !/^[0-9a-f]{2,40}$/.test(o.serial)) return { ok: false, reason: "serial must be 2-40 lower-case hex digits" };
  return { ok: true, value: { v: 1, serial: o.serial } };
}

export function encodeRenewalAnswer(answer: { status: "issued"; cert: string } | { status: "refused"; reason: string }): Uint8Array {
  return utf8Encode(JSON.stringify({ v: 1, ...answer }));
}

export function decodeRenewalAnswer(payload: Uint8Array): { ok: true; value: RenewalAnswer } | { ok: false; reason: string } {
  const parsed = parseJson(payload, MAX_RENEWAL_ANSWER_BYTES);
  if (!parsed.ok) return parsed;
  const o = parsed.value;
  if (o.v !== 1) return { ok: false, reason: "v must be 1" };
  if (o.status === "issued") {
    if (typeof o.cert !== "string" || o.cert.length === 0) return { ok: false, reason: "cert must be base64 DER" };
    return { ok: true, value: { v: 1, status: "issued", cert: o.cert } };
  }
  if (o.status === "refused") return { ok: true, value: { v: 1, status: "refused", reason: typeof o.reason === "string" ? o.reason.slice(0, 200) : "no reason given" } };
  return { ok: false, reason: "status must be issued or refused" };
}

function parseJson(payload: Uint8Array, max: number): { ok: true; value: Record<string, unknown> } | { ok: false; reason: string } {
  if (payload.length > max) return { ok: false, reason: `larger than ${max} bytes` };
  const text = utf8Decode(payload);
  if (text === undefined) return { ok: false, reason: "not UTF-8" };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, reason: "not JSON" };
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return { ok: false, reason: "not a JSON object" };
  return { ok: true, value: value as Record<string, unknown> };
}

/**
 * Why `candidate` may not replace `current`, or undefined when it may: same public key, subject and issuer
 * (its CA), valid now (with 5 minutes of clock slack) and ending later than `current`.
 */
export function renewedCertificateProblem(current: CertificateFields, candidateDer: Uint8Array, now: number): string | undefined {
  const c = readCertificate(candidateDer);
  if (!c) return "not a DER certificate";
  if (!sameBytes(c.subjectPublicKeyInfo, current.subjectPublicKeyInfo)) return "a different public key";
  if (!sameBytes(c.subject, current.subject)) return "a different subject";
  if (!sameBytes(c.issuer, current.issuer)) return "a different issuer";
  if (c.notBefore > now + CLOCK_SKEW_MS) return "not valid yet";
  if (c.notAfter <= now) return "already expired";
  if (c.notAfter <= current.notAfter) return "does not end later than the certificate in use";
  return undefined;
}

export type RenewalEvent =
  | { type: "renewal"; step: "asking"; serial: string; notAfter: number }
  | { type: "renewal"; step: "renewed"; serial: string; notAfter: number }
  | { type: "renewal"; step: "failed"; reason: string; retryInMs: number };

export interface CertificateRenewalOptions {
  thingName: string;
  topicPrefix: string;
  /** The certificate the device was provisioned with (DER): used until a renewed one is stored. */
  provisioned: Uint8Array;
  timers: Timers;
  clock: Clock;
  store: Store;
  /** A connector whose connections present `current()` (the host reads it at each connect). */
  connector: MqttConnector;
  log: Log;
  /** Renew when fewer than this many days are left. Default RENEWAL_WINDOW_DAYS. */
  windowDays?: number;
  /** How long to wait for the answer once connected. Default 20 s. */
  answerTimeoutMs?: number;
  /** Retry delays after a failed renewal. Default 1 min base, 6 h cap (full jitter). */
  retryBaseMs?: number;
  retryCapMs?: number;
  random?: () => number;
  onEvent?(event: RenewalEvent): void;
}

export class CertificateRenewal {
  private readonly o: CertificateRenewalOptions;
  private readonly backoff: Backoff;
  private readonly provisioned: CertificateFields;
  private notBeforeMs = 0;
  private attempt: { connection: MqttConnection | undefined; timer: TimerHandle | undefined; done: boolean; readyEarly: boolean; onDone: (() => void) | undefined } | undefined;

  constructor(options: CertificateRenewalOptions) {
    this.o = options;
    const provisioned = readCertificate(options.provisioned);
    if (!provisioned) throw new Error("certificate renewal: the provisioned certificate is not DER");
    this.provisioned = provisioned;
    this.backoff = new Backoff({ baseMs: options.retryBaseMs ?? 60_000, capMs: options.retryCapMs ?? 6 * 3_600_000, ...(options.random ? { random: options.random } : {}) });
  }

  /**
   * The certificate to present (DER): the stored renewed one when it still matches the provisioned key,
   * subject and issuer and ends later, else the provisioned one.
   */
  current(): Uint8Array {
    return this.currentWithFields().der;
  }

  private currentWithFields(): { der: Uint8Array; fields: CertificateFields } {
    const stored = this.o.store.read(RENEWED_CERT_KEY);
    if (stored !== undefined) {
      const der = base64Decode(stored);
      const fields = der && readCertificate(der);
      if (der && fields && sameBytes(fields.subjectPublicKeyInfo, this.provisioned.subjectPublicKeyInfo) && sameBytes(fields.issuer, this.provisioned.issuer) && fields.notAfter > this.provisioned.notAfter) {
        return { der, fields };
      }
      this.o.log.warn("certificate renewal: the stored certificate does not match the provisioned one; using the provisioned one");
    }
    return { der: this.o.provisioned, fields: this.provisioned };
  }

  /** True when the certificate in use ends within the window (and the clock is set). */
  due(): boolean {
    const now = this.o.clock.now();
    if (now < CLOCK_SET_AFTER_MS) return false;
    return this.currentWithFields().fields.notAfter - now <= (this.o.windowDays ?? RENEWAL_WINDOW_DAYS) * DAY;
  }

  /** True while a renewal connection is open. */
  get busy(): boolean {
    return this.attempt !== undefined;
  }

  /** True when run() would start an attempt now: due, not already renewing, not waiting out a retry delay. */
  get wanted(): boolean {
    return !this.attempt && this.o.clock.now() >= this.notBeforeMs && this.due();
  }

  /**
   * Renews now if wanted (see `wanted`); returns whether an attempt started. `onDone` is called once the
   * attempt has ended (renewed, failed or aborted), after its connection was closed. Hosts call it when the
   * button is idle.
   */
  run(onDone?: () => void): boolean {
    if (!this.wanted) return false;
    const { fields } = this.currentWithFields();
    const prefix = this.o.topicPrefix;
    const thing = this.o.thingName;
    const attempt: NonNullable<CertificateRenewal["attempt"]> = { connection: undefined, timer: undefined, done: false, readyEarly: false, onDone };
    this.attempt = attempt;
    this.emit({ type: "renewal", step: "asking", serial: fields.serial, notAfter: fields.notAfter });
    const end = (failure: string | undefined, closeConnection: boolean) => {
      if (attempt.done) return;
      attempt.done = true;
      if (attempt.timer !== undefined) this.o.timers.clear(attempt.timer);
      if (this.attempt === attempt) this.attempt = undefined;
      if (closeConnection) attempt.connection?.close();
      if (failure !== undefined) {
        const retryInMs = this.backoff.next();
        this.notBeforeMs = this.o.clock.now() + retryInMs;
        this.o.log.warn(`certificate renewal failed: ${failure}; keeping the certificate in use, retrying in ${Math.round(retryInMs / 1000)} s or later`);
        this.emit({ type: "renewal", step: "failed", reason: failure, retryInMs });
      }
      // A renewal connection that closed by itself reports it from the transport's callback: the owner's
      // next step (a persistent link reconnecting) runs from a timer, outside it.
      if (attempt.onDone) this.o.timers.set(attempt.onDone, 0);
    };
    const ask = () => {
      if (attempt.done) return;
      attempt.connection!.publish(renewTopic(prefix, thing), encodeRenewalRequest({ serial: fields.serial }));
      attempt.timer = this.o.timers.set(() => end("no answer from the renewal service", true), this.o.answerTimeoutMs ?? 20_000);
    };
    const handlers: ConnectionHandlers = {
      // A ready reported from inside connect() is acted on once connect() has returned the connection.
      onReady: () => (attempt.connection ? ask() : (attempt.readyEarly = true)),
      onMessage: (topic, payload) => {
        if (attempt.done || topic !== renewedTopic(prefix, thing)) return;
        const answer = decodeRenewalAnswer(payload);
        if (!answer.ok) return end(`bad answer: ${answer.reason}`, true);
        if (answer.value.status === "refused") return end(`refused: ${answer.value.reason}`, true);
        const der = base64Decode(answer.value.cert);
        if (!der) return end("bad answer: cert is not base64", true);
        const problem = renewedCertificateProblem(fields, der, this.o.clock.now());
        if (problem) return end(`the certificate in the answer was refused: ${problem}`, true);
        const text = base64Encode(der);
        if (text.length > MAX_STORED_CERT_CHARS) return end(`the certificate is larger than the store allows (${text.length} > ${MAX_STORED_CERT_CHARS})`, true);
        try {
          this.o.store.write(RENEWED_CERT_KEY, text);
        } catch (error) {
          return end(`cannot store it: ${(error as Error).message}`, true);
        }
        this.backoff.reset();
        this.notBeforeMs = 0;
        const renewed = readCertificate(der)!;
        this.o.log.info(`certificate renewed: serial ${renewed.serial}, valid until ${new Date(renewed.notAfter).toISOString()}; used from the next connection`);
        end(undefined, true);
        this.emit({ type: "renewal", step: "renewed", serial: renewed.serial, notAfter: renewed.notAfter });
      },
      onClose: (_kind, detail) => end(`connection closed before the answer (${detail})`, false),
    };
    try {
      attempt.connection = this.o.connector.connect({ subscribe: renewedTopic(prefix, thing) }, handlers);
    } catch (error) {
      end(`cannot connect: ${(error as Error).message}`, false);
    }
    if (attempt.done) attempt.connection?.close();
    else if (attempt.readyEarly) ask();
    return true;
  }

  /** Gives the connection up (a click needs the network, or the host stops); counts as a failed attempt. */
  abort(reason: string): void {
    const attempt = this.attempt;
    if (!attempt || attempt.done) return;
    attempt.done = true;
    if (attempt.timer !== undefined) this.o.timers.clear(attempt.timer);
    this.attempt = undefined;
    attempt.connection?.close();
    const retryInMs = this.backoff.next();
    this.notBeforeMs = this.o.clock.now() + retryInMs;
    this.emit({ type: "renewal", step: "failed", reason: `aborted: ${reason}`, retryInMs });
    attempt.onDone?.(); // the owner is here already (a click, a stop): no need to wait for a timer
  }

  private emit(event: RenewalEvent): void {
    this.o.onEvent?.(event);
  }
}
