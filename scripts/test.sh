#!/usr/bin/env bash
# The whole test suite: type check, lint, format, layer rules, then every Vitest project (Node and real Chromium).
# `npm test -- <files or --project name>` runs those tests with the static checks beside them.
# Works on a fresh Debian clone as root with CI=true and no stdin: it installs what npm
# cannot (Debian's Chromium) and the npm dependencies when they are missing or stale.
set -uo pipefail
cd "$(dirname "$0")/.."

log() { printf '\n== %s\n' "$*"; }

# npm ci only when needed: it deletes node_modules, so never run it on an up-to-date tree.
# npm writes node_modules/.package-lock.json on install; an older one means a stale tree.
if [[ ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
  log "installing npm dependencies (npm ci)"
  npm ci --no-audit --no-fund || exit 1
fi

# Browser tests use Debian's Chromium; Playwright must never download its own.
# CHROMIUM_PATH (read by vitest.config.ts) points at another binary; then install nothing.
if [[ -n "${CHROMIUM_PATH:-}" ]]; then
  [[ -x "$CHROMIUM_PATH" ]] || { echo "test.sh: CHROMIUM_PATH=$CHROMIUM_PATH is not an executable" >&2; exit 1; }
elif [[ ! -x /usr/bin/chromium ]]; then
  log "installing Debian's Chromium (apt-get)"
  sudo=()
  [[ $(id -u) -ne 0 ]] && sudo=(sudo -n)
  export DEBIAN_FRONTEND=noninteractive
  { "${sudo[@]}" apt-get update -qq && "${sudo[@]}" apt-get install -y -qq chromium chromium-driver; } </dev/null || {
    echo "test.sh: could not install chromium with apt-get; install it, or set CHROMIUM_PATH" >&2
    exit 1
  }
fi

# The firefox project drives Debian's Firefox ESR with puppeteer-core over WebDriver BiDi (no
# geckodriver, no downloaded browser). FIREFOX_PATH (read by test/firefox/firefox-app.ts) points
# at another binary; then install nothing.
if [[ -n "${FIREFOX_PATH:-}" ]]; then
  [[ -x "$FIREFOX_PATH" ]] || { echo "test.sh: FIREFOX_PATH=$FIREFOX_PATH is not an executable" >&2; exit 1; }
elif [[ ! -x /usr/bin/firefox-esr ]]; then
  log "installing Debian's Firefox ESR (apt-get)"
  sudo=()
  [[ $(id -u) -ne 0 ]] && sudo=(sudo -n)
  export DEBIAN_FRONTEND=noninteractive
  { "${sudo[@]}" apt-get update -qq && "${sudo[@]}" apt-get install -y -qq firefox-esr; } </dev/null || {
    echo "test.sh: could not install firefox-esr with apt-get; install it, or set FIREFOX_PATH" >&2
    exit 1
  }
fi

# The architecture tests check every engine against an independent numpy implementation
# (test/independent/) and the GGUF import tests run independent Python writers (test/gguf/, the
# wllama anchor): python3 with numpy, from PATH or Debian's (test/python-numpy.ts picks it); never pip.
if ! python3 -c 'import numpy' 2>/dev/null && ! /usr/bin/python3 -c 'import numpy' 2>/dev/null; then
  log "installing Debian's python3 and python3-numpy (apt-get)"
  sudo=()
  [[ $(id -u) -ne 0 ]] && sudo=(sudo -n)
  export DEBIAN_FRONTEND=noninteractive
  { "${sudo[@]}" apt-get update -qq && "${sudo[@]}" apt-get install -y -qq python3 python3-numpy; } </dev/null || {
    echo "test.sh: could not install python3-numpy with apt-get; install numpy for python3" >&2
    exit 1
  }
fi

# The static checks, each with its cache in the git-ignored .cache/ (a warm run re-reads only what
# changed): tsc's build info, ESLint's and Prettier's per-file caches, dependency-cruiser's.
# ESLint's cache keys a file by its own content, so a type-aware rule that a change elsewhere would
# trip in an unchanged file shows only on a cold run (CI, or after `rm -rf .cache`).
static_checks() {
  local failed=0
  log "type check (tsc --noEmit)"
  npx tsc --noEmit -p . --incremental --tsBuildInfoFile .cache/tsc.tsbuildinfo || failed=1
  log "lint (eslint; config in eslint.config.js)"
  npx eslint --max-warnings 0 --cache --cache-location .cache/eslint/ . || failed=1
  log "format (prettier --check; npm run format rewrites)"
  npx prettier --check --cache --log-level warn . || failed=1
  log "layer rules (dependency-cruiser; rules in .dependency-cruiser.cjs)"
  npx depcruise src --config .dependency-cruiser.cjs --output-type err-long --cache .cache/dependency-cruiser --cache-strategy content ||
    failed=1
  return $failed
}
mkdir -p .cache

# Run every step even when an earlier one fails, so one run reports every failure. Vitest starts
# at once and the static checks run beside it (Vitest's set-up and its waits on browsers leave
# room on the cores); their report follows Vitest's.
status=0
static_log=.cache/static-checks.log
static_checks >"$static_log" 2>&1 &
static_pid=$!
# A file stuck past every time limit is ended by the watchdog reporter (test/hang-watchdog/); this
# bound is for Vitest itself stuck (its set-up, its teardown): a full run takes about 25 minutes
# on 2 loaded cores, and CI gives the whole script 90.
# timeout puts Vitest in a process group of its own (so that it can end all of it), which a
# terminal's Ctrl-C does not reach: this script passes it on.
vitest_run() {
  timeout --kill-after=30s 55m npx vitest run "$@" &
  local pid=$! code
  trap 'interrupted=1; kill -TERM "$pid" 2>/dev/null' INT TERM
  wait "$pid"
  code=$?
  while kill -0 "$pid" 2>/dev/null; do # a trapped signal ends the wait, not the run
    wait "$pid"
    code=$?
  done
  trap - INT TERM
  if [[ -n "${interrupted:-}" ]]; then # stopped by hand: stop the static checks too, and report nothing
    pkill -TERM -P "$static_pid" 2>/dev/null
    kill -TERM "$static_pid" 2>/dev/null
    echo "test.sh: interrupted" >&2
    exit 130
  fi
  [[ $code -eq 124 || $code -eq 137 ]] && echo "test.sh: vitest did not end within 55 minutes and was killed" >&2
  return $code
}
if [[ $# -eq 0 ]]; then
  log "tests (vitest run: node, browser, e2e and firefox projects)"
  vitest_run || status=1
else
  log "tests (vitest run $*)"
  vitest_run "$@" || status=1
fi
wait "$static_pid" || status=1
cat "$static_log"

if [[ $status -ne 0 ]]; then
  log "FAILED"
else
  log "all checks passed"
fi
exit $status
