#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine for daimon: installs the Debian packages
# the build, the tests and the benchmarks need, then builds ./build/daimon.
# Safe to run again. Run as root or with sudo available.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  build-essential cmake pkg-config
  clang libclang-rt-14-dev            # ASan/UBSan/TSan runtimes and libFuzzer (only recommended by clang)
  clang-format                        # test.sh checks every C file's layout
  libsqlite3-dev libcurl4-openssl-dev libcjson-dev libgit2-dev libedit-dev
  libmicrohttpd-dev                   # the daemon's web chat
  libcmark-gfm-dev libcmark-gfm-extensions-dev  # markdown for the web page, Telegram and the terminal
  chromium                            # the web chat's end-to-end test (headless, through playwright-core)
  dovecot-imapd python3-aiosmtpd      # the mail channel's end-to-end test (IMAP and SMTP peers)
  ripgrep                             # bench/run search compares against it
  tmux                                # cli.sh drives `daimon setup` through a terminal
  time                                # bench/run turns measures peak memory with /usr/bin/time
  erlang-base                         # bench/run actors compares against the BEAM
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO=sudo
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The real peers the end-to-end tests talk to (shared/PEERS.md), pinned in
# tests/peers/package-lock.json.
if ! command -v npm >/dev/null; then
  echo "setup: npm is needed for the test peers (Node 20 + npm)" >&2
  exit 1
fi
(cd tests/peers && npm ci --no-audit --no-fund --loglevel=error >/dev/null)

cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" >/dev/null
echo "setup: built $(pwd)/build/daimon"
