/*
 * Stub for the header check (../esp32-native-check.sh): FreeRTOS's Xtensa port includes ESP-IDF's
 * esp_newlib.h for its task code only; the real one lives beside C library headers that clash with the host's.
 */
#pragma once
