// Runs `host-test/simulate.ts` as a child process (as a user would) and collects its output.
import { spawn } from "node:child_process";
import path from "node:path";
import { tsxCommand } from "./tsx-command";

const ROOT = path.resolve(import.meta.dirname, "../../..");

export function runSimulate(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(...tsxCommand("host-test/simulate.ts", ...args), { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}
