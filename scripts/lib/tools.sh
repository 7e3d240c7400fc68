# Sourced by the scripts: installs what the local stack and the tests need on a fresh machine
# (a Python venv with moto, cargo-lambda and cfn-lint; rustfmt and clippy) and puts it on PATH.

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
venv="$root/.venv"
requirements="$root/infra/local/requirements.txt"

ensure_tools() {
  if ! cmp -s "$requirements" "$venv/.installed" 2>/dev/null; then
    echo "==> installing local tools into .venv (moto, cargo-lambda, cfn-lint)" >&2
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements"
    cp "$requirements" "$venv/.installed"
  fi
  if command -v rustup >/dev/null 2>&1; then
    for component in rustfmt clippy; do
      rustup component list --installed 2>/dev/null | grep -q "^$component" || rustup component add "$component" >&2
    done
  fi
  export PATH="$venv/bin:$PATH"
}

# A free TCP port on 127.0.0.1.
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Waits until a URL answers with a success status, or fails after $2 seconds.
wait_for_http() {
  local url=$1 seconds=$2 i
  for ((i = 0; i < seconds * 4; i++)); do
    curl -sf -o /dev/null "$url" && return 0
    sleep 0.25
  done
  echo "no answer from $url after ${seconds}s" >&2
  return 1
}
