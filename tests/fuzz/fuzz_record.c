/* fuzz_record.c — the session-log record parser and text extraction. */
#include "core/buf.h"
#include "memory/record.h"
#include "memory/text.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	daimon_record rec;
	if (daimon_record_parse(&rec, (const char *)data, size) == 0) {
		daimon_buf b = DAIMON_BUF_INIT;
		int role;
		daimon_record_search_text(&rec, &b, &role);
		daimon_buf_release(&b);
		daimon_record_clear(&rec);
	}
	return 0;
}
