// `npm run jobs`: the local jobs service (AWS IoT Jobs for the buttons' firmware updates) next to
// `npm run broker`. It runs where the PKI directory is: on first run it issues itself the service identity
// "jobs" and attaches its policy (services/policies/jobs.json); its HTTPS image server uses the PKI's broker
// certificate (which names this computer) and accepts only the buttons' certificates. Jobs come from
// `npm run release -- publish` (docs/updates.md). JSON lines on stdout; SIGINT/SIGTERM close it cleanly.
import fs from "node:fs";
import { JOBS_SERVICE_NAME } from "../../modules/core/topics";
import type { SettingsSchema } from "../../modules/core/settings";
import { DEFAULT_JOBS_DIR, JobStore } from "../../tools/release/job-store";
import { POLICY_FILES } from "../broker/product-authorization";
import { isMainModule, runServiceCli, type EventSink } from "../runtime";
import { BROKER_SETTINGS, ensureServiceIdentity } from "../service-identity";
import { commandHelp, parseCommandLine } from "../settings-cli";
import { startJobsService, type JobsService } from "./jobs";

export interface JobsServiceConfig {
  brokerUrl: string;
  servername: string | undefined;
  pkiDir: string;
  jobsDir: string;
  imagesHost: string;
  imagesPort: number;
  publicUrl: string | undefined;
}

export const JOBS_SETTINGS: SettingsSchema = {
  settings: [
    ...BROKER_SETTINGS,
    { key: "pkiDir", type: "path", default: "certs", help: "the PKI of the broker and the buttons" },
    { key: "jobsDir", type: "path", default: DEFAULT_JOBS_DIR, help: "the jobs store npm run release -- publish writes" },
    { key: "imagesHost", type: "text", default: "127.0.0.1", help: "address the HTTPS image server listens on" },
    { key: "imagesPort", type: "integer", default: 8443, min: 0, max: 65_535, help: "port of the HTTPS image server (0: any free port)" },
    {
      key: "publicUrl",
      type: "text",
      check: (url) => (/^https:\/\/[^\s/]+$/.test(url) ? undefined : "must be https://host[:port]"),
      help: "how buttons reach the image server (default https://<images-host>:<images-port>)",
    },
  ],
  rules: [],
};

export function jobsUsage(): string {
  return commandHelp(JOBS_SETTINGS, [
    "Usage: npm run jobs -- [options]",
    "",
    "Serves AWS IoT Jobs to the buttons (firmware updates published with npm run release -- publish) and the",
    "images over HTTPS. Runs until SIGINT/SIGTERM; JSON lines on stdout.",
    "",
  ]);
}

export function parseJobsArgs(argv: string[], cwd = process.cwd()): JobsServiceConfig | undefined {
  const line = parseCommandLine(JOBS_SETTINGS, argv, { cwd });
  if (line === undefined) return undefined;
  const v = line.values;
  return {
    brokerUrl: v.broker as string,
    servername: v.servername as string | undefined,
    pkiDir: v.pkiDir as string,
    jobsDir: v.jobsDir as string,
    imagesHost: v.imagesHost as string,
    imagesPort: v.imagesPort as number,
    publicUrl: v.publicUrl as string | undefined,
  };
}

export async function startJobs(config: JobsServiceConfig, sink: EventSink): Promise<JobsService> {
  const log = (event: string, fields: Record<string, unknown> = {}) => sink("jobs", event, fields);
  const { pki, files } = await ensureServiceIdentity(config.pkiDir, JOBS_SERVICE_NAME, POLICY_FILES.jobs, log);
  const server = pki.brokerFiles();
  if (!server) throw new Error(`no broker certificate in ${config.pkiDir}: the image server uses it ("npm run pki -- broker cert")`);
  const read = (file: string) => fs.readFileSync(file, "utf8");
  const trust = pki.trustMaterial();
  const store = JobStore.open(config.jobsDir);
  try {
    const service = await startJobsService({
      brokerUrl: config.brokerUrl,
      ...(config.servername ? { servername: config.servername } : {}),
      ca: read(files.caPath),
      cert: read(files.chainPath),
      key: read(files.keyPath),
      store,
      images: {
        host: config.imagesHost,
        port: config.imagesPort,
        cert: read(server.certPath),
        key: read(server.keyPath),
        clientCa: trust.ca,
        crl: trust.crl,
        ...(config.publicUrl ? { publicUrl: config.publicUrl } : {}),
      },
      log,
    });
    return {
      imageUrl: service.imageUrl,
      async close() {
        await service.close();
        store.close();
      },
    };
  } catch (error) {
    store.close();
    throw error;
  }
}

if (isMainModule(import.meta.url)) {
  await runServiceCli({ name: "jobs", parse: parseJobsArgs, usage: jobsUsage, start: startJobs });
}
