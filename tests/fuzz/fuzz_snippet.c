/* fuzz_snippet.c — snippets of arbitrary text for arbitrary queries
 * (input: query, a NUL byte, text). */
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "memory/snippet.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	char *s = daimon_xstrndup((const char *)data, size);
	size_t qlen = strlen(s);
	const char *text = qlen < size ? s + qlen + 1 : "";
	daimon_buf b = DAIMON_BUF_INIT;
	daimon_snippet(&b, text, s, "[", "]", 1 + (int)(size % 20));
	daimon_buf_release(&b);
	free(s);
	return 0;
}
