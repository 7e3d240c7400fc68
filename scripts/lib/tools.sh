# Sourced by the scripts: installs what the local stack and the tests need on a fresh machine
# (a Python venv with moto, cfn-lint and the test tools; rustfmt and clippy) and puts it on PATH.

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# The Lambda functions, by package (infra/template.yaml's BuildProperties.Binary);
# tests/bootstraps/functions.py holds each one's size budget.
functions=(connect dashboard disconnect entities sync-runs sync webhooks webhook-fanout webhook-delivery)
venv="$root/.venv"
requirements="$root/infra/local/requirements.txt"

ensure_tools() {
  if ! cmp -s "$requirements" "$venv/.installed" 2>/dev/null; then
    echo "==> installing local tools into .venv (moto, cfn-lint, test tools)" >&2
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements"
    cp "$requirements" "$venv/.installed"
  fi
  ensure_rust
  export PATH="$venv/bin:$PATH"
}

# rustfmt and clippy, when rustup manages the toolchain.
ensure_rust() {
  if command -v rustup >/dev/null 2>&1; then
    for component in rustfmt clippy; do
      rustup component list --installed 2>/dev/null | grep -q "^$component" || rustup component add "$component" >&2
    done
  fi
}

# The SAM CLI (scripts/test validates the template with it), in a venv of its own: its pins are
# not the local stack's.
ensure_sam() {
  local requirements="$root/infra/sam-requirements.txt" dir="$root/.venv-sam"
  if ! cmp -s "$requirements" "$dir/.installed" 2>/dev/null; then
    echo "==> installing the SAM CLI into .venv-sam" >&2
    python3 -m venv "$dir"
    "$dir/bin/pip" install --quiet --disable-pip-version-check -r "$requirements"
    cp "$requirements" "$dir/.installed"
  fi
  export SAM_CLI_TELEMETRY=0
  sam() { "$root/.venv-sam/bin/sam" "$@"; }
}

# Redocly's CLI for the OpenAPI lint (scripts/test only), from the npm registry with the
# machine's Node.js, at the version tools/openapi-lint/package-lock.json pins.
ensure_lint_tools() {
  local dir="$root/tools/openapi-lint"
  if ! cmp -s "$dir/package-lock.json" "$dir/node_modules/.installed" 2>/dev/null; then
    echo "==> installing the OpenAPI lint (npm ci in tools/openapi-lint)" >&2
    (cd "$dir" && npm ci --no-audit --no-fund --silent)
    cp "$dir/package-lock.json" "$dir/node_modules/.installed"
  fi
  export PATH="$dir/node_modules/.bin:$PATH" REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true
}

# What the browser tests drive (scripts/test only): Debian's Chromium and its ChromeDriver, and
# axe-core (tools/browser/package-lock.json pins it), which the tests load into every page.
ensure_browser() {
  if [ ! -x /usr/bin/chromedriver ] || [ ! -x /usr/bin/chromium ]; then
    echo "==> installing Chromium and ChromeDriver (Debian's chromium, chromium-driver)" >&2
    local sudo=()
    [ "$(id -u)" = 0 ] || sudo=(sudo)
    "${sudo[@]}" apt-get install -y -qq chromium chromium-driver >/dev/null ||
      { "${sudo[@]}" apt-get update -qq && "${sudo[@]}" apt-get install -y -qq chromium chromium-driver >/dev/null; }
  fi
  local dir="$root/tools/browser"
  if ! cmp -s "$dir/package-lock.json" "$dir/node_modules/.installed" 2>/dev/null; then
    echo "==> installing axe-core (npm ci in tools/browser)" >&2
    (cd "$dir" && npm ci --no-audit --no-fund --silent)
    cp "$dir/package-lock.json" "$dir/node_modules/.installed"
  fi
  export MILLWRIGHT_CHROMIUM=/usr/bin/chromium MILLWRIGHT_CHROMEDRIVER=/usr/bin/chromedriver
  export MILLWRIGHT_AXE_JS="$dir/node_modules/axe-core/axe.min.js"
}

# The ports free_port handed out, shared with the scripts this one starts; the script that made
# the list removes it (release_ports) when it ends.
if [ -z "${MILLWRIGHT_PORTS_FILE:-}" ]; then
  export MILLWRIGHT_PORTS_FILE="$root/.local/ports.$$"
  ports_owner=$$
fi
release_ports() {
  [ "${ports_owner:-}" != $$ ] || rm -f "$MILLWRIGHT_PORTS_FILE"
}

# A free TCP port on 127.0.0.1, below the kernel's ephemeral range (so no outgoing connection
# takes it before its server binds it) and never one handed out before in this run.
free_port() {
  mkdir -p "$(dirname "$MILLWRIGHT_PORTS_FILE")"
  python3 - "$MILLWRIGHT_PORTS_FILE" <<'PY'
import random, socket, sys
low = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
try:
    handed = set(open(sys.argv[1]).read().split())
except FileNotFoundError:
    handed = set()
for port in random.sample(range(20000, low), low - 20000):
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            continue
    if str(port) not in handed:
        open(sys.argv[1], "a").write(f"{port}\n")
        print(port)
        break
PY
}

# Waits until a URL answers with a success status, or fails after $2 seconds.
wait_for_http() {
  local url=$1 until=$((SECONDS + $2))
  while ((SECONDS < until)); do
    curl -sf --max-time 5 -o /dev/null "$url" && return 0
    sleep 0.25
  done
  echo "no answer from $url after $2 s" >&2
  return 1
}
