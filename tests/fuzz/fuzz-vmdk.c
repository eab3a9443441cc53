/* fuzz-vmdk.c - libFuzzer target for the vmdk driver's open path (fuzz-image.h). */
#include "tests/fuzz/fuzz-image.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_image(data, size, "vmdk");
}
