/*
 * The headless Linux host's update API (update.js, device/update) as files in the working directory, the
 * folder that also holds the Preference file (one per board):
 *   update-slot-a, update-slot-b   two image slots: an update goes into the one the running image is not
 *   update-boot                    the boot record, three lines: "boot <image>", "previous <image>",
 *                                  "state new|pending|valid" (written to a temporary file, then renamed)
 * pizzaUpdateBoot() runs first thing in main() (hostmain.c) and does what ESP-IDF's bootloader does with
 * app rollback on: a "new" image becomes "pending" and boots; an image still "pending" at the next start
 * never marked itself valid (it crashed or hung), so the previous image boots. The chosen image is
 * executed in place of this process (same pid, stdin, stdout, arguments), marked by an environment
 * variable so that it does not choose again.
 */
#include "xsAll.h"
#include "mc.xs.h"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

extern void pizzaHostQuit(int status);
extern int gPizzaRestart;

#define BOOT_RECORD "update-boot"
#define BOOT_RECORD_TEMP "update-boot.tmp"
#define BOOTED_ENV "PIZZA_UPDATE_BOOTED"
static const char *const gSlots[2] = {"update-slot-a", "update-slot-b"};

typedef struct {
	char boot[PATH_MAX];
	char previous[PATH_MAX];
	char state[16];
} BootRecord;

typedef struct {
	int fd;
	char path[PATH_MAX];
} UpdateImage;

static int readRecord(BootRecord *record)
{
	char line[PATH_MAX + 32];
	FILE *file = fopen(BOOT_RECORD, "r");
	memset(record, 0, sizeof(*record));
	if (!file)
		return 0;
	while (fgets(line, sizeof(line), file)) {
		size_t length = strcspn(line, "\n");
		line[length] = 0;
		if (strncmp(line, "boot ", 5) == 0)
			snprintf(record->boot, sizeof(record->boot), "%s", line + 5);
		else if (strncmp(line, "previous ", 9) == 0)
			snprintf(record->previous, sizeof(record->previous), "%s", line + 9);
		else if (strncmp(line, "state ", 6) == 0)
			snprintf(record->state, sizeof(record->state), "%s", line + 6);
	}
	fclose(file);
	return record->boot[0] != 0 && record->state[0] != 0;
}

static int writeRecord(const BootRecord *record)
{
	FILE *file = fopen(BOOT_RECORD_TEMP, "w");
	if (!file)
		return 0;
	int ok = fprintf(file, "boot %s\nprevious %s\nstate %s\n", record->boot, record->previous, record->state) > 0;
	ok = (fflush(file) == 0) && ok;
	ok = (fsync(fileno(file)) == 0) && ok;
	ok = (fclose(file) == 0) && ok;
	return ok && rename(BOOT_RECORD_TEMP, BOOT_RECORD) == 0;
}

static int runningImage(char *path)
{
	return realpath("/proc/self/exe", path) != NULL;
}

void pizzaUpdateBoot(char **argv)
{
	BootRecord record;
	char self[PATH_MAX];
	if (getenv(BOOTED_ENV)) {
		unsetenv(BOOTED_ENV); /* chosen by the boot step of the process that executed us */
		return;
	}
	if (!readRecord(&record))
		return;
	if (strcmp(record.state, "new") == 0)
		snprintf(record.state, sizeof(record.state), "pending");
	else if (strcmp(record.state, "pending") == 0 && record.previous[0]) {
		fprintf(stdout, "@update-boot %s never marked itself valid: booting the previous image\n", record.boot);
		snprintf(record.boot, sizeof(record.boot), "%s", record.previous);
		snprintf(record.state, sizeof(record.state), "valid");
	}
	if (!writeRecord(&record)) {
		fprintf(stdout, "@update-boot cannot write %s: %s\n", BOOT_RECORD, strerror(errno));
		return;
	}
	if (runningImage(self) && strcmp(self, record.boot) == 0)
		return;
	fflush(stdout);
	setenv(BOOTED_ENV, "1", 1);
	execv(record.boot, argv);
	unsetenv(BOOTED_ENV);
	fprintf(stdout, "@update-boot cannot execute %s: %s\n", record.boot, strerror(errno));
}

void xs_update_image_destructor(void *data)
{
	UpdateImage *image = data;
	if (!image)
		return;
	if (image->fd >= 0)
		close(image->fd);
	free(image);
}

void xs_update_image(xsMachine *the)
{
	char self[PATH_MAX], cwd[PATH_MAX];
	UpdateImage *image;
	int i;
	if (!runningImage(self))
		xsUnknownError("cannot find the running image: %s", strerror(errno));
	if (!getcwd(cwd, sizeof(cwd)))
		xsUnknownError("cannot find the working directory: %s", strerror(errno));
	image = calloc(1, sizeof(UpdateImage));
	if (!image)
		xsUnknownError("no memory");
	image->fd = -1;
	xsSetHostData(xsThis, image);
	for (i = 0; i < 2; i++) {
		snprintf(image->path, sizeof(image->path), "%s/%s", cwd, gSlots[i]);
		if (strcmp(image->path, self) != 0)
			break;
	}
	image->fd = open(image->path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (image->fd < 0)
		xsUnknownError("cannot open %s: %s", image->path, strerror(errno));
}

void xs_update_image_write(xsMachine *the)
{
	UpdateImage *image = xsGetHostData(xsThis);
	const char *data;
	txInteger size, done = 0;
	if (!image || image->fd < 0)
		xsUnknownError("the image is closed");
	size = xsGetArrayBufferLength(xsArg(0));
	data = xsToArrayBuffer(xsArg(0));
	while (done < size) {
		ssize_t wrote = write(image->fd, data + done, (size_t)(size - done));
		if (wrote < 0 && errno == EINTR)
			continue;
		if (wrote <= 0)
			xsUnknownError("cannot write %s: %s", image->path, strerror(errno));
		done += (txInteger)wrote;
	}
}

void xs_update_image_cancel(xsMachine *the)
{
	UpdateImage *image = xsGetHostData(xsThis);
	if (!image || image->fd < 0)
		return;
	close(image->fd);
	image->fd = -1;
	unlink(image->path);
}

void xs_update_image_complete(xsMachine *the)
{
	UpdateImage *image = xsGetHostData(xsThis);
	BootRecord record;
	char self[PATH_MAX];
	if (!image || image->fd < 0)
		xsUnknownError("the image is closed");
	int ok = fsync(image->fd) == 0;
	ok = (close(image->fd) == 0) && ok;
	image->fd = -1;
	if (!ok || chmod(image->path, 0700) != 0)
		xsUnknownError("cannot close %s: %s", image->path, strerror(errno));
	if (!runningImage(self))
		xsUnknownError("cannot find the running image: %s", strerror(errno));
	memset(&record, 0, sizeof(record));
	snprintf(record.boot, sizeof(record.boot), "%s", image->path);
	snprintf(record.previous, sizeof(record.previous), "%s", self);
	snprintf(record.state, sizeof(record.state), "new");
	if (!writeRecord(&record))
		xsUnknownError("cannot write %s: %s", BOOT_RECORD, strerror(errno));
}

void xs_update_mark_valid(xsMachine *the)
{
	BootRecord record;
	if (!readRecord(&record) || strcmp(record.state, "valid") == 0)
		return;
	snprintf(record.state, sizeof(record.state), "valid");
	if (!writeRecord(&record))
		xsUnknownError("cannot write %s: %s", BOOT_RECORD, strerror(errno));
}

void xs_update_rollback(xsMachine *the)
{
	BootRecord record;
	if (!readRecord(&record) || !record.previous[0])
		xsUnknownError("no previous image to go back to");
	snprintf(record.boot, sizeof(record.boot), "%s", record.previous);
	snprintf(record.state, sizeof(record.state), "valid");
	if (!writeRecord(&record))
		xsUnknownError("cannot write %s: %s", BOOT_RECORD, strerror(errno));
	gPizzaRestart = 1;
	pizzaHostQuit(0);
}
