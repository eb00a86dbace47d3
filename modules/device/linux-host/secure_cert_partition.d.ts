// Declaration of the headless Linux host's device/secure-cert-partition (secure_cert_partition.js): the shared API.
export { readSecureCertPartition } from "../secure-cert/secure_cert_partition";
