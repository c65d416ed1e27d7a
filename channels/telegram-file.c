/*
 * telegram-file.c — what Telegram users send besides text: photos go to
 * the model as images, voice messages are transcribed and go as what
 * was said, documents (and videos) are kept for the tools to read.
 *
 * Every file is fetched on the work pool (getFile, then the download,
 * bounded by channels.telegram.max_file_mb) and kept in the inbox as
 * "<update id>-<name>" (files.h). Only then does the message go to its
 * session, its text saying what came with it.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "channels/files.h"
#include "channels/telegram-int.h"
#include "core/config.h"
#include "core/error.h"
#include "core/jsonutil.h"
#include "core/provider.h"
#include "core/settings.h"

/* The file a message carries, as the journal keeps it ("file":
 * {"kind","id","size","name","mime"}), added to `c`; 0 if none. */
int tg_file_of(const cJSON *msg, cJSON *c)
{
	static const char *const kinds[][2] = {{"voice", "voice"},         {"audio", "voice"},
					       {"document", "document"},   {"video", "document"},
					       {"video_note", "document"}, {"animation", "document"}};
	const cJSON *f = NULL, *photo = cJSON_GetObjectItemCaseSensitive(msg, "photo");
	const char *kind = NULL;
	if (cJSON_IsArray(photo)) { /* its sizes, smallest first: the largest */
		for (const cJSON *p = photo->child; p; p = p->next)
			f = p;
		kind = "photo";
	}
	for (size_t i = 0; !f && i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (cJSON_IsObject(f = cJSON_GetObjectItemCaseSensitive(msg, kinds[i][0])))
			kind = kinds[i][1];
		else
			f = NULL;
	const char *id = daimon_json_str(f, "file_id");
	if (!id)
		return 0;
	cJSON *o = cJSON_AddObjectToObject(c, "file");
	cJSON_AddStringToObject(o, "kind", kind);
	cJSON_AddStringToObject(o, "id", id);
	const cJSON *size = cJSON_GetObjectItemCaseSensitive(f, "file_size");
	cJSON_AddNumberToObject(o, "size", cJSON_IsNumber(size) ? size->valuedouble : 0);
	const char *name = daimon_json_str(f, "file_name"), *mime = daimon_json_str(f, "mime_type");
	cJSON_AddStringToObject(o, "name", name ? name : kind); /* (its extension from Telegram's file_path) */
	if (mime)
		cJSON_AddStringToObject(o, "mime", mime);
	return 1;
}

struct fetch {
	char *home, *api, *token;
	char id[32], kind[16], file_id[256], name[128], mime[96];
	double max;
};

static void fetch_free(void *arg)
{
	struct fetch *f = arg;
	free(f->home);
	free(f->api);
	free(f->token);
	free(f);
}

static void add_mb(daimon_buf *b, double bytes)
{
	if (bytes >= 1024 * 1024)
		daimon_buf_addf(b, "%.1f MB", bytes / (1024 * 1024));
	else if (bytes >= 1024)
		daimon_buf_addf(b, "%.0f KB", bytes / 1024);
	else
		daimon_buf_addf(b, "%.0f bytes", bytes);
}

/* (size < 0: not known, only that it is more than the bound) */
static int too_big(const struct fetch *f, double size)
{
	daimon_buf b = DAIMON_BUF_INIT;
	daimon_buf_adds(&b, size < 0 ? "that file is larger than that" : "that file is ");
	if (size >= 0)
		add_mb(&b, size);
	daimon_buf_addf(&b, "; I take files up to %.0f MB (channels.telegram.max_file_mb)", f->max / (1024 * 1024));
	int rc = daimon_error_code(DAIMON_ETOOBIG, "%s", daimon_buf_cstr(&b));
	daimon_buf_release(&b);
	return rc;
}

/* getFile, then the bytes (bounded). */
static int download(const struct fetch *f, daimon_buf *bytes, char *ext, size_t ext_size)
{
	daimon_buf url = DAIMON_BUF_INIT, got = DAIMON_BUF_INIT;
	daimon_buf_addf(&url, "%s/bot%s/getFile?file_id=", f->api, f->token);
	for (const char *p = f->file_id; *p; p++) /* (ids are URL-safe base64; anything else escaped) */
		if (strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", *p))
			daimon_buf_addc(&url, *p);
		else
			daimon_buf_addf(&url, "%%%02X", (unsigned char)*p);
	long status = 0;
	int rc = daimon_http_fetch(NULL, daimon_buf_cstr(&url), NULL, NULL, 0, 30000, &status, &got);
	cJSON *doc = rc == 0 ? cJSON_Parse(daimon_buf_cstr(&got)) : NULL;
	const cJSON *result = cJSON_GetObjectItemCaseSensitive(doc, "result");
	const char *path = daimon_json_str(result, "file_path");
	const cJSON *size = cJSON_GetObjectItemCaseSensitive(result, "file_size");
	if (rc == 0 && !path) {
		const char *desc = daimon_json_str(doc, "description");
		rc = daimon_error("Telegram's getFile answered HTTP %ld%s%s", status, desc ? ": " : " without a file",
				  desc ? desc : "");
	} else if (rc == 0 && cJSON_IsNumber(size) && size->valuedouble > f->max) {
		rc = too_big(f, size->valuedouble);
	}
	if (rc == 0) {
		const char *dot = strrchr(path, '.');
		snprintf(ext, ext_size, "%s", dot && !strchr(dot, '/') && strlen(dot) < 8 ? dot : "");
		daimon_buf_clear(&url);
		daimon_buf_addf(&url, "%s/file/bot%s/%s", f->api, f->token, path);
		rc = daimon_http_download(daimon_buf_cstr(&url), 120000, (size_t)f->max, &status, bytes);
		if (rc == DAIMON_ETOOBIG)
			rc = too_big(f, -1);
		else if (rc == 0 && status != 200)
			rc = daimon_error("the download of the file answered HTTP %ld", status);
		else if (rc < 0) /* (the error names the URL, which holds the token) */
			rc = daimon_error("the file could not be downloaded from Telegram");
	}
	cJSON_Delete(doc);
	daimon_buf_release(&url);
	daimon_buf_release(&got);
	return rc;
}

static int transcribe(const struct fetch *f, const daimon_buf *bytes, const char *name, cJSON *out)
{
	daimon_settings *set = NULL;
	const char *model = "whisper-1";
	daimon_model_settings ms;
	int rc = daimon_settings_load(&set, f->home);
	if (rc == 0)
		rc = daimon_settings_string(set, "model.transcribe_model", &model);
	if (rc == 0)
		rc = daimon_model_endpoint_load(&ms, f->home);
	if (rc < 0) {
		daimon_settings_free(set);
		return rc;
	}
	daimon_buf said = DAIMON_BUF_INIT;
	rc = daimon_llm_transcribe(&ms.llm, model, bytes->ptr, bytes->len, name, f->mime[0] ? f->mime : NULL, 120000,
				   &said);
	if (rc == 0)
		cJSON_AddStringToObject(out, "transcript", daimon_buf_cstr(&said));
	daimon_buf_release(&said);
	daimon_model_settings_release(&ms);
	daimon_settings_free(set);
	return rc;
}

/* (the pool) {"path","mime","bytes"[,"transcript"]}, or why not. */
static int fetch_job(void *arg, daimon_buf *out, const _Atomic int *cancelled)
{
	(void)cancelled;
	const struct fetch *f = arg;
	daimon_buf bytes = DAIMON_BUF_INIT;
	char ext[8] = "", rel[256];
	cJSON *r = NULL;
	int rc = download(f, &bytes, ext, sizeof(ext));
	if (rc == 0)
		rc = daimon_file_keep(f->home, f->id, f->name, ext, bytes.ptr, bytes.len, rel, sizeof(rel));
	if (rc == 0) {
		r = cJSON_CreateObject();
		cJSON_AddStringToObject(r, "path", rel);
		cJSON_AddNumberToObject(r, "bytes", (double)bytes.len);
		const char *mime = daimon_image_type(bytes.ptr, bytes.len);
		if (!strcmp(f->kind, "photo") && !mime)
			rc = daimon_error("that photo is not a picture I can read (neither JPEG, PNG, GIF nor WebP); "
					  "it is kept as %s",
					  rel);
		cJSON_AddStringToObject(r, "mime", mime ? mime : f->mime[0] ? f->mime : "application/octet-stream");
		if (rc == 0 && !strcmp(f->kind, "voice") && transcribe(f, &bytes, strrchr(rel, '/') + 1, r) < 0) {
			char why[512];
			snprintf(why, sizeof(why), "%s", daimon_error_last());
			rc = daimon_error("I could not transcribe the voice message (%s); it is kept as %s", why, rel);
		}
	}
	daimon_buf_release(&bytes);
	if (rc < 0) {
		cJSON_Delete(r);
		daimon_buf_adds(out, daimon_error_last());
		return -1;
	}
	char *s = cJSON_PrintUnformatted(r);
	daimon_buf_adds(out, s);
	cJSON_free(s);
	cJSON_Delete(r);
	return 0;
}

int tg_fetch(daimon_ctx *ctx, struct tg *t, struct tg_item *it, const cJSON *file)
{
	double size = 0;
	const cJSON *n = cJSON_GetObjectItemCaseSensitive(file, "size");
	if (cJSON_IsNumber(n))
		size = n->valuedouble;
	struct fetch *f = daimon_xcalloc(1, sizeof(*f));
	f->max = (double)t->cf->max_file_bytes;
	if (size > f->max) { /* said before anything is fetched */
		too_big(f, size);
		fetch_free(f);
		return -1;
	}
	f->home = daimon_xstrdup(t->cf->host->store->home);
	f->api = daimon_xstrdup(t->cf->api);
	f->token = daimon_xstrdup(t->cf->token);
	snprintf(f->id, sizeof(f->id), "%s", it->id);
	snprintf(f->kind, sizeof(f->kind), "%s", daimon_json_str(file, "kind"));
	snprintf(f->file_id, sizeof(f->file_id), "%s", daimon_json_str(file, "id"));
	snprintf(f->name, sizeof(f->name), "%s", daimon_json_str(file, "name") ? daimon_json_str(file, "name") : "");
	snprintf(f->mime, sizeof(f->mime), "%s", daimon_json_str(file, "mime") ? daimon_json_str(file, "mime") : "");
	snprintf(it->file, sizeof(it->file), "%s", f->kind);
	it->job = ++t->jobs + 1;
	it->fetching = 1;
	daimon_job_release(daimon_job_submit(daimon_ctx_rt(ctx), daimon_self(ctx), it->job, fetch_job, f, fetch_free));
	return 0;
}

int tg_fetched(const struct tg *t, struct tg_item *it, const daimon_job_done *d, daimon_buf *text, daimon_buf *note,
	       char **images)
{
	it->fetching = 0;
	cJSON *r = d->status == 0 ? cJSON_Parse(d->text) : NULL;
	if (!r) {
		daimon_buf_addf(note, "(%s)", d->status ? d->text : "the file could not be kept");
		note->ptr[1] = (char)toupper((unsigned char)note->ptr[1]);
		return -1;
	}
	const char *path = daimon_json_str(r, "path"), *mime = daimon_json_str(r, "mime");
	const char *said = daimon_json_str(r, "transcript");
	const cJSON *bytes = cJSON_GetObjectItemCaseSensitive(r, "bytes");
	if (!strcmp(it->file, "photo")) {
		cJSON *list = cJSON_CreateArray(), *one = cJSON_CreateObject();
		cJSON_AddStringToObject(one, "path", path);
		cJSON_AddStringToObject(one, "mime", mime);
		cJSON_AddItemToArray(list, one);
		*images = cJSON_PrintUnformatted(list);
		cJSON_Delete(list);
		if (t->cf->no_images)
			daimon_buf_addf(
				note,
				"(This model does not take images (model.images is false); the photo is kept as "
				"%s.)",
				path);
	} else if (said) {
		daimon_buf_addf(note, "(heard: %s)", said);
		daimon_buf_addf(text, "%s[a voice message, transcribed] %s", text->len ? "\n" : "", said);
	} else {
		daimon_buf_addf(text, "%s[The user sent a file, kept as %s (", text->len ? "\n" : "", path);
		add_mb(text, cJSON_IsNumber(bytes) ? bytes->valuedouble : 0);
		daimon_buf_addf(text, ", %s) in daimon's home.]", mime);
	}
	cJSON_Delete(r);
	return 0;
}
