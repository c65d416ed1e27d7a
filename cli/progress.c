/*
 * progress.c — one self-overwriting progress line on a terminal's stderr,
 * redrawn at most ten times a second; nothing at all when stderr is a pipe.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "core/timefmt.h"

static uint64_t last_draw;
static int drawn;

void cli_progress(const char *label, size_t done, size_t total)
{
	if (!cli_tty_stderr())
		return;
	uint64_t now = daimon_mono_ns();
	if (done != total && now - last_draw < 100000000u)
		return;
	last_draw = now;
	drawn = 1;
	if (total) {
		int width = 30, fill = (int)((double)done / (double)total * width);
		char bar[31];
		memset(bar, '=', (size_t)fill);
		memset(bar + fill, ' ', (size_t)(width - fill));
		bar[width] = '\0';
		fprintf(stderr, "\r%s [%s] %zu/%zu %3d%%", label, bar, done, total, (int)(100.0 * done / total));
	} else {
		fprintf(stderr, "\r%s %zu", label, done);
	}
	fflush(stderr);
}

void cli_progress_end(void)
{
	if (drawn)
		fputs("\r\033[K", stderr);
	drawn = 0;
}
