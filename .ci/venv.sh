# Sourced by tests/run, example_project/run and .ci/run: find a Python >= 3.12,
# create .venv with it and install txmail with its test and dev tools.
# Installs again only when pyproject.toml changes.

txmail_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

txmail_python_ok() {
  "$1" -c 'import sys; sys.exit(sys.version_info < (3, 12))' >/dev/null 2>&1
}

txmail_find_python() {
  local candidates=()
  [ -n "${TXMAIL_PYTHON:-}" ] && candidates+=("$TXMAIL_PYTHON")
  candidates+=(python3.14 python3.13 python3.12 python3 python)
  # pyenv's shims only run the version PYENV_VERSION names, so look behind them
  # at the installed interpreters themselves, newest first.
  local root="${PYENV_ROOT:-$HOME/.pyenv}"
  if [ -d "$root/versions" ]; then
    while IFS= read -r dir; do
      candidates+=("$dir/bin/python3")
    done < <(ls -d "$root"/versions/3.1[2-9]* 2>/dev/null | sort -rV)
  fi
  candidates+=(/usr/local/bin/python3.1[2-9] /usr/bin/python3.1[2-9])
  local c
  for c in "${candidates[@]}"; do
    if command -v "$c" >/dev/null 2>&1 && txmail_python_ok "$c"; then
      command -v "$c"
      return 0
    fi
  done
  return 1
}

txmail_venv() {
  local venv="$txmail_root/.venv"
  if [ ! -x "$venv/bin/python" ] || ! txmail_python_ok "$venv/bin/python"; then
    local python
    if ! python="$(txmail_find_python)"; then
      echo "txmail needs Python >= 3.12 and found none (tried python3.1x, python3," \
           "pyenv versions). Install one, or set TXMAIL_PYTHON=/path/to/python3.12." >&2
      return 1
    fi
    echo "Creating .venv with $python ($("$python" --version 2>&1)): the newest" \
         "Python >= 3.12 found; set TXMAIL_PYTHON=/path/to/python3.12 to choose another."
    echo "Installing txmail with its test, docs and dev tools into .venv from PyPI" \
         "(Django, mjml-python, anymail, Celery, moto, Playwright, Sphinx, ...): about" \
         "2-3 minutes the first time, skipped while pyproject.toml is unchanged."
    rm -rf "$venv"
    "$python" -m venv "$venv"
  fi
  local stamp="$venv/.txmail-installed"
  local want
  want="$(cat "$txmail_root/pyproject.toml" | "$venv/bin/python" -c 'import hashlib,sys; print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest())')"
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -e "$txmail_root[dev]"
    echo "$want" > "$stamp"
  fi
  export PATH="$venv/bin:$PATH"
}

# Install Debian package $1 (for command $2, needed by $3) with apt-get when the
# command is missing; fail with what to install otherwise.
txmail_apt() {
  local package="$1" command="$2" why="$3"
  command -v "$command" >/dev/null 2>&1 && return 0
  local sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo -n"
  if command -v apt-get >/dev/null 2>&1; then
    echo "Installing $package for $why (apt-get)..."
    $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
      $sudo apt-get install -y -qq "$package" >/dev/null
  fi
  command -v "$command" >/dev/null 2>&1 || {
    echo "$why needs $command: install Debian's '$package' package." >&2
    return 1
  }
}

# Browser tests drive Debian's chromium (Playwright's own download can't work
# here); TXMAIL_CHROMIUM=/path/to/chromium uses another.
txmail_chromium() {
  [ -n "${TXMAIL_CHROMIUM:-}" ] || txmail_apt chromium chromium "the browser tests"
}

# The distributed-worker test runs Celery on Debian's redis-server as its broker.
txmail_redis() {
  txmail_apt redis-server redis-server "the distributed-worker test"
}

# The spam-score check (txmail.quality.spam) runs Debian's SpamAssassin, local rules
# only; its tests fail without it when TXMAIL_REQUIRE_SPAMASSASSIN=1 (tests/run).
txmail_spamassassin() {
  txmail_apt spamassassin spamassassin "the spam-score tests"
}

# The database-outage tests run a PostgreSQL server of their own (Debian's
# binaries in /usr/lib/postgresql/N/bin, restarted mid-run).
txmail_postgresql() {
  compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null && return 0
  txmail_apt postgresql pg_ctlcluster "the database-outage tests" || return 1
  compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || {
    echo "the database-outage tests need initdb: install Debian's 'postgresql' package." >&2
    return 1
  }
}

# The MJML conformance test (tests/test_mjml_conformance.py) compares txmail's HTML
# with the official compiler's: npm's mjml, a test oracle only (txmail never runs it),
# installed once into ~/.cache/txmail/mjml-<version> with Debian's Node.
# TXMAIL_MJML_JS=/path/holding/node_modules/mjml uses another (mjml 5: see
# docs/how-to/mjml.md). The test fails, not skips, when tests/run set it up.
TXMAIL_MJML_JS_VERSION=4.18.0
txmail_mjml_js() {
  local version="${1:-$TXMAIL_MJML_JS_VERSION}"
  txmail_apt nodejs node "the MJML conformance test" || return 1
  if [ -z "${TXMAIL_MJML_JS:-}" ]; then
    local dir="${XDG_CACHE_HOME:-$HOME/.cache}/txmail/mjml-$version"
    if [ ! -f "$dir/node_modules/mjml/package.json" ]; then
      txmail_apt npm npm "the MJML conformance test" || return 1
      echo "Installing mjml $version (npm, the conformance test's oracle) into $dir..."
      rm -rf "$dir.partial"
      mkdir -p "$dir.partial"
      if ! npm install --prefix "$dir.partial" --no-audit --no-fund --loglevel=error \
          "mjml@$version" >/dev/null; then
        echo "the MJML conformance test needs npm's mjml $version: npm install failed;" \
             "install it with: npm install --prefix $dir mjml@$version" >&2
        rm -rf "$dir.partial"
        return 1
      fi
      rm -rf "$dir"
      mv "$dir.partial" "$dir"
    fi
    export TXMAIL_MJML_JS="$dir"
  fi
  export TXMAIL_REQUIRE_MJML_JS=1
}
