#!/bin/sh
# Header check of the firmware's ESP32 C files (no ESP-IDF toolchain needed): the host's gcc parses and
# type-checks each file (-fsyntax-only) against ESP-IDF's own headers for an ESP32 target, the XS headers
# of the Moddable SDK and a stub sdkconfig.h (esp32-native-check/sdkconfig.h). It catches wrong names,
# signatures, types and missing includes; it cannot link or run anything (that needs the Xtensa toolchain).
# Headers reached through esp_wifi.h (FreeRTOS's Xtensa port) need three stubs of the C library's side
# (esp32-native-check/sys/reent.h, machine/endian.h, esp_newlib.h) and __XTENSA__; the casts between
# pointers and 32-bit integers in ESP-IDF's inline functions only warn on this 64-bit host, so those two
# warnings are off.
#
#   IDF_PATH=<ESP-IDF checkout, or a folder with its components/> MODDABLE=<Moddable SDK> \
#     tools/firmware/esp32-native-check.sh
#
# Without IDF_PATH or MODDABLE it prints why and exits 0 (skipped). It reads ESP-IDF; it never fetches,
# configures or builds one.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
files="modules/device/sleep/esp32/deep_sleep.c modules/device/secure-cert/esp32/secure_cert_partition.c modules/device/fast-wake/esp32/rtc_store.c modules/device/fast-wake/esp32/wifi_rejoin.c modules/device/update/esp32/update.c"
bindings="modules/device/sleep/esp32/deep_sleep.js modules/device/secure-cert/esp32/secure_cert_partition.js modules/device/fast-wake/esp32/rtc_store.js modules/device/fast-wake/esp32/wifi_rejoin.js modules/device/update/esp32/update.js"

if [ -z "${IDF_PATH:-}" ] || [ ! -d "${IDF_PATH}/components" ]; then
	echo "esp32 native check skipped: IDF_PATH is not set to an ESP-IDF folder with components/ (got '${IDF_PATH:-}')"
	exit 0
fi
if [ -z "${MODDABLE:-}" ] || [ ! -f "${MODDABLE}/xs/includes/xsmc.h" ]; then
	echo "esp32 native check skipped: MODDABLE is not set to a Moddable SDK (no xs/includes/xsmc.h in '${MODDABLE:-}')"
	exit 0
fi
CC=${CC:-gcc}
if ! command -v "$CC" >/dev/null 2>&1; then
	echo "esp32 native check skipped: no C compiler ($CC)"
	exit 0
fi

c="$IDF_PATH/components"
version=$(sed -n 's/^#define ESP_IDF_VERSION_\(MAJOR\|MINOR\|PATCH\) *\([0-9]*\).*/\2/p' "$c/esp_common/include/esp_idf_version.h" | paste -sd. -)

# ESP-IDF's public include folders for the ESP32 (Xtensa) that these files reach, as its build passes them.
includes="
	$here/esp32-native-check
	$MODDABLE/xs/includes
	$MODDABLE/xs/platforms
	$c/esp_common/include
	$c/esp_hw_support/include
	$c/esp_hw_support/include/soc
	$c/esp_hw_support/etm/include
	$c/esp_timer/include
	$c/esp_partition/include
	$c/app_update/include
	$c/bootloader_support/include
	$c/esp_app_format/include
	$c/esp_bootloader_format/include
	$c/esp_blockdev/include
	$c/esp_driver_gpio/include
	$c/esp_hal_gpio/include
	$c/esp_hal_gpio/esp32/include
	$c/hal/include
	$c/hal/esp32/include
	$c/hal/platform_port/include
	$c/soc/include
	$c/soc/esp32/include
	$c/soc/esp32/register
	$c/esp_rom/include
	$c/esp_rom/esp32/include
	$c/esp_rom/esp32/include/esp32
	$c/log/include
	$c/heap/include
	$c/esp_system/include
	$c/xtensa/include
	$c/xtensa/esp32/include
	$c/esp_wifi/include
	$c/esp_netif/include
	$c/esp_event/include
	$c/lwip/include
	$c/lwip/port/include
	$c/lwip/port/freertos/include
	$c/lwip/port/esp32xx/include
	$c/lwip/lwip/src/include
	$c/freertos/FreeRTOS-Kernel/include
	$c/freertos/FreeRTOS-Kernel/portable/xtensa/include
	$c/freertos/FreeRTOS-Kernel/portable/xtensa/include/freertos
	$c/freertos/config/include
	$c/freertos/config/include/freertos
	$c/freertos/config/xtensa/include
	$c/freertos/esp_additions/include
	$c/esp_phy/include
	$c/esp_driver_uart/include
	$c/esp_hw_support/include/esp_private
	$c/esp_system/include
	$c/vfs/include
	$c/newlib/platform_include
"
flags=""
for dir in $includes; do
	[ -d "$dir" ] && flags="$flags -I$dir"
done

status=0
for file in $files; do
	# -DESP32=1 as Moddable's esp32 makefile compiles modules; errors only from our file, not the SDKs'.
	if $CC -fsyntax-only -std=gnu17 -DESP32=1 -D__XTENSA__=1 -Wall -Werror -Wno-unused-function -Wno-int-to-pointer-cast -Wno-pointer-to-int-cast $flags "$root/$file"; then
		echo "esp32 native check: $file compiles against ESP-IDF ${version:-?} headers ($IDF_PATH)"
	else
		echo "esp32 native check FAILED: $file against ESP-IDF ${version:-?} headers ($IDF_PATH)"
		status=1
	fi
done
# The JS side of each binding (its `@ "xs_…"` host functions), compiled by the SDK's xsc as an app
# module (-c: host functions allowed, -e): mcrun's mods cannot hold host functions, so npm run build:esp32-check leaves it out.
xsc="$MODDABLE/build/bin/lin/release/xsc"
if [ -x "$xsc" ]; then
	out=$(mktemp -d)
	for file in $bindings; do
		if "$xsc" "$root/$file" -c -e -o "$out" -r binding >/dev/null; then
			echo "esp32 native check: $file compiles with xsc"
		else
			echo "esp32 native check FAILED: $file with xsc"
			status=1
		fi
	done
	rm -rf "$out"
else
	echo "esp32 native check: xsc not built in $MODDABLE (build/bin/lin/release): JS bindings not checked"
fi
exit $status
