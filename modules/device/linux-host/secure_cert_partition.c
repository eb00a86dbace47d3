/*
 * The esp_secure_cert partition of the headless Linux host: the bytes of the file named by the
 * command-line setting esp_secure_cert=<file>, as the ESP32's natives return the partition's. Without
 * the setting the "board" has no such partition. A file that cannot be read is an error (a partition
 * that is there but unreadable), never "no partition".
 */
#include "xsAll.h"
#include "mc.xs.h"
#include <errno.h>
#include <stdio.h>
#include <string.h>

extern int gPizzaArgc;
extern char **gPizzaArgv;

#define SETTING "esp_secure_cert="
#define MAX_BYTES (64 * 1024)

void xs_secure_cert_partition_read(xsMachine *the)
{
	const char *path = NULL;
	int i;
	for (i = 1; i < gPizzaArgc; i++) {
		if (strncmp(gPizzaArgv[i], SETTING, strlen(SETTING)) == 0)
			path = gPizzaArgv[i] + strlen(SETTING);
	}
	if (!path)
		return;
	FILE *file = fopen(path, "rb");
	if (!file)
		xsUnknownError("cannot read %s: %s", path, strerror(errno));
	static unsigned char buffer[MAX_BYTES + 1];
	size_t size = fread(buffer, 1, sizeof(buffer), file);
	int failed = ferror(file);
	fclose(file);
	if (failed)
		xsUnknownError("cannot read %s", path);
	if (size > MAX_BYTES)
		xsUnknownError("%s is larger than %d bytes: not a partition image", path, MAX_BYTES);
	xsResult = xsArrayBuffer(buffer, (txInteger)size);
}
