/*
 * device/rtc-store on the ESP32: slots in RTC slow memory (RTC_DATA_ATTR), which keeps its content through
 * deep sleep and is loaded afresh (zeroed) by the bootloader after a power-on or a reset. Raw bytes with a
 * length: the JS side frames and checks what it keeps (magic, length, CRC-32 in core/rtc-record), so a torn
 * write or a stale record is refused there. The TLS master secret lives here and nowhere else: clear()
 * wipes it.
 * Checked against ESP-IDF's headers by tools/firmware/esp32-native-check.sh.
 */
#include "xsmc.h"
#include "xsHost.h"
#include "esp_attr.h"
#include <string.h>

/* the same figures as SLOTS and SLOT_BYTES in rtc_store.js */
#define RTC_STORE_SLOTS 2
#define RTC_STORE_SLOT_BYTES 128

typedef struct {
	uint16_t length;
	uint8_t data[RTC_STORE_SLOT_BYTES];
} RtcStoreSlot;

static RTC_DATA_ATTR RtcStoreSlot gRtcStore[RTC_STORE_SLOTS];

static RtcStoreSlot *slotArgument(xsMachine *the)
{
	int slot = xsmcToInteger(xsArg(0));
	if ((slot < 0) || (slot >= RTC_STORE_SLOTS))
		xsRangeError("no RTC slot %d", slot);
	return &gRtcStore[slot];
}

/* read(slot): ArrayBuffer | undefined */
void xs_rtc_store_read(xsMachine *the)
{
	RtcStoreSlot *slot = slotArgument(the);
	if ((slot->length == 0) || (slot->length > RTC_STORE_SLOT_BYTES))
		return;
	xsmcSetArrayBuffer(xsResult, slot->data, slot->length);
}

/* write(slot, ArrayBuffer) */
void xs_rtc_store_write(xsMachine *the)
{
	RtcStoreSlot *slot = slotArgument(the);
	xsUnsignedValue length;
	void *data;
	xsmcGetBufferReadable(xsArg(1), &data, &length);
	if (length > RTC_STORE_SLOT_BYTES)
		xsRangeError("RTC slot holds %d bytes, got %d", RTC_STORE_SLOT_BYTES, (int)length);
	slot->length = 0; /* a reset in the middle leaves an empty slot, not a mix */
	memcpy(slot->data, data, length);
	slot->length = (uint16_t)length;
}

/* clear(slot): empty, and no byte of the old record left behind */
void xs_rtc_store_clear(xsMachine *the)
{
	RtcStoreSlot *slot = slotArgument(the);
	slot->length = 0;
	memset(slot->data, 0, sizeof(slot->data));
}
