/* fuzz_hermes.c — the importer of a SQLite database, on arbitrary database
 * images (the seeds are real ones; libFuzzer mutates their pages). */
#include "tests/fuzz/fuzz_sink.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	fz_run_db(data, size, daimon_import_hermes_db);
	return 0;
}
