/*
 * ESP-IDF's app rollback for device/update (update.js): the bootloader boots a new image "pending
 * verification" (CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE, both build profiles' sdkconfig.defaults); it stays
 * the app only once marked valid, and is abandoned for the previous one when marked invalid or when it
 * resets before that.
 */
#include "xsmc.h"
#include "xsHost.h"
#include "esp_ota_ops.h"
#include "esp_system.h"

void xs_update_mark_valid(xsMachine *the)
{
	esp_err_t err = esp_ota_mark_app_valid_cancel_rollback();
	if (ESP_OK != err)
		xsUnknownError("esp_ota_mark_app_valid_cancel_rollback failed: %d", (int)err);
}

void xs_update_rollback(xsMachine *the)
{
	/* Reboots into the previous app when there is one; returns only when there is none. */
	esp_err_t err = esp_ota_mark_app_invalid_rollback_and_reboot();
	xsUnknownError("no previous image to go back to (esp_ota_mark_app_invalid_rollback_and_reboot: %d)", (int)err);
}

void xs_update_restart(xsMachine *the)
{
	esp_restart();
}
