# harness.sh — what the shell suites (cli.sh, daemon.sh, mail.sh) share:
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
