/*
 * Stub sdkconfig.h for the header check of the firmware's ESP32 C files (../esp32-native-check.sh):
 * only what ESP-IDF's public headers need to parse for an ESP32 target. A real build uses the
 * sdkconfig.h that ESP-IDF generates.
 */
#pragma once
#define CONFIG_IDF_TARGET "esp32"
#define CONFIG_IDF_TARGET_ESP32 1
#define CONFIG_IDF_TARGET_ARCH_XTENSA 1
#define CONFIG_IDF_TARGET_ARCH "xtensa"
#define CONFIG_SOC_RTCIO_INPUT_OUTPUT_SUPPORTED 1
#define CONFIG_FREERTOS_HZ 100
#define CONFIG_LOG_MAXIMUM_LEVEL 3
#define CONFIG_LOG_DEFAULT_LEVEL 3
