/*
 * Deep sleep for the ESP32 with the button as the wake source (ext0), as an xsmc binding for
 * deep_sleep.js. Follows ESP-IDF's examples/system/deep_sleep (ext_wakeup.c): ext0 on one RTC GPIO, the
 * RTC pull that holds the idle level during sleep, esp_deep_sleep_start; the wake cause at boot.
 * Checked against ESP-IDF's headers by tools/firmware/esp32-native-check.sh (ESP-IDF 5.x and 6.x).
 */
#include "xsmc.h"
#include "xsHost.h"
#include "esp_idf_version.h"
#include "esp_sleep.h"
#include "esp_timer.h"
#include "driver/rtc_io.h"

/* wokenByButton(): this boot is a wake from deep sleep by ext0 (the button). */
void xs_deep_sleep_woken_by_button(xsMachine *the)
{
#if ESP_IDF_VERSION >= ESP_IDF_VERSION_VAL(6, 0, 0)
	int woken = (esp_sleep_get_wakeup_causes() & BIT(ESP_SLEEP_WAKEUP_EXT0)) != 0;
#else
	int woken = esp_sleep_get_wakeup_cause() == ESP_SLEEP_WAKEUP_EXT0;
#endif
	xsmcSetBoolean(xsResult, woken);
}

/*
 * msSinceWake(): time since the app started (esp_timer counts from startup). The press came a little
 * earlier (the ROM and second-stage bootloader run before), so this slightly under-counts a held press.
 */
void xs_deep_sleep_ms_since_wake(xsMachine *the)
{
	xsmcSetNumber(xsResult, (double)(esp_timer_get_time() / 1000));
}

/* isWakePin(pin): ext0 can watch this GPIO (an RTC GPIO). */
void xs_deep_sleep_is_wake_pin(xsMachine *the)
{
	int pin = xsmcToInteger(xsArg(0));
	xsmcSetBoolean(xsResult, (pin >= 0) && (pin < GPIO_NUM_MAX) && rtc_gpio_is_valid_gpio((gpio_num_t)pin));
}

/* releaseWakePin(pin): after an ext0 wake the pin is still routed to the RTC; give it back to the GPIO matrix. */
void xs_deep_sleep_release_wake_pin(xsMachine *the)
{
	gpio_num_t pin = (gpio_num_t)xsmcToInteger(xsArg(0));
	esp_err_t err = rtc_gpio_deinit(pin);
	if (err != ESP_OK)
		xsUnknownError("rtc_gpio_deinit(%d): %s", (int)pin, esp_err_to_name(err));
}

/* sleep(pin, activeLow): wake when the button reaches its pressed level, then enter deep sleep (no return). */
void xs_deep_sleep_sleep(xsMachine *the)
{
	gpio_num_t pin = (gpio_num_t)xsmcToInteger(xsArg(0));
	int activeLow = xsmcToBoolean(xsArg(1));
	esp_err_t err = esp_sleep_enable_ext0_wakeup(pin, activeLow ? 0 : 1);
	if (err == ESP_OK)
		err = rtc_gpio_init(pin);
	/* ext0 keeps the RTC peripherals powered, so the RTC pull holds the released level during sleep. */
	if (err == ESP_OK)
		err = activeLow ? rtc_gpio_pulldown_dis(pin) : rtc_gpio_pullup_dis(pin);
	if (err == ESP_OK)
		err = activeLow ? rtc_gpio_pullup_en(pin) : rtc_gpio_pulldown_en(pin);
	if (err != ESP_OK)
		xsUnknownError("button wake on GPIO %d: %s", (int)pin, esp_err_to_name(err));
	esp_deep_sleep_start();
}
