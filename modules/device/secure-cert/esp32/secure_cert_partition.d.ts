// Declaration of the ESP32's device/secure-cert-partition (secure_cert_partition.js): the shared API.
export { readSecureCertPartition } from "../secure_cert_partition";
