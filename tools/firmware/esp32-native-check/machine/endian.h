/* Stub for the header check (../../esp32-native-check.sh): newlib's machine/endian.h, from the host's. */
#pragma once
#include <endian.h>
#ifndef _BYTE_ORDER
#define _BYTE_ORDER __BYTE_ORDER
#define _LITTLE_ENDIAN __LITTLE_ENDIAN
#define _BIG_ENDIAN __BIG_ENDIAN
#endif
