// `npm run renewal`: the certificate renewal service as a long-running process next to `npm run broker`.
// It runs where the PKI directory is (it issues from its CA) and connects to the broker as CN "renewal";
// on first run it issues itself that identity from the PKI and attaches its policy (services/policies/
// renewal.json). JSON lines on stdout; SIGINT/SIGTERM close it cleanly (exit 0).
import fs from "node:fs";
import path from "node:path";
import { BUTTON_SETTINGS, type SettingsSchema } from "../../modules/core/settings";
import { RENEWAL_SERVICE_NAME } from "../../modules/core/topics";
import { POLICY_FILES } from "../policies/files";
import { isMainModule, runServiceCli, type EventSink } from "../runtime";
import { BROKER_SETTINGS, ensureServiceIdentity } from "../service-identity";
import { commandHelp, parseCommandLine, pickSettings } from "../settings-cli";
import { startRenewalService, type RenewalService } from "./renewal";

export interface RenewalServiceConfig {
  brokerUrl: string;
  servername: string | undefined;
  pkiDir: string;
  topicPrefix: string;
}

export const RENEWAL_SETTINGS: SettingsSchema = {
  settings: [
    ...BROKER_SETTINGS,
    { key: "pkiDir", type: "path", default: "certs", help: "the PKI that issued the buttons' certificates (its CA signs the renewals)" },
    ...pickSettings(BUTTON_SETTINGS, ["topicPrefix"]),
  ],
  rules: [],
};

export function renewalUsage(): string {
  return commandHelp(RENEWAL_SETTINGS, [
    "Usage: npm run renewal -- [options]",
    "",
    "Renews button certificates over MQTT (same key, same subject) for buttons whose certificate is ACTIVE.",
    "Runs until SIGINT/SIGTERM; JSON lines on stdout.",
    "",
  ]);
}

export function parseRenewalArgs(argv: string[], cwd = process.cwd()): RenewalServiceConfig | undefined {
  const line = parseCommandLine(RENEWAL_SETTINGS, argv, { cwd });
  if (line === undefined) return undefined;
  const v = line.values;
  return {
    brokerUrl: v.broker as string,
    servername: v.servername as string | undefined,
    pkiDir: v.pkiDir as string,
    topicPrefix: v.topicPrefix as string,
  };
}

export async function startRenewal(config: RenewalServiceConfig, sink: EventSink): Promise<RenewalService> {
  const log = (event: string, fields: Record<string, unknown> = {}) => sink("renewal", event, fields);
  const { files } = await ensureServiceIdentity(config.pkiDir, RENEWAL_SERVICE_NAME, POLICY_FILES.renewal, log);
  const read = (file: string) => fs.readFileSync(file, "utf8");
  return startRenewalService({
    brokerUrl: config.brokerUrl,
    ...(config.servername ? { servername: config.servername } : {}),
    ca: read(files.caPath),
    cert: read(files.chainPath),
    key: read(files.keyPath),
    pkiDir: path.resolve(config.pkiDir),
    topicPrefix: config.topicPrefix,
    log,
  });
}

if (isMainModule(import.meta.url)) {
  await runServiceCli({ name: "renewal", parse: parseRenewalArgs, usage: renewalUsage, start: startRenewal });
}
