// The directory a test mosquitto reads: copies of the trust files and the broker key, the ACL and the
// config. Running as root, mosquitto switches to the `mosquitto` user before it reads certificates and the
// ACL; the PKI's directories are 0700, so the files it needs are copied into a directory of its own,
// owned by that user.
import { chmodSync, chownSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Pki } from "../../tools/pki/pki";
import type { AclThing, MosquittoTlsFiles } from "./config";

export interface StagedFiles {
  dir: string;
  files: Required<Pick<MosquittoTlsFiles, "cafile" | "certfile" | "keyfile">> & { crlfile?: string };
  aclPath: string;
  configPath: string;
  /** Writes a file of the directory mosquitto may read (owned by its user when we are root). */
  put(file: string, data: string | Buffer, mode: number): string;
  /** Copies the trust files again (for a reload). */
  refresh(next: MosquittoTlsFiles): void;
  remove(): void;
}

/** What the generated files need from the registry (read fresh: call again after a change). */
export interface RegistrySnapshot {
  things: AclThing[];
  /** PEM bundles: this PKI's own CAs, and the registered (bring-your-own) CAs ("" when none). */
  ownCas: string;
  registeredCas: string;
}

export async function registrySnapshot(pkiDir: string): Promise<RegistrySnapshot> {
  const pki = await Pki.open(pkiDir);
  const things = pki.listThings().map((t): AclThing => ({
    name: t.name,
    state: t.state,
    ...(t.kind ? { kind: t.kind } : {}),
    issuer: t.issuedBy === "byo-ca" || t.issuedBy === "aws-import" ? "registered" : "own",
  }));
  const cas = pki.trustedCas();
  const bundle = (registered: boolean) =>
    cas
      .filter(({ rec }) => (rec.role === "registered") === registered)
      .map(({ cert }) => cert.toString("pem") + "\n")
      .join("");
  return { things, ownCas: bundle(false), registeredCas: bundle(true) };
}

/** The listener's files: given as they are, or taken from a PKI directory. */
export async function resolveTlsFiles(source: { pkiDir?: string; tls?: MosquittoTlsFiles }): Promise<MosquittoTlsFiles> {
  if (source.tls) return source.tls;
  if (!source.pkiDir) throw new Error("startMosquitto: give pkiDir or tls files");
  const pki = await Pki.open(source.pkiDir);
  const broker = pki.brokerFiles();
  if (!broker) throw new Error(`startMosquitto: no broker certificate in ${source.pkiDir} (pki broker cert)`);
  const trust = pki.trustMaterial();
  if (trust.missingCrl.length > 0) {
    // OpenSSL's leaf CRL check would refuse their certificates anyway; say why up front.
    throw new Error(`startMosquitto: trusted CAs without a CRL: ${trust.missingCrl.join("; ")}`);
  }
  return { cafile: trust.caFile, certfile: broker.certPath, keyfile: broker.keyPath, crlfile: trust.crlFile };
}

/** Copies the TLS files into a fresh private directory and writes the ACL there. */
export function stageFiles(source: MosquittoTlsFiles, acl: string): StagedFiles {
  const dir = mkdtempSync(path.join(tmpdir(), "mosquitto-"));
  const owner = mosquittoUser();
  const put = (file: string, data: string | Buffer, mode: number): string => {
    writeFileSync(file, data, { mode });
    chmodSync(file, mode); // the mode survives the umask
    if (owner) chownSync(file, owner.uid, owner.gid);
    return file;
  };
  const copy = (from: string, name: string, mode: number): string => put(path.join(dir, name), readFileSync(from), mode);
  // Private: the key copy is 0600 and owned by the user mosquitto runs as; the directory is 0700.
  const files = {
    cafile: copy(source.cafile, "ca.pem", 0o644),
    certfile: copy(source.certfile, "broker.cert.pem", 0o644),
    keyfile: copy(source.keyfile, "broker.key.pem", 0o600),
    ...(source.crlfile ? { crlfile: copy(source.crlfile, "crl.pem", 0o644) } : {}),
  };
  const aclPath = put(path.join(dir, "acl"), acl, 0o644);
  if (owner) chownSync(dir, owner.uid, owner.gid);
  return {
    dir,
    files,
    aclPath,
    configPath: path.join(dir, "mosquitto.conf"),
    put,
    refresh(next: MosquittoTlsFiles) {
      copy(next.cafile, "ca.pem", 0o644);
      if (next.crlfile) copy(next.crlfile, "crl.pem", 0o644);
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** uid/gid of the user mosquitto switches to when started as root, from /etc/passwd. */
function mosquittoUser(): { uid: number; gid: number } | undefined {
  if (typeof process.getuid !== "function" || process.getuid() !== 0) return undefined;
  let passwd = "";
  try {
    passwd = readFileSync("/etc/passwd", "utf8");
  } catch {
    return undefined;
  }
  // mosquitto falls back to "nobody" when there is no mosquitto user.
  for (const name of ["mosquitto", "nobody"]) {
    const line = passwd.split("\n").find((l) => l.startsWith(`${name}:`));
    const fields = line?.split(":");
    if (fields && fields.length > 3) return { uid: Number(fields[2]), gid: Number(fields[3]) };
  }
  return undefined;
}
