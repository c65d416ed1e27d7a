/*
 * test_gateway.c — the gateway's own pieces: access control (allowlist,
 * pairing codes and their limits), a channel's inbox journal across a
 * restart and a torn tail, and how answers are split for a peer's limit.
 * The daemon as a whole is driven by daemon.sh.
 */
#include <fcntl.h>
#include <unistd.h>

#include "channels/access.h"
#include "channels/channels.h"
#include "channels/journal.h"
#include "channels/mailmsg.h"
#include "core/error.h"
#include "core/fsutil.h"
#include "core/jsonutil.h"
#include "tests/test.h"

static void test_access__allowlist_pairing_and_its_limits(void)
{
	const char *home = test_tmpdir();
	char path[256], code[DAIMON_PAIRING_CODE_LEN + 1], again[DAIMON_PAIRING_CODE_LEN + 1], who[64];
	snprintf(path, sizeof(path), "%s/config.json", home);
	test_write(path, "{\"channels\":{\"telegram\":{\"allow\":[\"7\", 8]},\"mail\":{\"pairing\":false}}}");
	int fresh;
	CHECK_INT(daimon_access_check(home, "telegram", "7", NULL, code, &fresh), DAIMON_ACCESS_ALLOW);
	CHECK_INT(daimon_access_check(home, "telegram", "8", NULL, code, &fresh), DAIMON_ACCESS_ALLOW);
	CHECK_INT(daimon_access_check(home, "mail", "a@b", NULL, code, &fresh), DAIMON_ACCESS_DENY);
	/* an unknown sender: a code, made once */
	CHECK_INT(daimon_access_check(home, "telegram", "1", "Ana", code, &fresh), DAIMON_ACCESS_PAIRING);
	CHECK_INT(fresh, 1);
	CHECK_INT(strlen(code), 8);
	CHECK_INT(strspn(code, "ABCDEFGHJKMNPQRSTUVWXYZ23456789"), 8);
	CHECK_INT(daimon_access_check(home, "telegram", "1", "Ana", again, &fresh), DAIMON_ACCESS_PAIRING);
	CHECK_INT(fresh, 0);
	CHECK_STR(again, code);
	/* at most 3 pending per channel */
	CHECK_INT(daimon_access_check(home, "telegram", "2", NULL, again, &fresh), DAIMON_ACCESS_PAIRING);
	CHECK_INT(daimon_access_check(home, "telegram", "3", NULL, again, &fresh), DAIMON_ACCESS_PAIRING);
	CHECK_INT(daimon_access_check(home, "telegram", "4", NULL, again, &fresh), DAIMON_ACCESS_DENY);
	cJSON *list = NULL;
	CHECK_INT(daimon_access_pending(home, &list), 0);
	CHECK_INT(cJSON_GetArraySize(list), 3);
	CHECK_STR(daimon_json_str(cJSON_GetArrayItem(list, 0), "name"), "Ana");
	cJSON_Delete(list);
	/* approved: allowed from now on, and the code is gone */
	CHECK_INT(daimon_access_approve(home, code, who, sizeof(who)), 0);
	CHECK_STR(who, "telegram:1");
	CHECK_INT(daimon_access_check(home, "telegram", "1", NULL, again, &fresh), DAIMON_ACCESS_ALLOW);
	CHECK_INT(daimon_access_approve(home, code, who, sizeof(who)), DAIMON_ENOTFOUND);
	/* five wrong codes lock approving, even the right code */
	for (int i = 0; i < 3; i++)
		CHECK(daimon_access_approve(home, "ZZZZZZZZ", who, sizeof(who)) < 0);
	CHECK_CONTAINS(daimon_error_last(), "1 tries left");
	CHECK(daimon_access_approve(home, "ZZZZZZZZ", who, sizeof(who)) < 0);
	CHECK_CONTAINS(daimon_error_last(), "pairing is locked for an hour");
	CHECK_INT(daimon_access_check(home, "telegram", "2", NULL, again, &fresh), DAIMON_ACCESS_PAIRING);
	CHECK(daimon_access_approve(home, again, who, sizeof(who)) < 0);
	CHECK_CONTAINS(daimon_error_last(), "pairing is locked after 5 wrong codes");
	CHECK_INT(daimon_access_check(home, "telegram", "2", NULL, again, &fresh), DAIMON_ACCESS_PAIRING);
}

static void test_access__expired_codes_go(void)
{
	const char *home = test_tmpdir();
	char path[256], code[DAIMON_PAIRING_CODE_LEN + 1], who[64];
	snprintf(path, sizeof(path), "%s/access.json", home);
	test_write(path, "{\"pending\":[{\"code\":\"ABCDEFGH\",\"channel\":\"telegram\",\"sender\":\"5\",\"name\":\"\","
			 "\"created\":1,\"expires\":2}]}");
	CHECK(daimon_access_approve(home, "ABCDEFGH", who, sizeof(who)) < 0);
	int fresh;
	CHECK_INT(daimon_access_check(home, "telegram", "5", NULL, code, &fresh), DAIMON_ACCESS_PAIRING);
	CHECK_INT(fresh, 1);
	CHECK(strcmp(code, "ABCDEFGH") != 0);
	/* a damaged file is an error naming it, never silently emptied */
	test_write(path, "{ torn");
	CHECK(daimon_access_check(home, "telegram", "5", NULL, code, &fresh) < 0);
	CHECK_CONTAINS(daimon_error_last(), "access.json' is not a JSON object");
}

static void test_journal__pending_survive_a_restart_and_a_torn_tail(void)
{
	const char *home = test_tmpdir();
	daimon_journal *j;
	cJSON *pending;
	double mark;
	CHECK_INT(daimon_journal_open(&j, home, "telegram", &pending, &mark), 0);
	CHECK_INT(cJSON_GetArraySize(pending), 0);
	cJSON_Delete(pending);
	CHECK_INT(daimon_journal_in(j, "10", "42", "42", "first", NULL), 0);
	CHECK_INT(daimon_journal_in(j, "11", "42", "42", "second", NULL), 0);
	CHECK_INT(daimon_journal_mark(j, 12), 0);
	CHECK_INT(daimon_journal_commit(j), 0);
	CHECK_INT(daimon_journal_out(j, "10"), 0);
	CHECK_INT(daimon_journal_commit(j), 0);
	CHECK_INT(daimon_journal_in(j, "12", "42", "42", "staged, never committed", NULL), 0);
	daimon_journal_close(j);
	/* a crash mid-write leaves half a line */
	char path[256];
	snprintf(path, sizeof(path), "%s/channels/telegram.jsonl", home);
	int fd = open(path, O_WRONLY | O_APPEND);
	CHECK(fd >= 0);
	CHECK(write(fd, "{\"in\":\"13\",\"ch", 14) == 14);
	close(fd);
	CHECK_INT(daimon_journal_open(&j, home, "telegram", &pending, &mark), 0);
	CHECK_INT(mark, 12);
	CHECK_INT(cJSON_GetArraySize(pending), 1);
	CHECK_STR(daimon_json_str(cJSON_GetArrayItem(pending, 0), "in"), "11");
	CHECK_STR(daimon_json_str(cJSON_GetArrayItem(pending, 0), "text"), "second");
	cJSON_Delete(pending);
	daimon_journal_close(j);
	/* rewritten short at open: what is pending and the mark */
	daimon_buf b = DAIMON_BUF_INIT;
	CHECK_INT(daimon_read_file(&b, path), 0);
	CHECK_STR(b.ptr, "{\"in\":\"11\",\"chat\":\"42\",\"sender\":\"42\",\"text\":\"second\"}\n{\"mark\":12}\n");
	daimon_buf_release(&b);
}

static int file_has(const char *path, const char *what)
{
	char *text = test_read(path);
	int has = strstr(text, what) != NULL;
	free(text);
	return has;
}

/* What the work pool does for a channel: access checks, then the allowed
 * messages journaled with the mark in one commit; "out" later. */
static void test_journal__an_inbox_batch_is_checked_and_journaled(void)
{
	const char *home = test_tmpdir();
	char path[256];
	snprintf(path, sizeof(path), "%s/config.json", home);
	test_write(path, "{\"channels\":{\"telegram\":{\"allow\":[\"7\"]}}}");
	daimon_journal *j;
	cJSON *pending;
	double mark;
	CHECK_INT(daimon_journal_open(&j, home, "telegram", &pending, &mark), 0);
	cJSON_Delete(pending);
	cJSON *batch =
		cJSON_Parse("[{\"id\":\"20\",\"chat\":\"7\",\"sender\":\"7\",\"text\":\"hi\",\"subject\":\"s\"},"
			    "{\"id\":\"21\",\"chat\":\"9\",\"sender\":\"9\",\"name\":\"Eve\",\"text\":\"let me in\"},"
			    "{\"id\":\"22\",\"chat\":\"9\",\"sender\":\"9\",\"text\":\"again\"}]");
	cJSON *r = daimon_inbox_take(j, home, "telegram", batch, 23);
	cJSON_Delete(batch);
	CHECK(r != NULL);
	const cJSON *taken = cJSON_GetObjectItemCaseSensitive(r, "taken");
	const cJSON *pairing = cJSON_GetObjectItemCaseSensitive(r, "pairing");
	CHECK_INT(cJSON_GetArraySize(taken), 1);
	CHECK_STR(daimon_json_str(cJSON_GetArrayItem(taken, 0), "id"), "20");
	CHECK_INT(cJSON_GetArraySize(pairing), 1); /* one fresh code for the stranger, not two */
	CHECK_STR(daimon_json_str(cJSON_GetArrayItem(pairing, 0), "id"), "21");
	CHECK_INT(strlen(daimon_json_str(cJSON_GetArrayItem(pairing, 0), "code")), DAIMON_PAIRING_CODE_LEN);
	cJSON_Delete(r);
	/* journaled with the channel's own fields, the denied ones not at all */
	snprintf(path, sizeof(path), "%s/channels/telegram.jsonl", home);
	char *text = test_read(path);
	CHECK_STR(text, "{\"in\":\"20\",\"chat\":\"7\",\"sender\":\"7\",\"text\":\"hi\",\"subject\":\"s\"}\n"
			"{\"mark\":23}\n");
	free(text);
	/* "out" from the pool; the journal outlives its close while the job holds it */
	daimon_rt *rt;
	CHECK_INT(daimon_rt_new(&rt, NULL), 0);
	daimon_journal_out_later(rt, j, "20");
	daimon_journal_close(j);
	EVENTUALLY(file_has(path, "{\"out\":\"20\"}"));
	daimon_rt_free(rt);
	CHECK_INT(daimon_journal_open(&j, home, "telegram", &pending, &mark), 0);
	CHECK_INT(mark, 23);
	CHECK_INT(cJSON_GetArraySize(pending), 0);
	cJSON_Delete(pending);
	daimon_journal_close(j);
}

static void test_channel__split_at_breaks_never_inside_a_character(void)
{
	CHECK_INT(daimon_channel_split("short", 5, 10), 5);
	const char *para = "aaaa bbbb\n\ncccc dddd";
	CHECK_INT(daimon_channel_split(para, strlen(para), 15), 11); /* after the paragraph */
	const char *words = "aaaa bbbb cccc dddd";
	CHECK_INT(daimon_channel_split(words, strlen(words), 12), 10); /* after a space */
	/* no break: never cut a UTF-8 character (é is two bytes) */
	const char *accents = "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9";
	CHECK_INT(daimon_channel_split(accents, strlen(accents), 5), 4);
}

static void test_mail__the_text_of_a_multipart_mail_and_the_reply(void)
{
	const char *raw = "From: \"Bob B.\" <Bob@Example.ORG>\r\n"
			  "Subject: a long\r\n subject\r\n"
			  "Message-ID: <x1@example.org>\r\n"
			  "Content-Type: multipart/alternative; boundary=\"b1\"\r\n\r\n"
			  "--b1\r\nContent-Type: text/html\r\n\r\n<p>not this</p>\r\n"
			  "--b1\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
			  "aGVsbG8g4piVCg==\r\n--b1--\r\n";
	daimon_mail m;
	CHECK_INT(daimon_mail_parse(&m, raw, strlen(raw)), 0);
	CHECK_STR(m.from, "bob@example.org");
	CHECK_STR(m.name, "Bob B.");
	CHECK_STR(m.subject, "a long subject");
	CHECK_STR(m.message_id, "<x1@example.org>");
	CHECK_STR(m.text, "hello \xe2\x98\x95");
	char *r = daimon_mail_reply("me@example.org", m.from, m.subject, m.message_id, m.references, "line 1\nline 2");
	CHECK_CONTAINS(
		r, "Subject: Re: a long subject\r\nIn-Reply-To: <x1@example.org>\r\nReferences: <x1@example.org>\r\n");
	CHECK_CONTAINS(r, "\r\n\r\nline 1\r\nline 2\r\n");
	free(r);
	daimon_mail_release(&m);
	const char *soft =
		"From: a@b.c\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nsoft=\r\nbreak =3D ok\r\n";
	CHECK_INT(daimon_mail_parse(&m, soft, strlen(soft)), 0);
	CHECK_STR(m.text, "softbreak = ok");
	daimon_mail_release(&m);
	CHECK_INT(daimon_mail_parse(&m, "Subject: no sender\r\n\r\nx", 26), -1);
	/* other character sets: the part's charset, encoded words, none said */
	const char *latin = "From: =?utf-8?q?J=C3=BCrgen_M.?= <j@example.de>\r\n"
			    "Subject: =?ISO-8859-1?Q?Caf=E9_cr=E8me?= =?UTF-8?B?4piV?= and\r\n =?x-bogus?Q?more?=\r\n"
			    "Content-Type: text/plain; charset=\"iso-8859-1\"\r\n"
			    "Content-Transfer-Encoding: quoted-printable\r\n\r\nUn caf=E9, s'il vous pla=EEt.\r\n";
	CHECK_INT(daimon_mail_parse(&m, latin, strlen(latin)), 0);
	CHECK_STR(m.name, "J\xc3\xbcrgen M.");
	CHECK_STR(m.subject, "Caf\xc3\xa9 cr\xc3\xa8me\xe2\x98\x95 and more");
	CHECK_STR(m.text, "Un caf\xc3\xa9, s'il vous pla\xc3\xaet.");
	r = daimon_mail_reply("me@example.org", m.from, "Caf\xc3\xa9", NULL, NULL, "oui");
	CHECK_CONTAINS(r, "Subject: =?UTF-8?B?UmU6IENhZsOp?=\r\n"); /* "Re: Café", ASCII on the wire */
	free(r);
	daimon_mail_release(&m);
	const char *bare = "From: a@b.c\r\nSubject: na\xefve\r\n\r\nna\xefve \x80 text\r\n"; /* (no charset: 1252) */
	CHECK_INT(daimon_mail_parse(&m, bare, strlen(bare)), 0);
	CHECK_STR(m.subject, "na\xc3\xafve");
	CHECK_STR(m.text, "na\xc3\xafve \xe2\x82\xac text");
	daimon_mail_release(&m);
}

int main(int argc, char **argv)
{
	static const struct test_case cases[] = {
		TEST_CASE(test_access__allowlist_pairing_and_its_limits),
		TEST_CASE(test_access__expired_codes_go),
		TEST_CASE(test_journal__pending_survive_a_restart_and_a_torn_tail),
		TEST_CASE(test_journal__an_inbox_batch_is_checked_and_journaled),
		TEST_CASE(test_channel__split_at_breaks_never_inside_a_character),
		TEST_CASE(test_mail__the_text_of_a_multipart_mail_and_the_reply),
		{0},
	};
	return test_main(argc, argv, cases);
}
