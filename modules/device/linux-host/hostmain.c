/*
 * The project's headless Linux host for Moddable's x-cli-lin target, which supplies no main(): clone the
 * machine that xsl prepared, import "main" (the same firmware entry as on the ESP32), then run a GLib
 * main loop, which the SDK's Linux timer, socket and TLS modules schedule their work on.
 * Command line: key=value settings that override mc/config (see board.ts).
 */
#include "xsAll.h"
#include "mc.xs.h"
#include <glib.h>
#include <glib-unix.h>
#include <unistd.h>

int gPizzaArgc = 0;
char **gPizzaArgv = NULL;
static GMainLoop *gLoop = NULL;
static int gExitStatus = 0;
extern void pizzaUpdateBoot(char **argv); /* update.c: boots the image the update boot record names */
int gPizzaRestart = 0; /* hostio.restart(): execute this program again once the loop has ended (a reboot) */

void fxAbort(xsMachine *the, int status)
{
	/* XS calls this on fatal conditions (out of memory, stack overflow, unhandled exception). */
	fprintf(stdout, "@halt abort %d\n", status);
	fflush(stdout);
	exit(100 + status);
}

void pizzaHostQuit(int status)
{
	gExitStatus = status;
	if (gLoop)
		g_main_loop_quit(gLoop);
}

static gboolean onSignal(gpointer data)
{
	pizzaHostQuit(0);
	return G_SOURCE_REMOVE;
}

int main(int argc, char *argv[])
{
	static txMachine root;
	txMachine *machine = &root;
	txPreparation *preparation = xsPreparation();
	int error = 0;

	gPizzaArgc = argc;
	gPizzaArgv = argv;
	setvbuf(stdout, NULL, _IOLBF, 0); /* trace lines reach a pipe reader as they happen */
	pizzaUpdateBoot(argv); /* may execute another image in place of this one, like a bootloader */
	/* Math.random is rand() on Linux and XS never seeds it: every process would draw the same sequence,
	   and two buttons would back off in lock-step. Seed it from GLib's /dev/urandom-seeded generator (on
	   the ESP32, Math.random is the hardware RNG). */
	srand(g_random_int());

	c_memset(machine, 0, sizeof(txMachine));
	machine->preparation = preparation;
	machine->keyArray = preparation->keys;
	machine->keyCount = (txID)preparation->keyCount + (txID)preparation->creation.initialKeyCount;
	machine->keyIndex = (txID)preparation->keyCount;
	machine->nameModulo = preparation->nameModulo;
	machine->nameTable = preparation->names;
	machine->symbolModulo = preparation->symbolModulo;
	machine->symbolTable = preparation->symbols;
	machine->stack = &preparation->stack[0];
	machine->stackBottom = &preparation->stack[0];
	machine->stackTop = &preparation->stack[preparation->stackCount];
	machine->firstHeap = &preparation->heap[0];
	machine->freeHeap = &preparation->heap[preparation->heapCount - 1];
	machine->aliasCount = (txID)preparation->aliasCount;

	gLoop = g_main_loop_new(NULL, FALSE);
	g_unix_signal_add(SIGTERM, onSignal, NULL);
	g_unix_signal_add(SIGINT, onSignal, NULL);

	machine = fxCloneMachine(&preparation->creation, machine, "pizza-button", NULL);
	xsBeginHost(machine);
	{
		xsTry {
			xsResult = xsAwaitImport("main", XS_IMPORT_NAMESPACE);
		}
		xsCatch {
			fprintf(stdout, "@halt import %s\n", xsToString(xsException));
			error = 1;
		}
	}
	xsEndHost(machine);

	if (!error)
		g_main_loop_run(gLoop);

	xsDeleteMachine(machine);
	g_main_loop_unref(gLoop);
	if (gPizzaRestart && !error) {
		fflush(stdout);
		execv("/proc/self/exe", argv); /* same pid, stdin and stdout: the harness sees a reboot */
		fprintf(stdout, "@halt restart failed\n");
		return 1;
	}
	return error ? 1 : gExitStatus;
}
