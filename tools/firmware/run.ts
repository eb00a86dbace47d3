// Runs one SDK tool, keeping its output: shown on failure (last lines), passed to `log` as it comes.
import { spawn } from "node:child_process";

export interface RunOptions {
  cwd: string;
  env: NodeJS.ProcessEnv;
  log?: (line: string) => void;
}

export async function runTool(command: string, args: string[], options: RunOptions): Promise<string> {
  const child = spawn(command, args, { cwd: options.cwd, env: options.env, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  let partial = "";
  const take = (chunk: Buffer) => {
    const text = chunk.toString("utf8");
    output += text;
    if (!options.log) return;
    const lines = (partial + text).split("\n");
    partial = lines.pop()!;
    for (const line of lines) options.log(line);
  };
  child.stdout.on("data", take);
  child.stderr.on("data", take);
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", resolve);
  });
  if (partial && options.log) options.log(partial);
  if (code !== 0) {
    const tail = output.trimEnd().split("\n").slice(-30).join("\n");
    throw new Error(`${command} ${args.join(" ")} failed (exit ${code}):\n${tail}`);
  }
  return output;
}
