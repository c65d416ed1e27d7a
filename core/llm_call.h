/*
 * llm_call.h — one whole model call as an actor: for the work that needs
 * the model's text and nothing else (a compaction's summary, a session's
 * title, a search hit summarized), so none of it has to share the
 * streaming and tool machinery of a turn.
 *
 * The actor is spawned as the caller's child; it makes the request
 * through the http actor, assembles the streamed answer, and sends its
 * parent one DAIMON_MSG_JOB_DONE (work.h) — status 0 and the text, or <0
 * and why — then exits. Cancelling it aborts the transfer.
 */
#ifndef DAIMON_CORE_LLM_CALL_H
#define DAIMON_CORE_LLM_CALL_H

#include <cjson/cJSON.h>
#include <stdint.h>

#include "core/actor.h"
#include "core/llm.h"

/* Inside a handler. `cfg` must outlive the call; `system` and `messages`
 * are copied into the request. 0 (last error set) if it cannot start. */
daimon_aid daimon_llm_call_spawn(daimon_ctx *ctx, daimon_aid http, const daimon_llm_config *cfg, const char *system,
				 const cJSON *messages, uint64_t ref, long timeout_ms);

#endif
