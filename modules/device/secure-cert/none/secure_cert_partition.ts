// device/secure-cert-partition where there is no flash partition (Moddable's simulator, desktop builds):
// the identity comes from the build's resources.

export function readSecureCertPartition(): ArrayBuffer | undefined {
  return undefined;
}
