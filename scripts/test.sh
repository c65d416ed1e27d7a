#!/usr/bin/env bash
# Runs the whole test suite the way CI does: a -Werror build with
# AddressSanitizer + UndefinedBehaviorSanitizer, every ctest suite (unit,
# end-to-end, crash, and a short bounded run of each libFuzzer target).
set -euo pipefail
cd "$(dirname "$0")/.."
export CC="${CC:-clang}"

# Layout is clang-format's (.clang-format), checked, not only configured.
unformatted=$(git ls-files '*.c' '*.h' | while read -r f; do
  clang-format --dry-run -Werror "$f" >/dev/null 2>&1 || echo "$f"
done)
if [ -n "$unformatted" ]; then
  echo "test.sh: these files differ from .clang-format (run clang-format -i on them):" >&2
  echo "$unformatted" >&2
  exit 1
fi

cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DDAIMON_WERROR=ON -DDAIMON_SANITIZE=ON \
      -DDAIMON_FUZZ=ON >/dev/null
cmake --build build-asan -j"$(nproc)" >/dev/null
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
ctest --test-dir build-asan --output-on-failure -j"$(nproc)" "$@"

# The concurrent code — the runtime, sessions, channels and the daemon
# itself (daemon.sh drives a TSan-built `daimon serve`) — also runs under TSan.
cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=Debug -DDAIMON_WERROR=ON -DDAIMON_TSAN=ON >/dev/null
cmake --build build-tsan -j"$(nproc)" --target daimon test_actor test_fanout test_skills test_http test_llm test_session test_agent test_config test_settings test_index test_import test_gateway test_sessions >/dev/null
TSAN_OPTIONS=halt_on_error=1 ctest --test-dir build-tsan --output-on-failure -R '^(actor|fanout|skills|http|llm|session|agent|config|settings|index|import|gateway|sessions|daemon|telegram|cron)$'
