/*
 * The esp_secure_cert partition's bytes for device/secure-cert-partition (secure_cert_partition.js).
 * Found as esp_secure_cert_mgr finds it: type 0x3F, any subtype, name "esp_secure_cert" (the SDK's flash
 * modules look only at data partitions). esp_partition_read decrypts a partition flagged "encrypted" when
 * flash encryption is on. Parsing is in TypeScript (modules/core/secure-cert.ts).
 * Checked against ESP-IDF's headers by tools/firmware/esp32-native-check.sh.
 */
#include "xsmc.h"
#include "xsHost.h"
#include "esp_partition.h"

#define SECURE_CERT_PARTITION_TYPE ((esp_partition_type_t)0x3F)
#define SECURE_CERT_PARTITION_NAME "esp_secure_cert"
#define SECURE_CERT_MAX_BYTES (64 * 1024)

/* readSecureCertPartition(): ArrayBuffer of the whole partition, undefined without one; throws if unreadable. */
void xs_secure_cert_partition_read(xsMachine *the)
{
	const esp_partition_t *partition = esp_partition_find_first(SECURE_CERT_PARTITION_TYPE, ESP_PARTITION_SUBTYPE_ANY, SECURE_CERT_PARTITION_NAME);
	if (!partition)
		return;
	if (partition->size > SECURE_CERT_MAX_BYTES)
		xsUnknownError("esp_secure_cert partition of %u bytes: larger than %u", (unsigned)partition->size, (unsigned)SECURE_CERT_MAX_BYTES);
	xsmcSetArrayBuffer(xsResult, NULL, partition->size);
	esp_err_t err = esp_partition_read(partition, 0, xsmcToArrayBuffer(xsResult), partition->size);
	if (err != ESP_OK)
		xsUnknownError("esp_secure_cert partition read: %s", esp_err_to_name(err));
}
