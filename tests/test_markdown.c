/*
 * test_markdown.c — the model's markdown for the page, Telegram and a
 * terminal: the elements come out as elements, what could run or leak
 * (raw HTML, javascript: links, images that would load) does not, and
 * Telegram's parts stay within its limit with every code block closed.
 */
#include "channels/markdown.h"
#include "core/buf.h"
#include "tests/test.h"

static void test_markdown__html_has_the_elements(void)
{
	const char *md = "# Plan\n\nSome **bold**, *it*, ~~gone~~ and `x()`.\n\n"
			 "- one\n- two\n\n| a | b |\n|---|--:|\n| 1 | 2 |\n\n> quoted\n\n"
			 "```c\nint main(void) { return 1 < 2; }\n```\n\nSee https://example.org and "
			 "[mail](mailto:me@example.org).\n";
	char *h = daimon_md_html(md, strlen(md));
	CHECK_CONTAINS(h, "<h1>Plan</h1>");
	CHECK_CONTAINS(h, "<strong>bold</strong>");
	CHECK_CONTAINS(h, "<em>it</em>");
	CHECK_CONTAINS(h, "<del>gone</del>");
	CHECK_CONTAINS(h, "<code>x()</code>");
	CHECK_CONTAINS(h, "<li>two</li>");
	CHECK_CONTAINS(h, "<table>");
	CHECK_CONTAINS(h, "<td align=\"right\">2</td>");
	CHECK_CONTAINS(h, "<blockquote>");
	CHECK_CONTAINS(h, "<pre><code class=\"language-c\">int main(void) { return 1 &lt; 2; }");
	CHECK_CONTAINS(h, "<a href=\"https://example.org\">https://example.org</a>");
	CHECK_CONTAINS(h, "<a href=\"mailto:me@example.org\">mail</a>");
	free(h);
}

static void test_markdown__html_runs_nothing(void)
{
	const char *md = "<script>alert(1)</script>\n\nHi <img src=x onerror=alert(2)> there.\n\n"
			 "[click](javascript:alert(3)) [data](data:text/html,<b>x</b>) [rel](/api/chat)\n\n"
			 "![secret](https://evil.example/?q=secret) ![x](javascript:alert(4))\n";
	char *h = daimon_md_html(md, strlen(md));
	CHECK(!strstr(h, "<script"));
	CHECK(!strstr(h, "<img"));
	CHECK(!strstr(h, "javascript:"));
	CHECK(!strstr(h, "href=\"data:"));
	CHECK(!strstr(h, "href=\"/api"));
	CHECK_CONTAINS(h, "&lt;script&gt;alert(1)&lt;/script&gt;"); /* shown, as text */
	CHECK_CONTAINS(h, "Hi &lt;img src=x onerror=alert(2)&gt; there.");
	CHECK_CONTAINS(h, "<p>click data rel</p>");
	CHECK_CONTAINS(h, "<a href=\"https://evil.example/?q=secret\">secret</a>"); /* a link, not loaded */
	free(h);
}

static void test_markdown__telegram_tags_and_escapes(void)
{
	const char *md = "## Title\n\n**b** _i_ `a<b` & [x](https://e.org/?a=1&b=\"2\") [bad](javascript:x)\n\n"
			 "1. first\n2. second\n   - inner\n\n```\nif (a < b) {}\n```\n\n<b>raw</b>\n";
	char **parts;
	size_t n = daimon_md_telegram(md, strlen(md), 4096, &parts);
	CHECK_INT(n, 1);
	CHECK_CONTAINS(parts[0], "<b>Title</b>\n\n<b>b</b> <i>i</i> <code>a&lt;b</code> &amp; ");
	CHECK_CONTAINS(parts[0], "<a href=\"https://e.org/?a=1&amp;b=&quot;2&quot;\">x</a> bad");
	CHECK_CONTAINS(parts[0], "1. first\n2. second\n   \xe2\x80\xa2 inner");
	CHECK_CONTAINS(parts[0], "<pre>if (a &lt; b) {}</pre>");
	CHECK_CONTAINS(parts[0], "&lt;b&gt;raw&lt;/b&gt;");
	for (size_t i = 0; i < n; i++)
		free(parts[i]);
	free(parts);
}

/* Long answers split between blocks; a code block longer than a message
 * becomes several, each a whole <pre>. */
static void test_markdown__telegram_splits_without_breaking_code(void)
{
	daimon_buf md = DAIMON_BUF_INIT;
	for (int i = 0; i < 30; i++)
		daimon_buf_addf(&md, "Paragraph %d says something & more, at some length to fill a message.\n\n", i);
	daimon_buf_adds(&md, "```\n");
	for (int i = 0; i < 300; i++)
		daimon_buf_addf(&md, "line %03d <of code>\n", i);
	daimon_buf_adds(&md, "```\n\nThe end.\n");
	char **parts;
	size_t n = daimon_md_telegram(md.ptr, md.len, 1000, &parts);
	CHECK(n >= 8);
	int saw_end = 0, lines = 0;
	for (size_t i = 0; i < n; i++) {
		CHECK(strlen(parts[i]) <= 1000);
		int opens = 0, closes = 0;
		for (const char *p = parts[i]; (p = strstr(p, "<pre>")); p++)
			opens++;
		for (const char *p = parts[i]; (p = strstr(p, "</pre>")); p++)
			closes++;
		CHECK_INT(opens, closes);
		for (const char *p = parts[i]; (p = strstr(p, "&lt;of code&gt;")); p++)
			lines++;
		saw_end |= strstr(parts[i], "The end.") != NULL;
		free(parts[i]);
	}
	free(parts);
	CHECK_INT(lines, 300);
	CHECK(saw_end);
	daimon_buf_release(&md);
}

static void test_markdown__terminal_styles_and_no_raw_controls(void)
{
	const char *md = "# Head\n\n**b** and `c`\n\n| n | v |\n|---|---|\n| x | 10 |\n\nbad \x1b]52;c;aGk=\x07 here\n";
	char *t = daimon_md_terminal(md, strlen(md), 1);
	CHECK_CONTAINS(t, "\033[1;4mHead\033[22;24m");
	CHECK_CONTAINS(t, "\033[1mb\033[22m and \033[36mc\033[39m");
	CHECK_CONTAINS(t, "n | v\n");
	CHECK_CONTAINS(t, "--+---\n");
	CHECK_CONTAINS(t, "x | 10");
	CHECK_CONTAINS(t, "bad ^[]52;c;aGk=^G here");
	free(t);
	char *p = daimon_md_terminal(md, strlen(md), 0);
	CHECK(!strchr(p, '\033'));
	CHECK_CONTAINS(p, "Head\n\nb and c");
	free(p);
}

int main(int argc, char **argv)
{
	static const struct test_case cases[] = {
		TEST_CASE(test_markdown__html_has_the_elements),
		TEST_CASE(test_markdown__html_runs_nothing),
		TEST_CASE(test_markdown__telegram_tags_and_escapes),
		TEST_CASE(test_markdown__telegram_splits_without_breaking_code),
		TEST_CASE(test_markdown__terminal_styles_and_no_raw_controls),
		{0},
	};
	return test_main(argc, argv, cases);
}
