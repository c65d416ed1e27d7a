#!/usr/bin/env bash
# daemon.sh — drives `daimon serve` as a user does: a real daemon on a
# temporary $DAIMON_HOME, the command line attached to it through the
# control socket, the model played by aimock and Telegram by
# telegram-test-api (shared/PEERS.md), both on loopback.
# Usage: daemon.sh DAIMON PEERS   (PEERS: tests/peers with node_modules)
set -u
DAIMON=$1
PEERS=$2
. "$(dirname "$0")/harness.sh"
suite_begin d

AIM=$PEERS/node_modules/@copilotkit/aimock/dist/cli.js
if [ ! -f "$AIM" ] || [ ! -d "$PEERS/node_modules/telegram-test-api" ]; then
  bad peers_installed "run scripts/setup.sh: the test peers are missing in $PEERS"
  echo "$pass passed, $fail failed"; exit 1
fi

for c in serve status stop ps pairing owner api-key; do
  expect "help_$c" 0 "^usage: daimon $c" -- "$DAIMON" "$c" --help
done
"$DAIMON" init >/dev/null
expect status_not_running 3 '^not running' -- "$DAIMON" status
expect status_json_not_running 3 '^\{"running":false\}$' -- "$DAIMON" status --json
expect stop_not_running 1 '^daimon: no daemon is running$' -- "$DAIMON" stop
expect ps_not_running 1 'no daemon is running' -- "$DAIMON" ps

# the peers
mkdir -p "$TMP/aim"
long=$(printf 'word%.0s ' $(seq 1500))  # ~7,500 characters: two Telegram messages
cat >"$TMP/aim/f.json" <<EOF
{"fixtures":[
 {"match":{"userMessage":"tty-marker","systemMessage":"You name and summarize"},"streamingProfile":{"ttft":1500},
  "response":{"content":"{\\"title\\":\\"A long answer, stopped\\",\\"summary\\":\\"It went on until stopped.\\"}"}},
 {"match":{"userMessage":"hello"},"response":{"content":"Hello from the mock."}},
 {"match":{"userMessage":"what is in this picture?"},"response":{"content":"Two small red squares."}},
 {"match":{"userMessage":"owner here"},"response":{"content":"Hi, owner."}},
 {"match":{"userMessage":"act for me","hasToolResult":true},"response":{"content":"Acted."}},
 {"match":{"userMessage":"act for me"},"response":{"toolCalls":[{"id":"q1","name":"guard-act","arguments":"{}"}]}},
 {"match":{"userMessage":"dig up my past","hasToolResult":true},"response":{"content":"Dug."}},
 {"match":{"userMessage":"dig up my past"},"response":{"toolCalls":[{"id":"s1","name":"session_search","arguments":"{\\"query\\":\\"tangerine\\"}"}]}},
 {"match":{"userMessage":"rate limit me"},"response":{"error":{"message":"slow down","type":"rate_limit_error"},"status":429}},
 {"match":{"userMessage":"tell me everything"},"response":{"content":"$long"}},
 {"match":{"userMessage":"slow"},"response":{"content":"Slow answer."},"latency":2500},
 {"match":{"userMessage":"go on at length"},"response":{"content":"This answer goes on and on, a few letters at a time, for as long as nobody stops it, and then a while more."},"chunkSize":3,"latency":150},
 {"match":{"userMessage":"show me markdown"},"response":{"content":"## Plan\\n\\nThis is **bold**.\\n\\n| a | b |\\n|---|---|\\n| 1 | 2 |\\n\\n\\u0060\\u0060\\u0060c\\nint x = 1 < 2;\\n\\u0060\\u0060\\u0060\\n\\n<script>window.__pwned = 1</script>\\n\\nAn <img src=x onerror=\\"window.__pwned = 1\\"> and [a link](javascript:window.__pwned=1)."}},
 {"match":{"userMessage":"stream please"},"response":{"content":"Streaming words arrive one by one."},"chunkSize":4,"latency":60},
 {"match":{"userMessage":"use the skill","hasToolResult":true},"response":{"content":"The skill answered."}},
 {"match":{"userMessage":"use the skill"},"response":{"toolCalls":[{"id":"g1","name":"hello-greet","arguments":"{\\"name\\":\\"Ana\\"}"}]}},
 {"match":{"userMessage":"what time","hasToolResult":true},"response":{"content":"Time told."}},
 {"match":{"userMessage":"what time"},"response":{"toolCalls":[{"id":"t1","name":"current_time","arguments":"{}"}]}}]}
EOF
start_peers
# the daemon reaches Telegram through a recording proxy ($TMP/tg.calls)
pport=$((aport + 3))
node "$PEERS/tg-proxy.js" "$pport" "$tport" "$TMP/tg.calls" >/dev/null 2>&1 & pids+=($!)
for _ in $(seq 100); do port_open "$pport" && break; sleep 0.1; done
export DAIMON_TELEGRAM_API_URL=http://127.0.0.1:$pport
tg_calls() { # tg_calls METHOD: the bodies of the daemon's calls of METHOD, one per line
  node -e 'for (const l of require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n")) {
    const c = JSON.parse(l); if (c.method === process.argv[2]) console.log(JSON.stringify(c.body)); }' "$TMP/tg.calls" "$1"
}
# a quick poll: the test server answers getUpdates at once
sed -i 's/"telegram": { "mid_turn": "queue" }/"telegram": { "mid_turn": "queue", "poll_interval_ms": 50, "stream_ms": 200, "allow": ["77"] }/' \
  "$DAIMON_HOME/config.json"
sed -i "s/\"web\": { \"mid_turn\": \"queue\" }/\"web\": { \"mid_turn\": \"queue\", \"port\": $wport }/" "$DAIMON_HOME/config.json"
"$DAIMON" config set model.retries 1 >/dev/null # (a turn that fails fails after one retry)

# setup's later steps on their own: the bot token checked with getMe before
# it is kept, the owner's keys, the systemd unit for this binary and home
SH=$TMP/setup-home
printf '123:abc\n' >"$TMP/tg.token"
expect setup_telegram 0 '^Telegram: the bot is @[A-Za-z0-9_]+; its token is in \$DAIMON_HOME/credentials' -- \
  env DAIMON_HOME="$SH" "$DAIMON" setup --telegram-token-file "$TMP/tg.token"
expect setup_telegram_kept 0 '^TELEGRAM_BOT_TOKEN=123:abc$' -- cat "$SH/credentials"
expect setup_telegram_unreachable 1 '^daimon: cannot check the bot token at http://127\.0\.0\.1:1: ' -- \
  env DAIMON_HOME="$SH" DAIMON_TELEGRAM_API_URL=http://127.0.0.1:1 "$DAIMON" setup --telegram-token-file "$TMP/tg.token"
expect setup_owner 0 '^owner: telegram:77 \(they get USER\.md' -- env DAIMON_HOME="$SH" "$DAIMON" setup --owner telegram:77
expect setup_owner_kept 0 '"owners":\["telegram:77"\]' -- sh -c "tr -d ' \n\t' <'$SH/config.json'"
expect setup_bad_owner 1 "^daimon: the owner '77' is not a sender like telegram:42" -- env DAIMON_HOME="$SH" "$DAIMON" setup --owner 77
expect setup_systemd 0 "^systemd: wrote $TMP/xdg/systemd/user/daimon\.service" -- \
  env DAIMON_HOME="$SH" XDG_CONFIG_HOME="$TMP/xdg" "$DAIMON" setup --systemd
expect setup_systemd_unit 0 "Environment=DAIMON_HOME=$SH~ExecStart=.*/daimon serve~" -- sh -c "tr '\n' '~' <'$TMP/xdg/systemd/user/daimon.service'"
expect doctor_sees_unit 0 "systemd +$TMP/xdg/systemd/user/daimon\.service" -- \
  sh -c "env DAIMON_HOME='$SH' XDG_CONFIG_HOME='$TMP/xdg' '$DAIMON' doctor; true"

start_daemon && ok serve_ready || bad serve_ready "$(cat "$TMP/serve.err")"
expect serve_says_ready 0 '^daimon: ready in [0-9]+ ms on .*/run/daimon\.sock \(pid [0-9]+\)$' -- cat "$TMP/serve.err"
[ "$(stat -c %a "$DAIMON_HOME/run/daimon.sock")" = 600 ] && ok socket_mode_0600 || bad socket_mode_0600
expect second_serve_refused 1 "^daimon: a daemon is already running for '.*' \(pid $daemon_pid\); \`daimon stop\` stops it$" -- \
  "$DAIMON" serve
expect status_running 0 "^running, pid $daemon_pid, .*kB resident" -- "$DAIMON" status
expect status_json 0 "^\\{\"pid\":$daemon_pid,.*\"sessions\":\\{\"live\":0,\"hibernated\":0,\"busy\":0\\},\"channels\":\\[\\{\"name\":\"web\",\"state\":\"running\".*\\{\"name\":\"telegram\"" -- \
  "$DAIMON" status --json
expect protocol_version_checked 0 'this daemon speaks control protocol 1' -- node -e "
  const s = require('net').connect('$DAIMON_HOME/run/daimon.sock');
  s.on('connect', () => s.write('{\"op\":\"hello\",\"version\":99}\n'));
  s.on('data', d => { process.stdout.write(d); s.end(); });"
expect protocol_hello_first 0 'this daemon speaks control protocol 1' -- node -e "
  const s = require('net').connect('$DAIMON_HOME/run/daimon.sock');
  s.on('connect', () => s.write('{\"op\":\"status\"}\n'));
  s.on('data', d => { process.stdout.write(d); s.end(); });"

# the command line talks to the daemon's sessions
expect ask_through_daemon 0 '^Hello from the mock\.$' -- "$DAIMON" ask --session cli:d hello
expect ask_json_through_daemon 0 '^\{"session":"cli-[0-9a-f]{16}","answer":"Hello from the mock\.","tokens_in":[0-9]+' -- \
  "$DAIMON" ask --json --session cli:d hello
expect ps_shows_session 0 '^[0-9a-f]+ +session cli:d +alive' -- "$DAIMON" ps
expect ps_tree 0 'supervisor channels.*   telegram telegram +running' -- sh -c "'$DAIMON' ps | tr '\n' '~'"
expect ps_json 0 '^\{"id":"[0-9a-f]+","parent":"","name":"cli:d","behaviour":"session","state":"alive","op":"","op_age_ms":0,"mailbox":0,"handled":[0-9]+,"mem":[0-9]+' -- \
  "$DAIMON" ps --json
expect chat_through_daemon 0 'through the daemon|\[current_time done in [0-9]+ ms\] Time told\.' -- \
  sh -c "printf 'what time is it\n/quit\n' | '$DAIMON' chat --session cli:dchat 2>&1 | tr '\n' ' '"
expect daemon_logged_chat 0 '"role":"assistant","content":"Time told\."' -- "$DAIMON" sessions show --json cli:dchat
expect status_counts_sessions 0 '^sessions  2 live' -- "$DAIMON" status

# the web chat: the token guards it; in headless Chromium a typed message is answered as it streams
expect web_url 0 "^http://127\\.0\\.0\\.1:$wport/#token=[0-9a-f]{64}$" -- "$DAIMON" web
[ "$(stat -c %a "$DAIMON_HOME/web-token")" = 600 ] && ok web_token_0600 || bad web_token_0600
expect web_needs_token 0 'open the link `daimon web` prints"\} 401$' -- curl -s -w ' %{http_code}' "http://127.0.0.1:$wport/api/sessions"
expect web_wrong_token 0 '^401$' -- curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer nope' "http://127.0.0.1:$wport/api/sessions"
# the token as a bearer header only, for this address and this page only
wt=$(cat "$DAIMON_HOME/web-token")
code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
expect web_bearer_ok 0 '^200$' -- code -H "Authorization: Bearer $wt" "http://127.0.0.1:$wport/api/sessions"
expect web_cookie_refused 0 '^401$' -- code -H "Cookie: daimon=$wt" "http://127.0.0.1:$wport/api/sessions"
expect web_rebinding_refused 0 '^403$' -- code -H "Host: evil.example:$wport" -H "Authorization: Bearer $wt" \
  "http://127.0.0.1:$wport/api/sessions"
expect web_other_port_refused 0 '^403$' -- code -XPOST -H "Origin: http://127.0.0.1:9999" -H "Authorization: Bearer $wt" \
  -H 'Content-Type: application/json' -d '{"session":"web:x","text":"hi"}' "http://127.0.0.1:$wport/api/chat"
expect web_form_post_refused 0 '^403$' -- code -XPOST -H "Authorization: Bearer $wt" -H 'Content-Type: text/plain' \
  -d '{"session":"web:x","text":"hi"}' "http://127.0.0.1:$wport/api/chat"
head -c 2000000 /dev/zero | tr '\0' x >"$TMP/big.body"
expect web_refused_before_body 0 '^401 0$' -- curl -s -o /dev/null -w '%{http_code} %{size_upload}' -H 'Expect: 100-continue' \
  -H 'Authorization: Bearer nope' -H 'Content-Type: application/json' --data-binary @"$TMP/big.body" "http://127.0.0.1:$wport/api/chat"
SHOTS=${DAIMON_SHOTS:-$TMP} node "$(dirname "$0")/web.js" "$("$DAIMON" web)" "$PEERS" >"$TMP/web.out" 2>&1
expect web_driven 1 '' -- grep '^web\.js:' "$TMP/web.out"
expect web_link_token_out_of_url 0 '^landed /$' -- grep '^landed' "$TMP/web.out"
expect web_streamed_answer 0 '^answer "Streaming words arrive one by one\."$' -- grep '^answer' "$TMP/web.out"
expect web_answer_grew 0 '^partials [1-9][0-9]*$' -- grep '^partials' "$TMP/web.out"
expect web_history_kept 0 '^after reload \["user: stream please","assistant: Streaming words arrive one by one\."\]$' -- \
  grep '^after reload' "$TMP/web.out"
expect web_search 0 '^search .*<mark>arrive</mark>.*<small>stream please · Web</small>' -- grep '^search' "$TMP/web.out"
expect web_logged 0 '"role":"assistant","content":"Streaming words arrive one by one\."' -- "$DAIMON" sessions show --json web:default
expect web_stop_button 0 '^stop button Stop, then Send: .*stopped by the user' -- grep '^stop button' "$TMP/web.out"
expect web_markdown 0 '^markdown \{"table":true,"code":"int x = 1 < 2;","copy":true,"bold":"bold","heading":"Plan","script":false,"ran":false,"jslink":false,"shown":true\}$' -- \
  grep '^markdown' "$TMP/web.out"
expect web_opens_terminal_conversation 0 '^terminal conversation \["user: what time is it","tool: \[current_time done\]","assistant: Time told\."' -- \
  grep '^terminal conversation' "$TMP/web.out"
expect web_continues_it 0 '^continued Streaming words arrive one by one\.$' -- grep '^continued' "$TMP/web.out"
expect web_continued_logged 0 '"role":"assistant","content":"Streaming words arrive one by one\."' -- "$DAIMON" sessions show --json cli:dchat
expect web_search_opens_at_hit 0 '^hit msg assistant hit: Hello from the mock\.$' -- grep '^hit' "$TMP/web.out"
expect web_narrow 0 '^narrow \{"overflow":false,"drawer":true,"list":true,"opened":true\}$' -- grep '^narrow' "$TMP/web.out"
# pictures: dropped and pasted, sent with the message, kept in the inbox, shown again after a reload
printf '\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x04\0\0\0\x04\x08\x02\0\0\0&\x93\t)\0\0\0\x13IDATx\x9cc\xfc\xcf\x80\x0f0\xe1\x95\x1d\xb1\0\xa9\xbe\x02\x0e\x0b\x9a\xdb\xd5\0\0\0\0IEND\xaeB`\x82' >"$TMP/red.png"
SHOTS=${DAIMON_SHOTS:-$TMP} node "$(dirname "$0")/web-image.js" "$("$DAIMON" web)" "$PEERS" "$TMP/red.png" >"$TMP/web-image.out" 2>&1
expect web_image_driven 1 '' -- grep '^web-image\.js:' "$TMP/web-image.out"
expect web_image_waiting 0 '^waiting 2 thumbnails, button Send$' -- cat "$TMP/web-image.out"
expect web_image_sent 0 '^sent 2 pictures, strip 0, answer "Two small red squares\."$' -- cat "$TMP/web-image.out"
expect web_image_after_reload 0 '^after reload 4x4 blob, 4x4 blob$' -- cat "$TMP/web-image.out"
expect web_image_fake 0 '^fake picture 1 is not an image daimon can send \(JPEG, PNG, GIF or WebP\)$' -- cat "$TMP/web-image.out"
expect web_image_to_model 0 "\"image_url\":\\{\"url\":\"data:image/png;base64,$(base64 -w0 "$TMP/red.png" | sed 's/+/\\+/g')\"" -- \
  curl -s "http://127.0.0.1:$aport/__aimock/journal?limit=1000"
expect web_image_kept 0 '^2$' -- sh -c "ls '$DAIMON_HOME'/inbox/*/web-*-image.png | wc -l"
expect web_stop_refused_elsewhere 0 '^403$' -- code -XPOST -H "Origin: http://127.0.0.1:9999" -H "Authorization: Bearer $wt" \
  -H 'Content-Type: application/json' -d '{"session":"web:default"}' "http://127.0.0.1:$wport/api/stop"

# the OpenAI-compatible door on the web port, through OpenAI's own client
expect api_key_create 0 '^dk-[0-9a-f]{64}$' -- sh -c "'$DAIMON' api-key create editor | head -1"
akey=$("$DAIMON" api-key create tests | head -1)
expect api_key_list 0 '^editor +dk-[0-9a-f]{4}… +made ' -- "$DAIMON" api-key list
expect api_key_web_token_refused 0 '^401$' -- code -H "Authorization: Bearer $wt" "http://127.0.0.1:$wport/v1/models"
node "$PEERS/openai-client.mjs" "http://127.0.0.1:$wport/v1" "$akey" "$TMP/red.png" >"$TMP/openai.out" 2>&1
expect openai_models 0 '^models daimon$' -- cat "$TMP/openai.out"
expect openai_whole 0 '^whole chat\.completion \{"role":"assistant","content":"Hello from the mock\."\} stop$' -- cat "$TMP/openai.out"
expect openai_stream 0 '^stream ([3-9]|[1-9][0-9]+) chunks "Streaming words arrive one by one\." stop$' -- cat "$TMP/openai.out"
expect openai_bad_key 0 '^bad key 401 .*no such API key' -- cat "$TMP/openai.out"
expect openai_broken_image_refused 0 '^broken image 400 .*picture 1 is not base64' -- cat "$TMP/openai.out"
expect openai_image 0 '^image "Two small red squares\."$' -- cat "$TMP/openai.out"
expect openai_image_logged 0 '"images":\[\{"path":"inbox/' -- "$DAIMON" sessions show --json api:pictures
expect openai_failure_status 0 '^failure 500 .*HTTP 429' -- cat "$TMP/openai.out"
expect openai_user_is_conversation 0 '"content":"stream please"' -- "$DAIMON" sessions show --json api:editor
expect api_key_revoke 0 '^revoked tests: it opens nothing now$' -- "$DAIMON" api-key revoke tests
expect api_key_revoked_refused 0 '^401$' -- code -H "Authorization: Bearer $akey" "http://127.0.0.1:$wport/v1/models"
# Telegram: an unknown sender gets a pairing code and nothing reaches the model
tg_send 42 "hello"
tg_wait 42 1
expect tg_pairing_code 0 '^"I don.t know you yet\. .*daimon pairing approve [A-HJ-KM-NP-Z2-9]{8}\\n\(the code is valid for an hour\)"$' -- \
  cat "$TMP/tg.42"
code=$(grep -o 'approve [A-Z0-9]*' "$TMP/tg.42" | cut -d' ' -f2)
expect pairing_list 0 "^$code  telegram:42 \\(U42\\)  expires in 60 min$" -- "$DAIMON" pairing list
tg_send 42 "hello again"
sleep 0.5
tg_replies 42 >"$TMP/tg.42b"
[ ! -s "$TMP/tg.42b" ] && ok tg_unpaired_not_answered || bad tg_unpaired_not_answered "$(cat "$TMP/tg.42b")"
expect tg_unpaired_not_logged 1 '' -- sh -c "'$DAIMON' sessions show --json telegram:42 | grep -q 'hello again'"
expect pairing_wrong_code 1 "^daimon: no pending code 'AAAAAAAA' \(it may have expired\); 4 tries left$" -- \
  "$DAIMON" pairing approve AAAAAAAA
expect pairing_approve 0 '^approved telegram:42: its messages now reach the assistant$' -- "$DAIMON" pairing approve "$code"
tg_send 42 "hello"
tg_wait 42 1
expect tg_answer 0 '^"Hello from the mock\."$' -- cat "$TMP/tg.42"
# a paired stranger gets only the tools granted to others (tools.others): the
# owner's history is neither offered nor searchable, MEMORY.md not in the prompt
"$DAIMON" memory add memory "The owner's locker code is 4711." >/dev/null
"$DAIMON" ask --session cli:secret "my secret is hello tangerine" >/dev/null
tg_send 42 "dig up my past"
tg_wait 42 1
expect stranger_answered 0 '^"Dug\."$' -- cat "$TMP/tg.42"
expect stranger_search_refused 0 "the tool 'session_search' is not open to this conversation" -- \
  "$DAIMON" sessions show --json telegram:42
expect stranger_secret_kept 1 '' -- sh -c "'$DAIMON' sessions show --json telegram:42 | grep -q 'my secret is'"
tools_offered() { # tools_offered TEXT: the tool names of each request whose messages hold TEXT
  node -e 'fetch(process.argv[1]).then(r => r.json()).then(j => console.log(j
    .filter(x => x.body && JSON.stringify(x.body.messages).includes(process.argv[2]))
    .map(x => (x.body.tools || []).map(t => t.function ? t.function.name : t.name).join(",")).join(" | ")))' \
    "http://127.0.0.1:$aport/__aimock/journal" "$1"
}
expect stranger_offered_little 0 '^current_time,skill_read \| current_time,skill_read$' -- tools_offered "dig up my past"
expect owner_offered_search 0 'session_search' -- tools_offered "my secret is"
expect stranger_prompt_no_memory 0 '^none$' -- sh -c "node -e 'fetch(process.argv[1]).then(r => r.json()).then(j =>
  console.log(j.some(x => x.body && JSON.stringify(x.body.messages).includes(\"dig up my past\") &&
    JSON.stringify(x.body.messages).includes(\"4711\")) ? \"leaked\" : \"none\"))' http://127.0.0.1:$aport/__aimock/journal"
# the owner on their own Telegram: paired as the owner, they get USER.md; a name
# with terminal escapes is listed escaped, never raw
curl -s -XPOST -H 'Content-Type: application/json' -d '{"botToken":"123:abc","from":{"id":55,"first_name":"\u001b]0;pwned\u0007Me"},"chat":{"id":55},"text":"hi"}' \
  "http://127.0.0.1:$tport/sendMessage" >/dev/null
tg_wait 55 1
code=$(grep -o 'approve [A-Z0-9]*' "$TMP/tg.55" | cut -d' ' -f2)
expect pairing_list_escaped 0 "^$code  telegram:55 \\(\\\\x1b\\]0;pwned\\\\x07Me\\)  expires" -- "$DAIMON" pairing list
expect pairing_approve_owner 0 '^approved telegram:55: .*~owner: telegram:55 \(they get USER\.md' -- \
  sh -c "'$DAIMON' pairing approve $code --owner | tr '\n' '~'"
expect owner_listed 0 '^telegram:55$' -- sh -c "'$DAIMON' owner list | tail -1"
"$DAIMON" memory add user "The owner drinks tea." >/dev/null
tg_send 55 "owner here"
tg_wait 55 1
expect owner_on_telegram_answered 0 '^"Hi, owner\."$' -- cat "$TMP/tg.55"
prompt_has() { # prompt_has MESSAGE TEXT: "yes" if a request with MESSAGE also holds TEXT
  node -e 'fetch(process.argv[1]).then(r => r.json()).then(j => console.log(j.some(x => x.body &&
    JSON.stringify(x.body.messages).includes(process.argv[2]) && JSON.stringify(x.body.messages).includes(process.argv[3]))
    ? "yes" : "no"))' "http://127.0.0.1:$aport/__aimock/journal" "$1" "$2"
}
expect owner_telegram_sees_user_md 0 '^yes$' -- prompt_has "owner here" "drinks tea"
expect owner_remove 0 '^telegram:55 is no longer an owner' -- "$DAIMON" owner remove telegram:55
expect owner_add_bad 1 "^daimon: the owner 'telegram:me' is not a sender like telegram:42" -- "$DAIMON" owner add telegram:me
# on the allowlist: answered at once; a long answer comes in parts under the limit
tg_send 77 "tell me everything"
tg_wait 77 2
expect tg_split_in_two 0 '^2$' -- sh -c "wc -l <'$TMP/tg.77'"
joined=$(node -e 'const l = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").map(JSON.parse);
  if (l.some(t => t.length > 4096)) { console.log("too long"); process.exit(); } console.log(l.join(" ").replace(/\s+/g, " ").trim());' "$TMP/tg.77")
[ "$joined" = "${long% }" ] && ok tg_split_parts_whole || bad tg_split_parts_whole "${joined:0:200}"
expect tg_logged 0 '"role":"user","content":"tell me everything","mid":"telegram:[0-9]+"' -- \
  "$DAIMON" sessions show --json telegram:77
# /start (sent by Telegram's clients on their own) is greeted, not put to the model
tg_send 77 "/start"
tg_wait 77 1
expect tg_start_greeted 0 '^"Hello, I am daimon, your assistant\.' -- cat "$TMP/tg.77"
expect tg_start_not_logged 1 '' -- sh -c "'$DAIMON' sessions show --json telegram:77 | grep -q '\"/start\"'"
# a model call that waits to retry says so on Telegram too, before the outcome
"$DAIMON" config set model.retries 1 >/dev/null; kill -HUP "$daemon_pid"; sleep 0.3
tg_send 77 "rate limit me"
tg_wait 77 2
expect tg_told_of_retry 0 '^"\(retrying in [0-9.]+ s: HTTP 429, rate limited\)"~"\(daimon cannot answer: .*HTTP 429' -- \
  sh -c "tr '\n' '~' <'$TMP/tg.77'"
"$DAIMON" config unset model.retries >/dev/null; kill -HUP "$daemon_pid"; sleep 0.3

# skills built while the daemon runs: a new one is offered, a rebuilt one answers the next call
"$DAIMON" skill new hello >/dev/null
expect skill_build_swaps_into_daemon 0 '\[the running daemon swapped it in\]' -- "$DAIMON" skill build hello
expect daemon_offers_new_skill 0 '^The skill answered\.$' -- "$DAIMON" ask --session cli:skill "use the skill"
sed -i 's/"Hello, %s!"/"Howdy, %s!"/' "$DAIMON_HOME/skills/hello/skill.c"
sed -i 's/"Hello, Ana!"/"Howdy, Ana!"/' "$DAIMON_HOME/skills/hello/tests.json"
expect skill_rebuild_swaps 0 '\[the running daemon swapped it in\]' -- "$DAIMON" skill build hello
expect daemon_uses_new_version 0 '^The skill answered\.$' -- "$DAIMON" ask --session cli:skill "use the skill again"
expect skill_versions_in_log 0 'Hello, Ana!.*Howdy, Ana!' -- sh -c "'$DAIMON' sessions show --json cli:skill | tr '\n' ' '"
expect ps_shows_skill_host 0 'skill-hosts skill-hosts +supervising[^~]*~[0-9a-f]+ +  port port:skill-hello ' -- \
  sh -c "'$DAIMON' ps | tr '\n' '~'"

# Telegram as a person uses it: answers formatted (HTML parse mode, raw HTML
# shown as text), "typing…" while the turn runs and the answer streamed into
# one message (the test server lacks sendChatAction and setMyCommands: HTTP
# 500, and daimon carries on), daimon's own commands
tg_press() { # tg_press FROM CHAT MESSAGE_ID DATA: FROM presses a button under the bot's message
  curl -s -XPOST -H 'Content-Type: application/json' -d "{\"botToken\":\"123:abc\",\"from\":{\"id\":$1,\"first_name\":\"U$1\"},
    \"message\":{\"message_id\":$3,\"chat\":{\"id\":$2}},\"data\":\"$4\"}" "http://127.0.0.1:$tport/sendCallback" >/dev/null
}
tg_send 77 "show me markdown"
tg_wait 77 1
expect tg_formatted 0 '<b>Plan</b>.*<b>bold</b>.*<pre>int x = 1 &lt; 2;</pre>' -- cat "$TMP/tg.77"
expect tg_raw_html_as_text 0 '&lt;script&gt;window.__pwned = 1&lt;/script&gt;' -- cat "$TMP/tg.77"
expect tg_parse_mode_html 0 '"parse_mode":"HTML"' -- tg_calls sendMessage
expect tg_typing 0 '^\{"chat_id":77,"action":"typing"\}$' -- tg_calls sendChatAction
expect tg_commands_registered 0 '"command":"new".*"command":"sessions".*"command":"stop".*"command":"status"' -- \
  tg_calls setMyCommands
tg_send 77 "stream please"
tg_wait 77 1
expect tg_streamed_whole 0 '^"Streaming words arrive one by one\."$' -- cat "$TMP/tg.77"
expect tg_streamed_by_edits 0 '"chat_id":77,"message_id":[0-9]+,"text":"Streaming words arrive one by one\.","parse_mode":"HTML"' -- \
  tg_calls editMessageText
expect tg_preview_shown 0 '"chat_id":77,"text":"Stre[^"]* …"' -- tg_calls sendMessage
tg_send 77 "go on at length"
sleep 1.2
tg_send 77 "/stop"
tg_wait 77 2
expect tg_stop 0 '^"Stopping the answer\."$' -- cat "$TMP/tg.77"
expect tg_stopped_answer_kept 0 '^"This answer.*<i>\(stopped\)</i>"$' -- cat "$TMP/tg.77"
expect tg_stop_not_to_model 1 '' -- sh -c "'$DAIMON' sessions show --json telegram:77 | grep -q '\"/stop\"'"
tg_send 77 "/frobnicate"
tg_wait 77 1
expect tg_unknown_command 0 "^\"I don't know /frobnicate\. What I do know:" -- cat "$TMP/tg.77"
tg_send 77 "/new"
tg_wait 77 1
expect tg_new 0 '^"A new conversation\. The last one is kept: /sessions brings it back\."$' -- cat "$TMP/tg.77"
tg_send 77 "hello"
tg_wait 77 1
expect tg_new_conversation_used 0 '"key":"telegram:77:[0-9]+"' -- "$DAIMON" sessions list --json
tg_send 77 "/status"
tg_wait 77 1
expect tg_status 0 '<b>Conversation</b> <code>telegram:77:[0-9]+</code>.*a guest' -- cat "$TMP/tg.77"
tg_send 77 "/sessions"
tg_wait 77 1
expect tg_sessions_own 0 '<code>telegram:77</code>.*<code>telegram:77:[0-9]+</code>|<code>telegram:77:[0-9]+</code>.*<code>telegram:77</code>' -- cat "$TMP/tg.77"
expect tg_sessions_not_owners 1 '' -- grep -q 'cli:' "$TMP/tg.77"
expect tg_sessions_buttons 0 '"callback_data":"use:telegram:77"' -- tg_calls sendMessage
mid=$(node -e 'const l = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n")
  .map(JSON.parse).filter(c => c.method === "sendMessage" && JSON.stringify(c.body).includes("use:telegram:77"));
  console.log(l[l.length - 1].result.message_id)' "$TMP/tg.calls")
tg_press 77 77 "$mid" "use:cli:secret"
tg_wait 77 1
expect tg_use_refused 0 '^"That conversation is not yours to go on with\."$' -- cat "$TMP/tg.77"
tg_press 77 77 "$mid" "use:telegram:77"
tg_wait 77 1
expect tg_use 0 '^"This chat goes on with <code>telegram:77</code> now\."$' -- cat "$TMP/tg.77"
tg_press 77 77 "$mid" "ok:999"
for _ in $(seq 50); do tg_calls answerCallbackQuery | grep -q 'is over' && break; sleep 0.1; done
expect tg_press_for_finished_turn 0 '"text":"That question is over: its answer has finished\."' -- tg_calls answerCallbackQuery
# a call that needs approval is asked with buttons; Allow lets it run
"$DAIMON" owner add telegram:55 >/dev/null
"$DAIMON" skill new guard >/dev/null
cat > "$DAIMON_HOME/skills/guard/skill.c" <<'EOF_C'
#include <daimon/skill.h>
static int act(daimon_skill_ctx *c, const char *a) { (void)a; return daimon_skill_host_of(c)->replyf(c, "acted"); }
static const daimon_skill_tool tools[] = {{"act", "Acts.", "{\"type\":\"object\"}", DAIMON_SKILL_NEEDS_APPROVAL, act}};
DAIMON_SKILL(.name = "guard", .version = "1", .description = "Asks first.", .tools = tools, .ntools = 1);
EOF_C
echo '[{"tool": "act", "expect": "acted"}]' > "$DAIMON_HOME/skills/guard/tests.json"
"$DAIMON" skill build guard >/dev/null 2>&1
tg_send 55 "act for me"
tg_wait 55 1
expect tg_asks_approval 0 '^"May I\? guard-act' -- cat "$TMP/tg.55"
expect tg_approval_buttons 0 '"inline_keyboard":\[\[\{"text":"Allow","callback_data":"ok:[0-9]+"\},\{"text":"Deny","callback_data":"no:[0-9]+"\}\]\]' -- \
  tg_calls sendMessage
read -r amid adata < <(node -e 'const l = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n")
  .map(JSON.parse).filter(c => c.method === "sendMessage" && String(c.body.text).startsWith("May I?"));
  const c = l[l.length - 1]; console.log(c.result.message_id, c.body.reply_markup.inline_keyboard[0][0].callback_data)' "$TMP/tg.calls")
tg_press 77 55 "$amid" "$adata"
sleep 0.3
expect tg_approval_only_asker 0 '"text":"Only the one who asked can answer this\."' -- tg_calls answerCallbackQuery
tg_press 55 55 "$amid" "$adata"
tg_wait 55 1
expect tg_approved_ran 0 '^"Acted\."$' -- cat "$TMP/tg.55"
expect tg_approval_answered 0 '"text":"Allowed"' -- tg_calls answerCallbackQuery
expect tg_approval_edited 0 '"text":"Allowed: guard-act' -- tg_calls editMessageText
# ...and on the web page: Allow and Deny buttons; the log keeps both outcomes
SHOTS=${DAIMON_SHOTS:-$TMP} node "$(dirname "$0")/web-approve.js" "$("$DAIMON" web)" "$PEERS" >"$TMP/web-approve.out" 2>&1
expect web_approve_allow 0 '^allow asked "May I\? guard-act \{\}" focus Allow then "Allowed: guard-act \{\}" answer "Acted\."$' -- \
  cat "$TMP/web-approve.out"
expect web_approve_deny 0 '^deny asked .* then "Denied: guard-act \{\}" answer "Acted\."$' -- cat "$TMP/web-approve.out"
expect web_approve_logged 0 '"content":"acted".*the user did not allow this call of guard-act' -- \
  sh -c "'$DAIMON' sessions show --json web:default | tr '\n' ' '"
expect web_approve_bad 0 '^400$' -- code -XPOST -H "Authorization: Bearer $wt" -H 'Content-Type: application/json' \
  -d '{"session":"web:default","ref":"x","allow":true}' "http://127.0.0.1:$wport/api/approve"
expect web_approve_nothing_waits 0 '^202$' -- code -XPOST -H "Authorization: Bearer $wt" -H 'Content-Type: application/json' \
  -d '{"session":"web:default","ref":"12345","allow":true}' "http://127.0.0.1:$wport/api/approve"
"$DAIMON" owner remove telegram:55 >/dev/null

# the terminal, through the daemon: Ctrl-C at the prompt asks before leaving; /stop typed while
# an answer streams stops it; a line typed meanwhile is the next message; leaving does not wait
# for the summary (the daemon writes it)
T=$TMP/tmux.sock
tmux -S "$T" new-session -d -x 120 -y 30 "'$DAIMON' chat --session cli:tty; echo EXITED; sleep 20"
tty_wait() { for _ in $(seq 100); do tmux -S "$T" capture-pane -p | grep -q -- "$1" && return 0; sleep 0.1; done; return 1; }
tty_wait 'daimon chat (cli:tty, through the daemon)'
tmux -S "$T" send-keys C-c
tty_wait 'Leave the chat'
tmux -S "$T" send-keys n Enter
tmux -S "$T" send-keys 'tty-marker: go on at length' Enter
sleep 1
tmux -S "$T" send-keys /stop Enter
tty_wait '\[stopped\]'
tmux -S "$T" send-keys slow Enter
sleep 0.8
tmux -S "$T" send-keys hello Enter
tty_wait 'Hello from the mock'
expect chat_ctrl_c_asks 0 'Leave the chat\? \[y/N\] n~> tty-marker: go on at length~' -- sh -c "tmux -S '$T' capture-pane -p | tr '\n' '~'"
expect chat_stop_typed 0 '> tty-marker: go on at length~(This answer[^~]*~)?\[stopped\]~> slow~Slow answer\.~' -- \
  sh -c "tmux -S '$T' capture-pane -p | tr '\n' '~'"
expect chat_typed_is_next 0 'Slow answer\.~> hello~Hello from the mock\.~' -- sh -c "tmux -S '$T' capture-pane -p | tr '\n' '~'"
expect chat_stop_not_logged 1 '' -- sh -c "'$DAIMON' sessions show --json cli:tty | grep -q '\"/stop\"'"
t0=$(date +%s%N)
tmux -S "$T" send-keys /quit Enter
tty_wait EXITED
left_ms=$((($(date +%s%N) - t0) / 1000000))
[ "$left_ms" -lt 1200 ] && ok chat_leaves_without_waiting || bad chat_leaves_without_waiting "took $left_ms ms"
for _ in $(seq 60); do "$DAIMON" sessions show --json cli:tty | grep -q '"title":"A long answer, stopped"' && break; sleep 0.1; done
expect chat_summary_written_later 0 '"title":"A long answer, stopped"' -- "$DAIMON" sessions show --json cli:tty
tmux -S "$T" kill-server 2>/dev/null

# killed (SIGKILL) mid-turn: the taken message is answered once after the restart
tg_send 77 "slow"
for _ in $(seq 50); do grep -q '"text":"slow"' "$DAIMON_HOME/channels/telegram.jsonl" 2>/dev/null && break; sleep 0.1; done
sleep 0.3
kill -9 "$daemon_pid"; wait "$daemon_pid" 2>/dev/null
start_daemon && ok restart_after_kill || bad restart_after_kill "$(tail -3 "$TMP/serve.err")"
tg_wait 77 1
sleep 3 # anything sent twice would arrive by now
tg_replies 77 >>"$TMP/tg.77"
expect tg_answered_once_after_kill 0 '^"Slow answer\."$' -- cat "$TMP/tg.77"
expect tg_logged_once 0 '^1 1$' -- sh -c "echo \$('$DAIMON' sessions show --json telegram:77 | grep -c '\"content\":\"slow\"') \
  \$('$DAIMON' sessions show --json telegram:77 | grep -c '\"content\":\"Slow answer\.\"')"

# SIGHUP: a bad configuration is refused and the daemon keeps going
cp "$DAIMON_HOME/config.json" "$TMP/config.good"
echo '{ not json' >"$DAIMON_HOME/config.json"
kill -HUP "$daemon_pid"
sleep 0.3
expect reload_bad_config 0 'the configuration is not reloaded: .*config\.json' -- cat "$TMP/serve.err"
cp "$TMP/config.good" "$DAIMON_HOME/config.json"
kill -HUP "$daemon_pid"
sleep 0.3
expect reload_ok 0 'configuration reloaded' -- tail -1 "$TMP/serve.err"
sed -i 's/"tools":/"modle": 1, "tools":/' "$DAIMON_HOME/config.json"
kill -HUP "$daemon_pid"
sleep 0.3
expect reload_warns_unknown_key 0 "unknown setting 'modle' \(did you mean 'model'\?\)" -- cat "$TMP/serve.err"
cp "$TMP/config.good" "$DAIMON_HOME/config.json"
kill -HUP "$daemon_pid"
sleep 0.3
expect ask_after_reload 0 '^Hello from the mock\.$' -- "$DAIMON" ask --session cli:d hello

# a reload restarts an idle session with the new settings: here a second
# message now interrupts the first instead of waiting for it
"$DAIMON" ask --session cli:r hello >/dev/null 2>&1
"$DAIMON" config set channels.cli.mid_turn interrupt >/dev/null
"$DAIMON" ask --session cli:r slow >"$TMP/r.out" 2>&1 & r=$!
sleep 0.5
"$DAIMON" ask --session cli:r hello >/dev/null 2>&1
wait "$r"; rs=$?
expect reload_restarts_idle_session 1 'interrupted by a new message' -- sh -c "cat '$TMP/r.out'; exit $rs"
"$DAIMON" config set channels.cli.mid_turn queue >/dev/null

# a killed ask stops its own turn (nobody would hear it); `daimon cancel`
# stops anyone's, and says so where nothing runs
"$DAIMON" ask --session cli:gone slow >/dev/null 2>&1 & gone=$!
sleep 0.5
kill -9 "$gone"; wait "$gone" 2>/dev/null
for _ in $(seq 50); do grep -qs 'went away' "$DAIMON_HOME"/sessions/*.jsonl && break; sleep 0.1; done
expect killed_ask_stops_turn 0 '"reason":"the client that asked went away"' -- sh -c "cat '$DAIMON_HOME'/sessions/*.jsonl"
expect killed_ask_not_busy 0 '"busy":0\}' -- "$DAIMON" status --json
"$DAIMON" ask --session cli:other slow >"$TMP/other.out" 2>&1 & other=$!
sleep 0.5
expect cancel_other_turn 0 '^cancelled the turn in cli:other$' -- "$DAIMON" cancel cli:other
wait "$other"; os=$?
expect cancelled_ask_says_so 1 'stopped by the user' -- sh -c "cat '$TMP/other.out'; exit $os"
expect cancel_nothing_running 1 '^daimon: no turn is running in cli:other$' -- "$DAIMON" cancel cli:other
expect cancel_json 1 '^daimon: no turn is running in cli:nobody$' -- "$DAIMON" cancel --json cli:nobody

# stop while a turn runs: the turn finishes, then the daemon is gone
"$DAIMON" ask --session cli:slow slow >"$TMP/slow.out" 2>&1 & slow=$!
sleep 0.5
expect status_counts_turn 0 '"sessions":\{"live":[0-9]+,"hibernated":[0-9]+,"busy":1\}' -- "$DAIMON" status --json
expect stop_graceful 0 '^stopped$' -- "$DAIMON" stop
wait "$slow"
expect stop_let_turn_finish 0 '^Slow answer\.$' -- cat "$TMP/slow.out"
expect stopped_status 3 '^not running' -- "$DAIMON" status
[ ! -e "$DAIMON_HOME/run/daimon.sock" ] && ok socket_removed || bad socket_removed
expect ask_without_daemon 0 '^Hello from the mock\.$' -- "$DAIMON" ask --session cli:d hello

# the web port taken by another program: the web channel alone fails (said
# once, in status and doctor) and waits for it; Telegram answers a stranger
node -e "require('net').createServer().listen($wport, '127.0.0.1')" & squatter=$!
for _ in $(seq 50); do port_open "$wport" && break; sleep 0.1; done
: >"$TMP/serve.err"
start_daemon && ok serve_with_port_taken || bad serve_with_port_taken "$(cat "$TMP/serve.err")"
expect web_failed_alone 0 '^channel   web        failed \(cannot listen on 127\.0\.0\.1:[0-9]+ \(in use' -- "$DAIMON" status
tg_send 56 "hello"
tg_wait 56 1
expect tg_answers_with_web_down 0 "I don.t know you yet" -- cat "$TMP/tg.56"
sleep 2.5 # (a try or two more)
expect web_failure_said_once 0 '^1 running$' -- sh -c "echo \$(grep -c 'cannot listen' '$TMP/serve.err') \
  \$('$DAIMON' status --json | grep -o '\"name\":\"telegram\",\"state\":\"[a-z]*' | cut -d'\"' -f8)"
expect doctor_web_failed 1 '^FAIL  channel    web failed: cannot listen' -- "$DAIMON" doctor
kill "$squatter"; wait "$squatter" 2>/dev/null
for _ in $(seq 100); do grep -q 'listening on 127.0.0.1:[0-9]* now' "$TMP/serve.err" && break; sleep 0.1; done
expect web_back_when_port_free 0 '"name":"web","state":"running"' -- "$DAIMON" status --json
"$DAIMON" stop >/dev/null

# SIGTERM the same; a channel that cannot reach its peer is reported, the rest keeps running
DAIMON_TELEGRAM_API_URL=http://127.0.0.1:1 start_daemon && ok serve_with_dead_peer || bad serve_with_dead_peer
sleep 0.5
expect channel_failure_reported 0 '^channel   telegram   failed.*cannot reach http://127\.0\.0\.1:1' -- "$DAIMON" status
expect others_keep_running 0 '^Hello from the mock\.$' -- "$DAIMON" ask --session cli:d hello
expect doctor_channel_failed 1 '^FAIL  channel    telegram failed: cannot reach http://127\.0\.0\.1:1.* — fix: ' -- "$DAIMON" doctor
kill -TERM "$daemon_pid"
wait "$daemon_pid"
expect sigterm_stops 0 'Terminated: stopping.*daimon: stopped' -- sh -c "tail -2 '$TMP/serve.err' | tr '\n' ' '"

# (under ASan/UBSan: whatever the sanitizers said lands in the daemon's stderr)
no_sanitizer_reports "$TMP/serve.err"

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
