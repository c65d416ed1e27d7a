#!/usr/bin/env bash
# mcp.sh — daimon as an MCP host and server, and durable turns, as a user
# meets them: `daimon mcp` against @modelcontextprotocol/server-everything
# and an SDK server with counted side effects (peers/fx-server.mjs),
# `daimon mcp serve` under the TypeScript SDK's client, and a daemon killed
# (SIGKILL) at every step of a multi-tool turn, the model played by
# aimock and the user writing from telegram-test-api.
# Usage: mcp.sh DAIMON PEERS   (PEERS: tests/peers with node_modules)
set -u
DAIMON=$1
PEERS=$(cd "$2" && pwd)
. "$(dirname "$0")/harness.sh"
suite_begin p

EVERY=$PEERS/node_modules/@modelcontextprotocol/server-everything/dist/index.js
AIM=$PEERS/node_modules/@copilotkit/aimock/dist/cli.js
if [ ! -f "$EVERY" ] || [ ! -f "$AIM" ] || [ ! -d "$PEERS/node_modules/@modelcontextprotocol/sdk" ]; then
  bad peers_installed "run scripts/setup.sh: the test peers are missing in $PEERS"
  echo "$pass passed, $fail failed"; exit 1
fi
"$DAIMON" init >/dev/null
export FX=$TMP/fx.txt

# ---- the command line: add, list, call, remove ----
expect help_mcp 0 '^usage: daimon mcp add NAME' -- "$DAIMON" mcp --help
expect add_bad_name 2 "'a.b' cannot name a server" -- "$DAIMON" mcp add a.b -- node x
expect add_needs_command 2 'needs NAME -- COMMAND' -- "$DAIMON" mcp add lonely
expect add_everything 0 '^added MCP server everything' -- "$DAIMON" mcp add everything -- node "$EVERY" stdio
expect add_twice 1 "already configured" -- "$DAIMON" mcp add everything -- node "$EVERY" stdio
expect add_fx 0 '^added MCP server fx' -- "$DAIMON" mcp add fx --env "FX_FILE=$FX" -- node "$PEERS/fx-server.mjs"
expect add_wrote_env 0 "\"FX_FILE\":\"$FX\"" -- sh -c "tr -d ' \t\n' <'$DAIMON_HOME/config.json'"
expect list_servers 0 '^everything  ready  1[0-9] tools.*fx  ready  6 tools~  fx\.pay \[side effects\]' -- \
  sh -c "'$DAIMON' mcp list | tr '\n' '~'"
# fx pages its tools two at a time: all five were read, in order
expect list_paginated 0 '^\{"name":"fx","state":"ready","timeout_ms":60000,"tools":\[\{"name":"pay".*"name":"mail".*"name":"look".*"name":"grow".*"name":"wait".*"name":"key"' -- \
  "$DAIMON" mcp list fx --json
# a server's bad setting leaves that server out, saying which and why; the others run
"$DAIMON" mcp add broken -- node "$EVERY" stdio >/dev/null
node -e 'const fs = require("fs"), f = process.argv[1], c = JSON.parse(fs.readFileSync(f));
  c.mcp.servers.broken.timeout_s = "soon"; fs.writeFileSync(f, JSON.stringify(c, null, 2));' "$DAIMON_HOME/config.json"
expect bad_server_left_out 0 "MCP server 'broken' is left out: mcp\.servers\.broken\.timeout_s in config\.json must be a number from 1 to 86400~everything  ready" -- \
  sh -c "'$DAIMON' mcp list 2>&1 | tr '\n' '~'"
"$DAIMON" mcp remove broken >/dev/null
expect call_echo 0 '^Echo: hi there$' -- "$DAIMON" mcp call everything echo '{"message":"hi there"}'
expect call_get_sum 0 '^The sum of 2 and 40 is 42\.$' -- "$DAIMON" mcp call everything get-sum '{"a":2,"b":40}'
expect call_progress 0 'progress: 1/3~progress: 2/3~progress: 3/3~Long running operation completed' -- \
  sh -c "'$DAIMON' mcp call everything trigger-long-running-operation '{\"duration\":1.5,\"steps\":3}' 2>&1 | tr '\n' '~'"
expect call_unknown_tool 1 'Tool nope not found' -- "$DAIMON" mcp call everything nope '{}'
expect call_json 0 '^\{"content":\[\{"type":"text","text":"Echo: j"\}\]' -- "$DAIMON" mcp call --json everything echo '{"message":"j"}'
expect call_unknown_server 1 "no MCP server 'ghost'" -- "$DAIMON" mcp call ghost echo '{}'
expect call_bad_json 2 'must be a JSON object' -- "$DAIMON" mcp call everything echo '[1'
# Ctrl-C cancels the call: the server is told, the command says so
"$DAIMON" mcp call everything trigger-long-running-operation '{"duration":30,"steps":30}' >"$TMP/cancel.out" 2>&1 &
cpid=$!
for _ in $(seq 100); do grep -q 'progress: 1/30' "$TMP/cancel.out" && break; sleep 0.1; done
t0=$(date +%s%N); kill -INT $cpid; wait $cpid; st=$?; t1=$(date +%s%N)
[ $st = 130 ] && grep -q '^daimon: cancelled$' "$TMP/cancel.out" && [ $(((t1 - t0) / 1000000)) -lt 8000 ] &&
  ok call_cancelled || bad call_cancelled "exit $st" "$(cat "$TMP/cancel.out")"
# the same for an SDK server: it hears notifications/cancelled for its request
: >"$FX"
"$DAIMON" mcp call fx wait '{"ms":20000}' >"$TMP/cancel2.out" 2>&1 &
cpid=$!
for _ in $(seq 100); do pgrep -f fx-server.mjs >/dev/null && break; sleep 0.1; done
sleep 1.5; kill -INT $cpid; wait $cpid; st=$?
sleep 0.3
expect server_told_of_cancel 0 '^cancelled wait' -- cat "$FX"
expect server_stderr_logged 0 'daimon: mcp-everything: Starting default \(STDIO\) server' -- cat "$DAIMON_HOME/logs/mcp.log"
expect add_roots 0 '^added' -- "$DAIMON" mcp add rooted --root "$TMP" -- node "$EVERY" stdio
expect roots_answered 0 "URI: file://$TMP" -- "$DAIMON" mcp call rooted get-roots-list '{}'
expect remove 0 '^removed MCP server rooted$' -- "$DAIMON" mcp remove rooted
expect remove_unknown 1 "no MCP server 'rooted'" -- "$DAIMON" mcp remove rooted
# no orphans: every server a command started is gone
sleep 0.3
pgrep -f "$EVERY" >/dev/null && bad no_orphan_servers "$(pgrep -af "$EVERY")" || ok no_orphan_servers

# ---- daimon as an MCP server, under the TypeScript SDK's client ----
"$DAIMON" memory add memory "The user's cat is called Miso." >/dev/null
printf '%s\n' '{"name":"memory_read","arguments":{"target":"memory"}}' \
  '{"name":"memory","arguments":{"action":"add","target":"user","text":"Prefers tea."}}' \
  '{"name":"session_search","arguments":{"query":"nothing-here"}}' \
  '{"name":"session_read","arguments":{"session":"cli:none"}}' \
  '{"name":"nope","arguments":{}}' |
  node "$PEERS/mcp-client.mjs" "$DAIMON" mcp serve >"$TMP/serve.out" 2>&1
expect serve_tools 0 '^tools session_search,session_read,memory,memory_read$' -- grep '^tools' "$TMP/serve.out"
expect serve_memory_read 0 "^call memory_read: The user's cat is called Miso\." -- grep '^call memory_read' "$TMP/serve.out"
expect serve_memory_add 0 '^call memory: added; USER\.md' -- grep '^call memory:' "$TMP/serve.out"
expect serve_memory_written 0 'Prefers tea\.' -- cat "$DAIMON_HOME/USER.md"
expect serve_search 0 "^call session_search: nothing found for 'nothing-here'" -- grep '^call session_search' "$TMP/serve.out"
expect serve_read_missing 0 '^call session_read error: no such session' -- grep '^call session_read' "$TMP/serve.out"
expect serve_huge_line 0 '^\{"jsonrpc":"2.0","id":null,"error":\{"code":-32700,"message":"message too large \(over 64 MiB\)"\}\}~\{"jsonrpc":"2.0","id":7,"result":\{\}\}~$' -- \
  sh -c "{ head -c 70000000 /dev/zero | tr '\\0' x; printf '\\n{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"ping\"}\\n'; } | '$DAIMON' mcp serve | tr '\\n' '~'"
expect serve_unknown_tool 0 "^call nope error: there is no tool 'nope'" -- grep '^call nope' "$TMP/serve.out"

# ---- the daemon: MCP tools in a session, a server killed mid-call ----
mkdir -p "$TMP/aim"
cat >"$TMP/aim/f.json" <<'EOF'
{"fixtures":[
 {"match":{"toolCallId":"c3"},"response":{"content":"Errands done."}},
 {"match":{"toolCallId":"b2"},"response":{"toolCalls":[{"id":"c3","name":"fx_mail","arguments":"{\"to\":\"bob\"}"}]}},
 {"match":{"userMessage":"errands"},"response":{"toolCalls":[{"id":"a1","name":"fx_pay","arguments":"{\"amount\":5}"},{"id":"b2","name":"fx_mail","arguments":"{\"to\":\"ann\"}"}]}},
 {"match":{"userMessage":"long op","hasToolResult":true},"response":{"content":"The long one ended."}},
 {"match":{"userMessage":"long op"},"response":{"toolCalls":[{"id":"l1","name":"everything_trigger-long-running-operation","arguments":"{\"duration\":20,\"steps\":20}"}]}},
 {"match":{"userMessage":"echo now","hasToolResult":true},"response":{"content":"Echoed."}},
 {"match":{"userMessage":"echo now"},"response":{"toolCalls":[{"id":"e1","name":"everything_echo","arguments":"{\"message\":\"after the crash\"}"}]}},
 {"match":{"userMessage":"grow it","hasToolResult":true},"response":{"content":"Grown."}},
 {"match":{"userMessage":"grow it"},"response":{"toolCalls":[{"id":"g1","name":"fx_grow","arguments":"{}"}]}},
 {"match":{"userMessage":"is it there","toolName":"fx_grown"},"response":{"content":"The new tool is offered."}},
 {"match":{"userMessage":"is it there"},"response":{"content":"Not offered."}},
 {"match":{"userMessage":"which key","hasToolResult":true},"response":{"content":"Key seen."}},
 {"match":{"userMessage":"which key"},"response":{"toolCalls":[{"id":"k1","name":"fx_key","arguments":"{}"}]}}]}
EOF
start_peers
sed -i 's/"telegram":\t{/"telegram":\t{ "poll_interval_ms": 50, "allow": ["*"],/' "$DAIMON_HOME/config.json"
sed -i "s/\"web\":\t{/\"web\":\t{ \"port\": $wport,/" "$DAIMON_HOME/config.json"
"$DAIMON" config set tools.others '["*"]' >/dev/null # (the Telegram senders here run the owner's errands)

start_daemon && ok serve_ready || bad serve_ready "$(cat "$TMP/serve.err")"
for _ in $(seq 100); do "$DAIMON" ps | grep -q 'port:mcp-fx .*ready' && break; sleep 0.1; done
expect ps_shows_servers 0 'mcp +supervising.*port:mcp-everything.*port:mcp-fx' -- sh -c "'$DAIMON' ps | tr '\n' '~'"
expect status_shows_servers 0 'mcp +everything +ready, 1[0-9] tools~mcp +fx +ready, 6 tools~' -- sh -c "'$DAIMON' status | tr '\n' '~'"
expect status_json_servers 0 '"mcp":\[\{"name":"everything","state":"ready","tools":1[0-9]\},\{"name":"fx","state":"ready","tools":6\}\]' -- \
  "$DAIMON" status --json
expect daemon_key_passed 0 '^Key seen\.$' -- "$DAIMON" ask --session cli:k 'which key'
expect key_is_session_and_call 0 '"content":"key=cli-[0-9a-f]{16}/k1"' -- "$DAIMON" sessions show --json cli:k
expect journal_shown 0 '⋯ fx\.key started \(key cli-[0-9a-f]{16}/k1\)~  ✓ fx\.key returned' -- sh -c "'$DAIMON' sessions show cli:k | tr '\n' '~'"
expect key_journaled 0 '"type":"tool_intent".*"key":"cli-[0-9a-f]{16}/k1".*"type":"tool_outcome"' -- \
  sh -c "cat '$DAIMON_HOME'/sessions/cli-*.jsonl | tr '\n' ' '"
# the server killed mid-call: that call fails, the server comes back, the next call works
"$DAIMON" ask --session cli:long 'long op' >"$TMP/long.out" 2>&1 &
apid=$!
for _ in $(seq 100); do "$DAIMON" ps | grep -q 'running tools' && break; sleep 0.1; done
sleep 0.5
pkill -9 -f "$EVERY"
wait $apid
expect killed_call_answered 0 '^The long one ended\.$' -- cat "$TMP/long.out"
expect killed_call_failed 0 '"type":"tool_result".*"content":"mcp-everything crashed: signal 9 \(Killed\)","is_error":true' -- \
  sh -c "'$DAIMON' sessions show --json cli:long | tr '\n' ' '"
expect next_call_works 0 '^Echoed\.$' -- "$DAIMON" ask --session cli:echo 'echo now'
expect next_call_result 0 '"content":"Echo: after the crash","is_error":false' -- "$DAIMON" sessions show --json cli:echo
# list_changed: the server adds a tool; sessions started after are offered it
expect grow 0 '^Grown\.$' -- "$DAIMON" ask --session cli:grow 'grow it'
sleep 0.5
expect grown_offered 0 '^The new tool is offered\.$' -- "$DAIMON" ask --session cli:after 'is it there'
"$DAIMON" stop >/dev/null 2>&1
sleep 0.3
pgrep -f "fx-server.mjs" >/dev/null && bad servers_stopped_with_daemon "$(pgrep -af fx-server.mjs)" || ok servers_stopped_with_daemon

# ---- durable turns: SIGKILL at every step of a multi-tool turn ----
# The turn: the model asks for fx.pay (idempotent) and fx.mail to ann
# side by side, then fx.mail to bob, then answers. At each kill point the
# daemon dies (DAIMON_FAULT: it SIGKILLs itself there); after a restart
# the Telegram message is delivered again and the turn completes, and no
# side effect happened twice.
tg_answer() { # tg_answer CHAT: waits (up to 15 s) for the bot's reply to CHAT, prints it
  for _ in $(seq 150); do
    r=$(tg_replies "$1")
    [ -n "$r" ] && { echo "$r"; return 0; }
    sleep 0.1
  done
  return 1
}
servers_gone() { # the servers a SIGKILLed daemon started end by themselves (their stdin closed), 5 s at most
  for _ in $(seq 50); do pgrep -f "fx-server.mjs|$EVERY" >/dev/null || return 0; sleep 0.1; done
  return 1
}
chat=500
for point in ${POINTS:-intent:1 intent:2 intent:3 returned:1 returned:2 returned:3 outcome:1 outcome:2 outcome:3 results:1 results:2 answer:1}; do
  chat=$((chat + 1))
  : >"$FX"
  DAIMON_FAULT=$point start_daemon || { bad "kill_at_$point" "the daemon did not start"; continue; }
  tg_send $chat "errands $chat"
  for _ in $(seq 150); do kill -0 "$daemon_pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$daemon_pid" 2>/dev/null; then
    bad "kill_at_$point" "the daemon never reached $point"; kill -9 "$daemon_pid"; wait "$daemon_pid" 2>/dev/null; continue
  fi
  { wait "$daemon_pid"; } 2>/dev/null
  servers_gone || bad "servers_exit_with_a_killed_daemon_$point" "$(pgrep -af "fx-server.mjs|$EVERY")"
  start_daemon || { bad "kill_at_$point" "no restart"; continue; }
  answer=$(tg_answer $chat)
  pays=$(grep -c '^pay ' "$FX"); ann=$(grep -c '"to":"ann"' "$FX"); bob=$(grep -c '"to":"bob"' "$FX")
  log=$(cat "$DAIMON_HOME"/sessions/telegram-*.jsonl 2>/dev/null | grep -c "errands $chat")
  if [ "$answer" = '"Errands done."' ] && [ "$pays" = 1 ] && [ "$ann" -le 1 ] && [ "$bob" -le 1 ]; then
    ok "kill_at_$point (pay $pays, mail ann $ann, bob $bob)"
  else
    bad "kill_at_$point" "answer '$answer', pay ran $pays, mail to ann $ann, to bob $bob" "$(cat "$FX")" \
      "$(grep -l "errands $chat" "$DAIMON_HOME"/sessions/telegram-*.jsonl | xargs cat)" "$(tail -5 "$TMP/serve.err")" \
      "$("$DAIMON" ps 2>&1)" "$(tail -3 "$DAIMON_HOME/channels/telegram.jsonl")"
  fi
  "$DAIMON" stop >/dev/null 2>&1
done
# a turn asked from the command line dies with the daemon: no channel
# delivers it again; the restarted daemon takes it up by itself
: >"$FX"
DAIMON_FAULT=intent:1 start_daemon
"$DAIMON" ask --session cli:ctl 'errands by hand' >/dev/null 2>&1
{ wait "$daemon_pid"; } 2>/dev/null
servers_gone
expect turn_marked 0 '^cli:ctl$' -- sh -c "cat '$DAIMON_HOME'/run/turns/*"
start_daemon
for _ in $(seq 150); do "$DAIMON" sessions show --json cli:ctl 2>/dev/null | grep -q 'Errands done' && break; sleep 0.1; done
expect resumed_at_start 0 '"role":"assistant","content":"Errands done\."' -- "$DAIMON" sessions show --json cli:ctl
expect resume_said 0 'resuming the turn cli:ctl was in' -- cat "$TMP/serve.err"
expect resumed_effects_once 0 '^pay 1 ann 0 bob 1$' -- sh -c "echo pay \$(grep -c '^pay ' '$FX') ann \$(grep -c '\"ann\"' '$FX') bob \$(grep -c '\"bob\"' '$FX')"
expect turn_unmarked 0 '^0$' -- sh -c "ls '$DAIMON_HOME/run/turns' | wc -l"
expect next_turn_after_crash 0 '^Key seen\.$' -- "$DAIMON" ask --session cli:ctl 'which key'
"$DAIMON" stop >/dev/null 2>&1

# a mail whose outcome is unknown was not sent again, and the model was told
expect unknown_outcome_told 0 '"content":"outcome unknown: fx\.mail was started before daimon stopped' -- \
  sh -c "cat '$DAIMON_HOME'/sessions/telegram-*.jsonl"
no_sanitizer_reports "$TMP/serve.err"

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
