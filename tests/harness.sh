# harness.sh — what the shell suites (cli.sh, daemon.sh, mail.sh, telegram.sh) share:
# counting checks and running one. Sourced; the caller sets pass=0 fail=0.

ok() { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1"; shift; printf '     %s\n' "$@"; }

# expect NAME STATUS PATTERN -- CMD...: runs CMD, checks exit status and
# that stdout+stderr matches the extended regex PATTERN.
expect() {
  local name=$1 want=$2 pat=$3; shift 4
  local out st
  out=$("$@" 2>&1); st=$?
  if [ "$st" != "$want" ]; then bad "$name" "exit $st, expected $want" "$out"; return; fi
  if ! grep -Eq -- "$pat" <<<"$out"; then bad "$name" "output does not match /$pat/" "$out"; return; fi
  ok "$name"
}

# Whether something listens on 127.0.0.1:PORT.
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# A check that the daemon's stderr (FILE) holds nothing the sanitizers
# said (under ASan/UBSan their reports land there, not in an exit status).
no_sanitizer_reports() {
  if grep -q 'Sanitizer\|runtime error:' "$1"; then bad no_sanitizer_reports "$(grep -m3 'Sanitizer\|runtime error:' "$1")"
  else ok no_sanitizer_reports; fi
}

# suite_begin NAME: a temporary folder $TMP holding $DAIMON_HOME, removed
# at exit once every process in `pids` is killed (and $on_exit, if set, is
# run). Sets pass=0 fail=0.
suite_begin() {
  TMP=$(mktemp -d "/tmp/daimon-$1.XXXXXX")
  export DAIMON_HOME=$TMP/home NO_COLOR=1
  pass=0 fail=0
  pids=()
  trap suite_end EXIT
}
suite_end() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
  [ -n "${on_exit:-}" ] && eval "$on_exit"
  wait 2>/dev/null
  rm -rf "$TMP"
}

# start_daemon: `$DAIMON serve` in the background (its stderr appended to
# $TMP/serve.err, its pid in daemon_pid), until it answers status.
start_daemon() {
  "$DAIMON" serve 2>>"$TMP/serve.err" & pids+=($!)
  daemon_pid=$!
  for _ in $(seq 100); do "$DAIMON" status >/dev/null 2>&1 && return 0; sleep 0.05; done
  return 1
}

# Telegram through telegram-test-api on $tport, bot token 123:abc.
tg_send() { # tg_send FROM TEXT: a user's message (their chat is their id)
  curl -s -XPOST -H 'Content-Type: application/json' \
    -d "{\"botToken\":\"123:abc\",\"from\":{\"id\":$1,\"first_name\":\"U$1\"},\"chat\":{\"id\":$1},\"text\":\"$2\"}" \
    "http://127.0.0.1:$tport/sendMessage" >/dev/null
}
tg_replies() { # the bot's messages to chat $1 not printed before, one per line (JSON strings); a
  # message still streaming (its text ends in " …") waits until its last edit
  curl -s -XPOST -H 'Content-Type: application/json' -d '{"token":"123:abc"}' \
    "http://127.0.0.1:$tport/getUpdatesHistory" | node -e '
      const fs = require("fs"), seen = process.argv[1], chat = process.argv[2];
      const had = new Set(fs.existsSync(seen) ? fs.readFileSync(seen, "utf8").split("\n") : []);
      let s = ""; process.stdin.on("data", d => s += d).on("end", () => {
        for (const u of JSON.parse(s).result || []) {
          const m = u.message || {};
          if (!("chat_id" in m) || String(m.chat_id) !== chat || had.has(String(u.messageId))) continue;
          if (typeof m.text === "string" && m.text.endsWith(" …")) continue;
          fs.appendFileSync(seen, u.messageId + "\n");
          console.log(JSON.stringify(m.text));
        } });' "$TMP/tg.seen.$1" "$1"
}
tg_wait() { # tg_wait CHAT N: until N replies came (collected in $TMP/tg.$CHAT)
  : >"$TMP/tg.$1"
  for _ in $(seq 100); do
    tg_replies "$1" >>"$TMP/tg.$1"
    [ "$(wc -l <"$TMP/tg.$1")" -ge "$2" ] && return 0
    sleep 0.1
  done
  return 1
}

# start_peers: aimock (fixtures in $TMP/aim; $AIM its cli.js) and
# telegram-test-api ($PEERS/telegram.js) on free loopback ports (aport,
# tport; wport is left for the web channel), the environment pointed at
# them: the model, and the Telegram bot 123:abc.
start_peers() {
  aport=$((20000 + RANDOM % 20000)); tport=$((aport + 1)); wport=$((aport + 2))
  node "$AIM" -h 127.0.0.1 -p "$aport" -f "$TMP/aim" >/dev/null 2>&1 & pids+=($!)
  node "$PEERS/telegram.js" "$tport" >/dev/null 2>&1 & pids+=($!)
  for _ in $(seq 100); do port_open "$aport" && port_open "$tport" && break; sleep 0.1; done
  export DAIMON_MODEL=m DAIMON_BASE_URL=http://127.0.0.1:$aport
  export TELEGRAM_BOT_TOKEN=123:abc DAIMON_TELEGRAM_API_URL=http://127.0.0.1:$tport
}
