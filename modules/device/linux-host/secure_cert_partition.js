/*
 * device/secure-cert-partition of the headless Linux host: the partition is a file given on the command
 * line as esp_secure_cert=<file> (natives in secure_cert_partition.c; API in ../secure-cert/secure_cert_partition.d.ts).
 */
export function readSecureCertPartition() @ "xs_secure_cert_partition_read";
