/*
 * crc32c.h - CRC-32C (Castagnoli), the checksum of VHDX headers, region
 * tables, metadata-free log entries and more.
 */
#ifndef HV_CRC32C_H
#define HV_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/*
 * Continue a CRC-32C over buf. Start with crc = 0; the usual pre- and
 * post-inversion are done inside, so crc32c(crc32c(0, a), b) is the CRC
 * of a followed by b.
 */
uint32_t crc32c(uint32_t crc, const void *buf, size_t len);

#endif
