/* fuzz-vhd.c - libFuzzer target for the vhd driver's open path (fuzz-image.h). */
#include "tests/fuzz/fuzz-image.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_image(data, size, "vhd");
}
