// The local jobs store (SQLite): jobs (a signed release for some things) and one execution per thing, with
// AWS IoT Jobs' execution states. `npm run release -- publish` writes it, `npm run jobs` serves it over MQTT
// and serves the images over HTTPS; both open the same file (WAL), and the service notices new jobs by
// SQLite's data_version. Images are kept by their SHA-256 next to the database.
import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import type { SignedRelease } from "./sign";
import { sha256Hex } from "./sign";
import { isValidJobId } from "../../modules/core/topics";
import {
  type JobExecution,
  type JobExecutionStatus,
  type JobsErrorCode,
  type StatusDetails,
  TERMINAL_STATUSES,
  transitionProblem,
  type UpdateRequest,
} from "../../modules/core/jobs";

/** Where `npm run release -- publish` and `npm run jobs` keep the store by default (git-ignored). */
export const DEFAULT_JOBS_DIR = ".data/jobs";

export interface ExecutionRow {
  jobId: string;
  thing: string;
  status: JobExecutionStatus;
  statusDetails: StatusDetails | undefined;
  versionNumber: number;
  executionNumber: number;
  queuedAt: number;
  updatedAt: number;
  /** The job's signed release (its document without url). */
  release: SignedRelease;
}

export type UpdateResult = { ok: true; execution: ExecutionRow } | { ok: false; code: JobsErrorCode; message: string };

interface RawExecution {
  job_id: string;
  thing: string;
  status: string;
  status_details: string | null;
  version_number: number;
  execution_number: number;
  queued_at: number;
  updated_at: number;
  document: string;
}

export class JobStore {
  readonly dir: string;
  private readonly db: Database.Database;

  private constructor(dir: string, db: Database.Database) {
    this.dir = dir;
    this.db = db;
  }

  static open(dir: string): JobStore {
    const absolute = path.resolve(dir);
    fs.mkdirSync(path.join(absolute, "images"), { recursive: true });
    const db = new Database(path.join(absolute, "jobs.db"));
    db.pragma("journal_mode = WAL");
    db.pragma("busy_timeout = 5000");
    db.exec(`
      CREATE TABLE IF NOT EXISTS jobs (
        job_id TEXT PRIMARY KEY, document TEXT NOT NULL, created_at INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS executions (
        job_id TEXT NOT NULL REFERENCES jobs(job_id), thing TEXT NOT NULL, status TEXT NOT NULL,
        status_details TEXT, version_number INTEGER NOT NULL, execution_number INTEGER NOT NULL,
        queued_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, PRIMARY KEY (job_id, thing));
    `);
    return new JobStore(absolute, db);
  }

  close(): void {
    this.db.close();
  }

  /** Changes when another connection (a publish) committed: the service's cue to notify things. */
  dataVersion(): number {
    return this.db.pragma("data_version", { simple: true }) as number;
  }

  imagePath(sha256: string): string | undefined {
    if (!/^[0-9a-f]{64}$/.test(sha256)) return undefined;
    const file = path.join(this.dir, "images", `${sha256}.bin`);
    return fs.existsSync(file) ? file : undefined;
  }

  /** A job for `things`: the image is stored by its hash (checked against the release), each thing QUEUED. */
  createJob(opts: { jobId: string; release: SignedRelease; image: Uint8Array; things: readonly string[]; now?: number }): void {
    const { jobId, release, image, things } = opts;
    if (!isValidJobId(jobId)) throw new Error(`job id ${JSON.stringify(jobId)} is not 1-64 of A-Z a-z 0-9 _ -`);
    if (things.length === 0) throw new Error("a job needs at least one thing");
    if (image.length !== release.size || sha256Hex(image) !== release.sha256) throw new Error("the image does not match the release (size or SHA-256)");
    if (this.db.prepare("SELECT 1 FROM jobs WHERE job_id = ?").get(jobId)) throw new Error(`job ${jobId} exists: a job id names one release for good`);
    const file = path.join(this.dir, "images", `${release.sha256}.bin`);
    if (!fs.existsSync(file)) {
      const partial = `${file}.${process.pid}.partial`;
      fs.writeFileSync(partial, image);
      fs.renameSync(partial, file);
    }
    const now = opts.now ?? Date.now();
    const insert = this.db.transaction(() => {
      this.db.prepare("INSERT INTO jobs (job_id, document, created_at) VALUES (?, ?, ?)").run(jobId, JSON.stringify(release), now);
      const add = this.db.prepare(
        "INSERT INTO executions (job_id, thing, status, status_details, version_number, execution_number, queued_at, updated_at) VALUES (?, ?, 'QUEUED', NULL, 1, 1, ?, ?)",
      );
      for (const thing of new Set(things)) add.run(jobId, thing, now, now);
    });
    insert();
  }

  /** AWS's $next: the thing's oldest IN_PROGRESS execution, else its oldest QUEUED one. */
  nextExecution(thing: string): ExecutionRow | undefined {
    const row = this.db
      .prepare(
        `SELECT e.*, j.document FROM executions e JOIN jobs j USING (job_id)
         WHERE e.thing = ? AND e.status IN ('IN_PROGRESS', 'QUEUED')
         ORDER BY CASE e.status WHEN 'IN_PROGRESS' THEN 0 ELSE 1 END, e.queued_at, e.job_id LIMIT 1`,
      )
      .get(thing) as RawExecution | undefined;
    return row ? toRow(row) : undefined;
  }

  execution(jobId: string, thing: string): ExecutionRow | undefined {
    const row = this.db.prepare("SELECT e.*, j.document FROM executions e JOIN jobs j USING (job_id) WHERE e.job_id = ? AND e.thing = ?").get(jobId, thing) as RawExecution | undefined;
    return row ? toRow(row) : undefined;
  }

  executions(jobId?: string): ExecutionRow[] {
    const rows = (
      jobId === undefined
        ? this.db.prepare("SELECT e.*, j.document FROM executions e JOIN jobs j USING (job_id) ORDER BY e.queued_at, e.job_id, e.thing").all()
        : this.db.prepare("SELECT e.*, j.document FROM executions e JOIN jobs j USING (job_id) WHERE e.job_id = ? ORDER BY e.thing").all(jobId)
    ) as RawExecution[];
    return rows.map(toRow);
  }

  /** Things with a pending (QUEUED or IN_PROGRESS) execution. */
  thingsWithPendingJobs(): string[] {
    return (this.db.prepare("SELECT DISTINCT thing FROM executions WHERE status IN ('QUEUED', 'IN_PROGRESS') ORDER BY thing").all() as { thing: string }[]).map((r) => r.thing);
  }

  /** A device's report, by AWS's rules: known execution, allowed transition, expectedVersion if given. */
  update(thing: string, jobId: string, request: UpdateRequest, now = Date.now()): UpdateResult {
    const apply = this.db.transaction((): UpdateResult => {
      const current = this.execution(jobId, thing);
      if (!current) return { ok: false, code: "ResourceNotFound", message: `no execution of job ${jobId} for ${thing}` };
      if (request.expectedVersion !== undefined && request.expectedVersion !== current.versionNumber) {
        return { ok: false, code: "VersionMismatch", message: `expected version ${request.expectedVersion}, the execution is at ${current.versionNumber}` };
      }
      const problem = transitionProblem(current.status, request.status);
      if (problem) return { ok: false, code: "InvalidStateTransition", message: problem };
      const details = request.statusDetails ?? current.statusDetails;
      this.db
        .prepare("UPDATE executions SET status = ?, status_details = ?, version_number = version_number + 1, updated_at = ? WHERE job_id = ? AND thing = ?")
        .run(request.status, details ? JSON.stringify(details) : null, now, jobId, thing);
      return { ok: true, execution: this.execution(jobId, thing)! };
    });
    return apply();
  }

  /** Cancel the job's executions that have not ended (AWS: CancelJob). */
  cancel(jobId: string, now = Date.now()): number {
    const terminal = TERMINAL_STATUSES.map((s) => `'${s}'`).join(", ");
    return this.db.prepare(`UPDATE executions SET status = 'CANCELED', version_number = version_number + 1, updated_at = ? WHERE job_id = ? AND status NOT IN (${terminal})`).run(now, jobId).changes;
  }
}

function toRow(r: RawExecution): ExecutionRow {
  return {
    jobId: r.job_id,
    thing: r.thing,
    status: r.status as JobExecutionStatus,
    statusDetails: r.status_details ? (JSON.parse(r.status_details) as StatusDetails) : undefined,
    versionNumber: r.version_number,
    executionNumber: r.execution_number,
    queuedAt: r.queued_at,
    updatedAt: r.updated_at,
    release: JSON.parse(r.document) as SignedRelease,
  };
}

/** The AWS execution object for a row, with the job document completed by `url`. */
export function executionMessage(row: ExecutionRow, url: string): JobExecution {
  return {
    jobId: row.jobId,
    status: row.status,
    versionNumber: row.versionNumber,
    executionNumber: row.executionNumber,
    jobDocument: { ...row.release, url },
  };
}
