/*
 * Stub of newlib's sys/reent.h for the header check (../../esp32-native-check.sh): the host's C library
 * has none, and FreeRTOS's Xtensa port (reached through esp_wifi.h) only names struct _reent in a sizeof.
 */
#pragma once
struct _reent { int _errno; };
