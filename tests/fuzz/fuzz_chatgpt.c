/* fuzz_chatgpt.c — the chatgpt importer on arbitrary bytes. */
#include "tests/fuzz/fuzz_sink.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	daimon_import_chatgpt_buf((const char *)data, size, "fuzz", &fz_sink);
	if (fz_depth != 0)
		abort();
	return 0;
}
