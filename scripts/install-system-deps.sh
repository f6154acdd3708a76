#!/usr/bin/env bash
# Install the Debian packages the product and its tests use, when they are missing and we may.
set -euo pipefail
needed=()
command -v ffmpeg >/dev/null || needed+=(ffmpeg)
command -v espeak-ng >/dev/null || needed+=(espeak-ng)
# The browser tests drive Debian's chromium (never a downloaded browser).
command -v chromium >/dev/null || needed+=(chromium)
# A CJK font, so the browser tests' screenshots of the Chinese interface are legible.
[ -e /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ] || needed+=(fonts-wqy-microhei)
# Only to validate docker-compose.yml in the tests (`config` needs no Docker engine).
command -v docker-compose >/dev/null || docker compose version >/dev/null 2>&1 || needed+=(docker-compose)
[ ${#needed[@]} -eq 0 ] && exit 0
if ! command -v apt-get >/dev/null; then
  echo "note: please install ${needed[*]} (needed for recordings and prompts)" >&2
  exit 0
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if sudo -n true 2>/dev/null; then sudo="sudo"; else
    echo "note: run 'sudo apt-get install ${needed[*]}' (needed for recordings and prompts)" >&2
    exit 0
  fi
fi
echo "installing ${needed[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${needed[@]}" >/dev/null
