#!/usr/bin/env bash
# schedule.sh — daimon speaks first: the model schedules a reminder and
# Telegram (telegram-test-api) receives it once; a recurring job delivers
# again and again until cancelled; a prompt job's turn (aimock) is what
# arrives; the daemon killed (SIGKILL, by fault injection) between making
# and due time, between a run's start and end, and between a run and its
# delivery delivers exactly once after the restart; a job missed while
# down runs late within schedule.grace_h and is said missed past it; a
# delivery the channel cannot take is retried, shown "delivering", then
# arrives; bad requests get their reason.
# Usage: schedule.sh DAIMON PEERS
set -u
DAIMON=$1
PEERS=$2
. "$(dirname "$0")/harness.sh"
suite_begin sch

AIM=$PEERS/node_modules/@copilotkit/aimock/dist/cli.js
if [ ! -f "$AIM" ] || [ ! -d "$PEERS/node_modules/telegram-test-api" ]; then
  bad peers_installed "run scripts/setup.sh: the test peers are missing in $PEERS"
  echo "$pass passed, $fail failed"; exit 1
fi
expect help_cron 0 '^usage: daimon cron' -- "$DAIMON" cron --help
"$DAIMON" init >/dev/null
mkdir -p "$TMP/aim"
cat >"$TMP/aim/f.json" <<'EOF'
{"fixtures":[
 {"match":{"userMessage":"remind me in 2 seconds","hasToolResult":true},"response":{"content":"I will remind you."}},
 {"match":{"userMessage":"remind me in 2 seconds"},"response":{"toolCalls":[{"id":"c1","name":"schedule","arguments":"{\"action\":\"create\",\"text\":\"Call the dentist.\",\"in\":\"2s\"}"}]}},
 {"match":{"userMessage":"remind me yesterday","hasToolResult":true},"response":{"content":"That time is gone."}},
 {"match":{"userMessage":"remind me yesterday"},"response":{"toolCalls":[{"id":"c2","name":"schedule","arguments":"{\"action\":\"create\",\"text\":\"x\",\"at\":\"2001-01-01T09:00\"}"}]}},
 {"match":{"userMessage":"A scheduled task"},"response":{"content":"Good morning: three meetings today."}}]}
EOF
start_peers
"$DAIMON" config set channels.telegram.poll_interval_ms 50 >/dev/null
"$DAIMON" config set channels.telegram.allow '["77"]' >/dev/null
"$DAIMON" owner add telegram:77 >/dev/null  # (the owner's own conversation may schedule)
"$DAIMON" config set schedule.min_interval_s 1 >/dev/null
"$DAIMON" config set schedule.retry_s 1 >/dev/null
journal() { curl -s "http://127.0.0.1:$aport/__aimock/journal"; }
tg_count() { # tg_count TEXT: how many of the bot's messages to chat 77 so far were TEXT
  curl -s -XPOST -H 'Content-Type: application/json' -d '{"token":"123:abc"}' \
    "http://127.0.0.1:$tport/getUpdatesHistory" | node -e '
      let s = ""; process.stdin.on("data", d => s += d).on("end", () => {
        console.log((JSON.parse(s).result || []).filter(u => u.message && String(u.message.chat_id) === "77" &&
          u.message.text === process.argv[1]).length); });' "$1"
}
wait_count() { # wait_count TEXT N [TRIES]: until N such messages came
  for _ in $(seq "${3:-100}"); do [ "$(tg_count "$1")" -ge "$2" ] && return 0; sleep 0.1; done
  return 1
}
stop_daemon() { "$DAIMON" stop >/dev/null 2>&1; wait "$daemon_pid" 2>/dev/null; }

# ---- bad requests, before any daemon (the command's own takes them) ----
expect cron_empty 0 '^no jobs' -- "$DAIMON" cron list
expect cron_bad_field 1 'hour field "25" is out of range: 0-23' -- "$DAIMON" cron add --cron '0 25 * * *' --to telegram:77 x
expect cron_past 1 'is in the past \(it is ' -- "$DAIMON" cron add --at 2001-01-01T09:00 --to telegram:77 x
expect cron_too_often 1 'more often than every 1 s \(schedule.min_interval_s\)' -- "$DAIMON" cron add --every 100ms --to telegram:77 x
expect cron_no_unit 1 'needs its unit' -- "$DAIMON" cron add --in 10 --to telegram:77 x
expect cron_bad_target 1 "cannot deliver to 'web:x'" -- "$DAIMON" cron add --in 1h --to web:x x
expect cron_nowhere 1 "'cli:default' is a conversation no channel reaches unasked" -- "$DAIMON" cron add --in 1h x
"$DAIMON" config set schedule.max_jobs 1 >/dev/null
"$DAIMON" cron add --in 1h --to telegram:77 first >/dev/null
expect cron_max_jobs 1 'there are 1 jobs already \(schedule.max_jobs\)' -- "$DAIMON" cron add --in 1h --to telegram:77 second
"$DAIMON" config set schedule.max_jobs 10000 >/dev/null
first=$("$DAIMON" cron list --json | node -pe 'JSON.parse(require("fs").readFileSync(0)).id')
expect cron_pause 0 "^paused $first" -- "$DAIMON" cron pause "$first"
expect cron_paused_listed 0 '"state":"paused"' -- "$DAIMON" cron list --json
expect cron_remove 0 "^removed $first" -- "$DAIMON" cron remove "$first"
expect cron_removed_gone 0 '^no jobs' -- "$DAIMON" cron list
expect cron_unknown_id 1 "no job 'nope'" -- "$DAIMON" cron show nope

# ---- the model schedules, Telegram gets it once ----
start_daemon || bad serve "the daemon did not start" "$(cat "$TMP/serve.err")"
tg_send 77 "remind me in 2 seconds to call the dentist"
if wait_count "I will remind you." 1; then ok tool_answered; else bad tool_answered "$(journal | head -c 600)"; fi
expect tool_made_job 0 '"key":"telegram:77".*"state":"scheduled"' -- "$DAIMON" cron list --json
if wait_count "Call the dentist." 1 50; then ok reminder_delivered; else bad reminder_delivered "$(cat "$TMP/serve.err")"; fi
sleep 1.5
expect reminder_once 0 '^1$' -- tg_count "Call the dentist."
expect history_delivered 0 'delivery +ok' -- "$DAIMON" cron history
tg_send 77 "remind me yesterday"
if wait_count "That time is gone." 1; then ok tool_refusal_answered; else bad tool_refusal_answered; fi
expect tool_refusal_to_model 0 'is in the past' -- journal

# ---- recurring: delivered again and again, until cancelled ----
"$DAIMON" cron add --every 1s --to telegram:77 "Drink water." >/dev/null
expect status_next_runs 0 'next +.*Drink water\.' -- "$DAIMON" status
expect status_json_schedule 0 '"schedule":\{"jobs":[1-9]' -- "$DAIMON" status --json
if wait_count "Drink water." 3 60; then ok recurring_delivered; else bad recurring_delivered "$(tg_count "Drink water.")"; fi
water=$("$DAIMON" cron list --json | node -e 'for (const l of require("fs").readFileSync(0, "utf8").trim().split("\n")) { const j = JSON.parse(l); if (j.text === "Drink water.") console.log(j.id) }')
"$DAIMON" cron remove "$water" >/dev/null
n=$(tg_count "Drink water."); sleep 2.5
expect recurring_cancelled 0 "^$n\$" -- tg_count "Drink water."

# ---- a reload brings the scheduler the new settings ----
"$DAIMON" config set schedule.min_interval_s 3600 >/dev/null
expect reload_reaches_scheduler 1 'more often than every 3600 s' -- "$DAIMON" cron add --every 10m --to telegram:77 x
"$DAIMON" config set schedule.min_interval_s 1 >/dev/null

# ---- a prompt job: its turn's answer arrives ----
"$DAIMON" cron add --in 1s --prompt --name briefing --session telegram:77 "Say what is on today." >/dev/null
if wait_count "Good morning: three meetings today." 1 60; then ok prompt_delivered; else bad prompt_delivered "$(journal | tail -c 400)"; fi
expect prompt_in_its_conversation 0 'Good morning: three meetings today' -- "$DAIMON" sessions show telegram:77

# ---- killed between making and due time ----
"$DAIMON" cron add --in 3s --to telegram:77 "Stretch your legs." >/dev/null
kill -9 "$daemon_pid"; wait "$daemon_pid" 2>/dev/null
sleep 3.5
start_daemon
if wait_count "Stretch your legs." 1 60; then ok due_while_down_delivered; else bad due_while_down_delivered; fi
sleep 1
expect due_while_down_once 0 '^1$' -- tg_count "Stretch your legs."

# ---- killed between a run's start and end, and between run and delivery ----
for point in cron-run cron-deliver; do
  stop_daemon
  DAIMON_FAULT=$point:1 "$DAIMON" serve 2>>"$TMP/serve.err" & daemon_pid=$!
  for _ in $(seq 100); do "$DAIMON" status >/dev/null 2>&1 && break; sleep 0.05; done
  "$DAIMON" cron add --in 1s --to telegram:77 "Crash test $point." >/dev/null
  wait "$daemon_pid" 2>/dev/null; st=$?
  [ "$st" = 137 ] && ok "killed_at_$point" || bad "killed_at_$point" "exit $st"
  expect "not_delivered_before_$point" 0 '^0$' -- tg_count "Crash test $point."
  start_daemon
  if wait_count "Crash test $point." 1 60; then ok "delivered_after_$point"; else bad "delivered_after_$point"; fi
  sleep 1
  expect "delivered_once_after_$point" 0 '^1$' -- tg_count "Crash test $point."
done

# ---- missed while down: within the grace it runs late, past it it is said missed ----
stop_daemon
"$DAIMON" cron add --in 1s --to telegram:77 "Late but kept." >/dev/null
sleep 1.5
start_daemon
if wait_count "Late but kept." 1 60; then ok missed_within_grace_runs; else bad missed_within_grace_runs; fi
stop_daemon
"$DAIMON" config set schedule.grace_h 0 >/dev/null
"$DAIMON" cron add --in 1s --to telegram:77 "Too late." >/dev/null
sleep 1.5
start_daemon
told() { curl -s -XPOST -H 'Content-Type: application/json' -d '{"token":"123:abc"}' \
  "http://127.0.0.1:$tport/getUpdatesHistory" | grep -c 'Missed while daimon was not running (due [^)]*): Too late\.'; }
for _ in $(seq 60); do [ "$(told)" -ge 1 ] && break; sleep 0.1; done
expect missed_past_grace_told 0 '^1$' -- told
expect missed_past_grace_recorded 0 'run +missed' -- "$DAIMON" cron history
expect missed_past_grace_not_run 0 '^0$' -- tg_count "Too late."
"$DAIMON" config set schedule.grace_h 12 >/dev/null

# ---- a channel that cannot take it: retried, shown delivering, then delivered ----
stop_daemon
export DAIMON_TELEGRAM_API_URL=http://127.0.0.1:1  # nothing listens there
start_daemon
"$DAIMON" cron add --in 1s --to telegram:77 "Eventually." >/dev/null
for _ in $(seq 100); do "$DAIMON" cron list --json | grep -q '"state":"delivering".*"delivery_attempts":[1-9]' && break; sleep 0.1; done
expect channel_down_delivering 0 '"state":"delivering"' -- "$DAIMON" cron list --json
expect channel_down_not_delivered 0 '^0$' -- tg_count "Eventually."
stop_daemon
export DAIMON_TELEGRAM_API_URL=http://127.0.0.1:$tport
start_daemon
if wait_count "Eventually." 1 100; then ok channel_back_delivered; else bad channel_back_delivered "$("$DAIMON" cron history | tail -5)"; fi
sleep 1
expect channel_back_once 0 '^1$' -- tg_count "Eventually."

# ---- the scheduler in ps and status ----
expect ps_shows_scheduler 0 'scheduler' -- "$DAIMON" ps
stop_daemon
no_sanitizer_reports "$TMP/serve.err"
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
