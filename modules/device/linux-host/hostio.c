/*
 * Natives for hostio.js: stdin lines through a GLib watch on the host's main loop, stdout writes.
 * Part of the project's headless Linux host for the x-cli-lin target (see hostmain.c).
 */
#include "xsAll.h"
#include "mc.xs.h"
#include <glib.h>

extern int gPizzaArgc;
extern char **gPizzaArgv;
extern void pizzaHostQuit(int status);
extern int gPizzaRestart;

static xsMachine *gLineMachine = NULL;
static xsSlot gLineCallback;
static GIOChannel *gStdin = NULL;

void xs_hostio_write(xsMachine *the)
{
	fputs(xsToString(xsArg(0)), stdout);
	fflush(stdout);
}

void xs_hostio_args(xsMachine *the)
{
	int i;
	xsResult = xsNewArray(0);
	for (i = 1; i < gPizzaArgc; i++)
		xsSetAt(xsResult, xsInteger(i - 1), xsString(gPizzaArgv[i]));
}

void xs_hostio_exit(xsMachine *the)
{
	pizzaHostQuit(xsToInteger(xsArg(0)));
}

void xs_hostio_restart(xsMachine *the)
{
	gPizzaRestart = 1;
	pizzaHostQuit(0);
}

/*
 * XS memory in bytes: chunks and slots in use, and their high-water marks since the previous call, which
 * resets them to the current values (so a caller brackets a span of work with two calls).
 */
void xs_hostio_mem(xsMachine *the)
{
	txSize chunksUsed = the->currentChunksSize, chunksPeak = the->peakChunksSize;
	txSize slotsUsed = the->currentHeapCount * (txSize)sizeof(txSlot), slotsPeak = the->peakHeapCount * (txSize)sizeof(txSlot);
	the->peakChunksSize = the->currentChunksSize;
	the->peakHeapCount = the->currentHeapCount;
	xsResult = xsNewObject();
	xsSet(xsResult, xsID("chunksUsed"), xsInteger(chunksUsed));
	xsSet(xsResult, xsID("chunksPeak"), xsInteger(chunksPeak));
	xsSet(xsResult, xsID("slotsUsed"), xsInteger(slotsUsed));
	xsSet(xsResult, xsID("slotsPeak"), xsInteger(slotsPeak));
}

static gboolean onStdin(GIOChannel *channel, GIOCondition condition, gpointer data)
{
	gchar *line = NULL;
	gsize length = 0, terminator = 0;
	GIOStatus status = g_io_channel_read_line(channel, &line, &length, &terminator, NULL);
	if (status == G_IO_STATUS_AGAIN)
		return TRUE;
	if (status != G_IO_STATUS_NORMAL) {
		/* end of input: the harness is done with us */
		g_free(line);
		gStdin = NULL;
		pizzaHostQuit(0);
		return FALSE;
	}
	line[terminator] = 0;
	xsBeginHost(gLineMachine);
	{
		xsTry {
			xsCallFunction1(gLineCallback, xsUndefined, xsString(line));
		}
		xsCatch {
			fprintf(stdout, "error: stdin handler threw: %s\n", xsToString(xsException));
			fflush(stdout);
		}
	}
	xsEndHost(gLineMachine);
	g_free(line);
	return TRUE;
}

void xs_hostio_on_line(xsMachine *the)
{
	if (gLineMachine)
		xsUnknownError("onLine: already set");
	gLineMachine = the;
	gLineCallback = xsArg(0);
	xsRemember(gLineCallback);
	gStdin = g_io_channel_unix_new(0);
	g_io_add_watch(gStdin, G_IO_IN | G_IO_HUP | G_IO_ERR, onStdin, NULL);
}
