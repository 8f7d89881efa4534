#!/usr/bin/env bash
# Debian packages the engines and tests use. Run as root (or with sudo) once per machine.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
packages=(
  pocketsphinx pocketsphinx-en-us libpocketsphinx3 libpocketsphinx-dev  # PocketSphinx English STT (BSD-2)
  espeak-ng flite                                                        # TTS programs (espeak-ng is GPL: optional engine)
  sox ffmpeg                                                             # reference codecs in tests; decoding of compressed uploads
  asterisk-core-sounds-en asterisk-core-sounds-en-wav asterisk-core-sounds-fr-wav  # real telephone prompts for tests
  tar bzip2                                                              # model archives (.tar.bz2)
  chromium                                                               # browser tests of the demo and operator pages (playwright-core drives it)
  openssl                                                                # a throw-away TLS certificate for the Realtime protocol server in tests
)
missing=()
for p in "${packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ "${#missing[@]}" -eq 0 ]; then
  echo "system packages: all present"
  exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get update
$SUDO apt-get install -y --no-install-recommends "${missing[@]}"
