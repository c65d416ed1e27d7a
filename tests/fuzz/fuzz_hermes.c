/* fuzz_hermes.c — the importer of a SQLite database, on arbitrary database
 * images (the seeds are real ones; libFuzzer mutates their pages). */
#include <sqlite3.h>

#include "tests/fuzz/fuzz_sink.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	sqlite3 *db;
	if (sqlite3_open(":memory:", &db) != SQLITE_OK)
		abort();
	unsigned char *copy = sqlite3_malloc64(size ? size : 1);
	memcpy(copy, data, size);
	if (sqlite3_deserialize(db, "main", copy, (sqlite3_int64)size, (sqlite3_int64)size,
				SQLITE_DESERIALIZE_FREEONCLOSE | SQLITE_DESERIALIZE_READONLY) == SQLITE_OK) {
		sqlite3_limit(db, SQLITE_LIMIT_LENGTH, 1 << 20);
		daimon_import_hermes_db(db, "fuzz", &fz_sink);
	}
	sqlite3_close(db);
	if (fz_depth != 0)
		abort();
	return 0;
}
