/* fuzz_claude.c — the claude importer on arbitrary bytes. */
#include "tests/fuzz/fuzz_sink.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	daimon_import_claude_buf((const char *)data, size, "fuzz", &fz_sink);
	if (fz_depth != 0)
		abort();
	return 0;
}
