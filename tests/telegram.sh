#!/usr/bin/env bash
# telegram.sh — what Telegram users send besides text, end to end: a photo
# goes to the model as an image, a voice message is transcribed (aimock
# answers /v1/audio/transcriptions), a document is kept in the inbox and
# named to the model; a broken image and files past the bound get a clear
# line; in a group only what mentions or replies to the bot is taken, and
# the group is paired like a person. telegram-test-api lacks getFile and
# the download, so the recording proxy (peers/tg-proxy.js) answers them
# from $TMP/files, shaped as the Bot API documents them.
# Usage: telegram.sh DAIMON PEERS
set -u
DAIMON=$1
PEERS=$2
. "$(dirname "$0")/harness.sh"
suite_begin tg

AIM=$PEERS/node_modules/@copilotkit/aimock/dist/cli.js
if [ ! -f "$AIM" ] || [ ! -d "$PEERS/node_modules/telegram-test-api" ]; then
  bad peers_installed "run scripts/setup.sh: the test peers are missing in $PEERS"
  echo "$pass passed, $fail failed"; exit 1
fi
"$DAIMON" init >/dev/null
mkdir -p "$TMP/aim" "$TMP/files"
cat >"$TMP/aim/f.json" <<'EOF'
{"fixtures":[
 {"match":{"endpoint":"transcription"},"response":{"transcription":{"text":"please call the dentist at nine"}}},
 {"match":{"userMessage":"what is in this picture?"},"response":{"content":"A small red square."}},
 {"match":{"userMessage":"call the dentist"},"response":{"content":"I will remind you."}},
 {"match":{"userMessage":"summarize the file"},"response":{"content":"It is a short report."}},
 {"match":{"userMessage":"hello everyone"},"response":{"content":"Hello, group."}},
 {"match":{"userMessage":"and you?"},"response":{"content":"I am fine."}}]}
EOF
start_peers
pport=$((aport + 3))
node "$PEERS/tg-proxy.js" "$pport" "$tport" "$TMP/tg.calls" "$TMP/files" >/dev/null 2>&1 & pids+=($!)
for _ in $(seq 100); do port_open "$pport" && break; sleep 0.1; done
export DAIMON_TELEGRAM_API_URL=http://127.0.0.1:$pport
"$DAIMON" config set channels.telegram.poll_interval_ms 50 >/dev/null
"$DAIMON" config set channels.telegram.allow '["77"]' >/dev/null
"$DAIMON" config set channels.telegram.max_file_mb 1 >/dev/null
"$DAIMON" config set channels.web.enabled false >/dev/null
tg_calls() { # tg_calls METHOD: the bodies of the daemon's calls of METHOD, one per line
  node -e 'for (const l of require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n")) {
    const c = JSON.parse(l); if (c.method === process.argv[2]) console.log(JSON.stringify(c.body)); }' "$TMP/tg.calls" "$1"
}
tg_post() { # tg_post JSON: a user's message as the test server takes it (botToken added)
  curl -s -XPOST -H 'Content-Type: application/json' -d "{\"botToken\":\"123:abc\",$1}" \
    "http://127.0.0.1:$tport/sendMessage" >/dev/null
}
last_request() { # the newest chat request aimock received
  curl -s "http://127.0.0.1:$aport/__aimock/journal?limit=1000" | node -e '
    let s = ""; process.stdin.on("data", d => s += d).on("end", () => {
      const l = JSON.parse(s).filter(e => e.path.endsWith("/chat/completions"));
      console.log(JSON.stringify(l[l.length - 1].body)); });'
}
from77='"from":{"id":77,"first_name":"Ana","username":"ana"},"chat":{"id":77,"type":"private"}'

# a 4x4 red PNG, a file that is no picture, a voice note, a document, one past the bound
printf '\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x04\0\0\0\x04\x08\x02\0\0\0&\x93\t)\0\0\0\x13IDATx\x9cc\xfc\xcf\x80\x0f0\xe1\x95\x1d\xb1\0\xa9\xbe\x02\x0e\x0b\x9a\xdb\xd5\0\0\0\0IEND\xaeB`\x82' >"$TMP/files/red.png"
head -c 300 /dev/urandom >"$TMP/files/broken.jpg"
head -c 2000 /dev/urandom >"$TMP/files/note.ogg"
printf 'Q3: revenue up, costs down.\n' >"$TMP/files/report.txt"
head -c 2100000 /dev/zero >"$TMP/files/big.bin"

start_daemon && ok serve || bad serve "$(tail -3 "$TMP/serve.err")"

# a photo: kept in the inbox, sent to the model as an image with its caption
tg_post "$from77,\"caption\":\"what is in this picture?\",\"photo\":[{\"file_id\":\"tiny.png\",\"width\":1,\"height\":1},{\"file_id\":\"red.png\",\"file_size\":$(stat -c %s "$TMP/files/red.png"),\"width\":4,\"height\":4}]"
tg_wait 77 1
expect tg_photo_answered 0 '^"A small red square\."$' -- cat "$TMP/tg.77"
expect tg_photo_largest_fetched 0 '^\{"file_id":"red.png"\}$' -- tg_calls getFile
b64=$(base64 -w0 "$TMP/files/red.png")
expect tg_photo_sent_as_image 0 "\"type\":\"text\",\"text\":\"what is in this picture\\?\"\\},\\{\"type\":\"image_url\",\"image_url\":\\{\"url\":\"data:image/png;base64,${b64//+/\\+}\"" -- last_request
kept=$(find "$DAIMON_HOME/inbox" -name '*-photo.png' | head -1)
expect tg_photo_kept 0 '^same$' -- sh -c "cmp -s '$kept' '$TMP/files/red.png' && echo same"
expect tg_photo_logged 0 '"images":\[\{"path":"inbox/[0-9-]+/[0-9]+-photo\.png","mime":"image/png"\}\]' -- \
  "$DAIMON" sessions show --json telegram:77

# a photo that is not a picture: said plainly, nothing reaches the model
n=$(curl -s "http://127.0.0.1:$aport/__aimock/journal?limit=1000" | grep -o '"path"' | wc -l)
tg_post "$from77,\"photo\":[{\"file_id\":\"broken.jpg\",\"file_size\":300}]"
tg_wait 77 1
expect tg_broken_image 0 '^"\(That photo is not a picture I can read \(neither JPEG, PNG, GIF nor WebP\); it is kept as inbox/' -- cat "$TMP/tg.77"
expect tg_broken_image_not_to_model 0 "^$n\$" -- sh -c "curl -s 'http://127.0.0.1:$aport/__aimock/journal?limit=1000' | grep -o '\"path\"' | wc -l"

# a voice message: transcribed, shown, and what was said goes to the model
tg_post "$from77,\"voice\":{\"file_id\":\"note.ogg\",\"duration\":2,\"mime_type\":\"audio/ogg\",\"file_size\":2000}"
tg_wait 77 2
expect tg_voice_heard 0 '^"\(heard: please call the dentist at nine\)"$' -- head -1 "$TMP/tg.77"
expect tg_voice_answered 0 '^"I will remind you\."$' -- tail -1 "$TMP/tg.77"
expect tg_voice_transcribed 0 '"path":"/v1/audio/transcriptions"' -- curl -s "http://127.0.0.1:$aport/__aimock/journal?limit=1000"
expect tg_voice_logged 0 '"content":"\[a voice message, transcribed\] please call the dentist at nine"' -- \
  "$DAIMON" sessions show --json telegram:77

# a document: kept under its own name, named to the model
tg_post "$from77,\"caption\":\"summarize the file\",\"document\":{\"file_id\":\"report.txt\",\"file_name\":\"Q3 report.txt\",\"mime_type\":\"text/plain\",\"file_size\":28}"
tg_wait 77 1
expect tg_document_answered 0 '^"It is a short report\."$' -- cat "$TMP/tg.77"
expect tg_document_named 0 'summarize the file\\n\[The user sent a file, kept as inbox/[0-9-]+/[0-9]+-Q3_report\.txt \(28 bytes, text/plain\) in daimon.s home\.\]' -- last_request
expect tg_document_kept 0 'Q3: revenue up' -- sh -c "cat '$DAIMON_HOME'/inbox/*/*-Q3_report.txt"

# past channels.telegram.max_file_mb: by what the message says, and by what getFile says
tg_post "$from77,\"document\":{\"file_id\":\"huge.bin\",\"file_name\":\"huge.bin\",\"file_size\":52428800}"
tg_wait 77 1
expect tg_50mb_refused 0 '^"\(That file is 50\.0 MB; I take files up to 1 MB \(channels\.telegram\.max_file_mb\)\)"$' -- cat "$TMP/tg.77"
expect tg_50mb_not_fetched 1 '' -- grep -q 'huge.bin' "$TMP/tg.calls"
tg_post "$from77,\"document\":{\"file_id\":\"big.bin\",\"file_name\":\"big.bin\"}"
tg_wait 77 1
expect tg_big_refused 0 '^"\(That file is 2\.0 MB; I take files up to 1 MB' -- cat "$TMP/tg.77"
expect tg_big_not_kept 1 '' -- sh -c "ls '$DAIMON_HOME'/inbox/*/ | grep -q big"
tg_post "$from77,\"document\":{\"file_id\":\"gone.bin\",\"file_name\":\"gone.bin\",\"file_size\":10}"
tg_wait 77 1
expect tg_missing_file 0 "^\"\\(Telegram's getFile answered HTTP 400: Bad Request: invalid file_id\\)\"$" -- cat "$TMP/tg.77"

# a group: chatter is not taken; a mention from an unknown group gets a code
group='"chat":{"id":-1001,"type":"group","title":"Family"}'
tg_post "\"from\":{\"id\":77,\"first_name\":\"Ana\",\"username\":\"ana\"},$group,\"text\":\"hello everyone\""
sleep 0.6
expect tg_group_chatter_ignored 1 '' -- grep -q '"hello everyone"' "$DAIMON_HOME/channels/telegram.jsonl"
tg_post "\"from\":{\"id\":88,\"first_name\":\"Bo\"},$group,\"text\":\"@TestNameBot hello everyone\""
tg_wait -1001 1
expect tg_group_pairing 0 "^\"I don't know you yet\\. .*daimon pairing approve" -- cat "$TMP/tg.-1001"
expect tg_group_pending 0 'telegram:-1001 \(Family\)' -- "$DAIMON" pairing list
code=$(grep -o 'approve [A-Z0-9]*' "$TMP/tg.-1001" | cut -d' ' -f2)
"$DAIMON" pairing approve "$code" >/dev/null
tg_post "\"from\":{\"id\":88,\"first_name\":\"Bo\"},$group,\"text\":\"@testnamebot hello everyone\""
tg_wait -1001 1
expect tg_group_mention_answered 0 '^"Hello, group\."$' -- cat "$TMP/tg.-1001"
expect tg_group_speaker_named 0 '"content":"\[Bo\] @testnamebot hello everyone"' -- "$DAIMON" sessions show --json telegram:-1001
tg_post "\"from\":{\"id\":88,\"first_name\":\"Bo\"},$group,\"text\":\"and you?\",\"reply_to_message\":{\"message_id\":1,\"from\":{\"id\":666,\"is_bot\":true,\"first_name\":\"Test\"},\"chat\":{\"id\":-1001},\"text\":\"Hello, group.\"}"
tg_wait -1001 1
expect tg_group_reply_answered 0 '^"I am fine\."$' -- cat "$TMP/tg.-1001"
expect tg_group_one_session 0 '"key":"telegram:-1001"' -- "$DAIMON" sessions list --json

"$DAIMON" stop >/dev/null
no_sanitizer_reports "$TMP/serve.err"
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
