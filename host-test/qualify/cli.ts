// npm run qualify [-- --json] [--device virtual-button|firmware|all] [--case <id>[,<id>…]] [--evidence all]
// Exit code: 0 when no case failed (warnings allowed), 1 when one did, 2 on a usage error.
import { parseArgs } from "node:util";
import { caseIds, runQualification, type DeviceChoice } from "./qualify";
import { formatTable } from "./report";

const HELP = `npm run qualify -- [options]

A local AWS IoT Device Advisor: TLS and MQTT qualification cases against the virtual button and, when
$MODDABLE points at a built Moddable SDK, the real firmware (x-cli-lin build).

  --device <d>     virtual-button | firmware | all (default all; firmware is skipped without an SDK)
  --case <ids>     comma-separated case ids (default all): ${caseIds().join(", ")}
  --json           print the report as JSON (for CI) instead of the table
  --evidence all   print every case's evidence, not only of the failed and warned ones
  --help
`;

async function main(): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        device: { type: "string", default: "all" },
        case: { type: "string" },
        json: { type: "boolean", default: false },
        evidence: { type: "string", default: "failures" },
        help: { type: "boolean", default: false },
      },
      strict: true,
    }));
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n\n${HELP}`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const devices: DeviceChoice[] =
    values.device === "all" ? ["virtual-button", "firmware"] : values.device === "virtual-button" || values.device === "firmware" ? [values.device] : [];
  if (devices.length === 0 || (values.evidence !== "all" && values.evidence !== "failures")) {
    process.stderr.write(`--device must be virtual-button, firmware or all; --evidence all or failures\n\n${HELP}`);
    return 2;
  }
  const cases = values.case?.split(",").map((c) => c.trim()).filter(Boolean);
  const unknown = (cases ?? []).filter((c) => !caseIds().includes(c));
  if (unknown.length > 0) {
    process.stderr.write(`unknown case(s): ${unknown.join(", ")}\n\n${HELP}`);
    return 2;
  }
  const report = await runQualification({
    devices,
    ...(cases ? { cases } : {}),
    progress: values.json ? undefined : (line) => process.stderr.write(`${line}\n`),
  });
  process.stdout.write(values.json ? `${JSON.stringify(report)}\n` : `${formatTable(report, { evidence: values.evidence as "all" | "failures" })}\n`);
  return report.passed ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`qualify: ${(error as Error).stack ?? String(error)}\n`);
    process.exit(2);
  },
);
