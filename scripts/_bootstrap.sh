# shellcheck shell=bash
# Shared bootstrap for scripts/test and scripts/run (sourced, not executed).
#
#   nw_venv       create/refresh .venv and `pip install -e '.[test]'` (skipped while pyproject.toml is unchanged)
#   nw_es_start   make sure Elasticsearch answers; exports NEWSWATCH_ELASTICSEARCH_URL and sets
#                 NW_ES_STARTED=1 when this run started the node (so only then may it stop it)
#   nw_es_stop    stop the node if this run started it
#
# Environment: PYTHON (interpreter for the venv, default python3), NW_VENV (default <repo>/.venv),
# NW_FORCE_INSTALL=1 to reinstall, plus everything scripts/elasticsearch reads (NEWSWATCH_ES_*).

NW_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
NW_VENV="${NW_VENV:-$NW_ROOT/.venv}"
NW_ES_STARTED=0
NW_ES_SCRIPT="$NW_ROOT/scripts/elasticsearch"

nw_log() { printf '%s: %s\n' "${NW_SCRIPT_NAME:-newswatch}" "$*" >&2; }

nw_in_ci() {
    case "${CI:-}" in 1 | true | TRUE | True | yes) return 0 ;; *) return 1 ;; esac
}

nw_venv() {
    local py="${PYTHON:-python3}"
    if ! command -v "$py" >/dev/null 2>&1; then
        nw_log "$py not found: install Python >= 3.11 (or set PYTHON)"
        return 1
    fi
    if ! "$py" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
        nw_log "$py is Python $("$py" -c 'import platform; print(platform.python_version())'); newswatch needs >= 3.11"
        return 1
    fi
    if [ ! -x "$NW_VENV/bin/python" ] || ! "$NW_VENV/bin/python" -c 'import sys' >/dev/null 2>&1; then
        nw_log "creating virtualenv $NW_VENV"
        rm -rf "$NW_VENV"
        "$py" -m venv "$NW_VENV" || { nw_log "python3 -m venv failed (on Debian/Ubuntu: apt-get install python3-venv)"; return 1; }
    fi
    local stamp="$NW_VENV/.newswatch-install-stamp" want have=""
    # What the install depends on: the dependency list, the C speed-ups' build and source, the interpreter.
    want="$(cat "$NW_ROOT/pyproject.toml" "$NW_ROOT/setup.py" "$NW_ROOT/ingest/_speedups.c" \
        <("$NW_VENV/bin/python" -VV) | sha256sum | cut -d' ' -f1)"
    [ -f "$stamp" ] && have="$(cat "$stamp")"
    if [ "$want" != "$have" ] || [ "${NW_FORCE_INSTALL:-0}" = 1 ]; then
        nw_log "installing newswatch and its test dependencies into $NW_VENV (pip install -e '.[test]')"
        local t0=$SECONDS
        if ! (cd "$NW_ROOT" && "$NW_VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e '.[test]'); then
            nw_log "pip install -e '.[test]' failed"
            rm -f "$stamp"
            return 1
        fi
        printf '%s\n' "$want" >"$stamp"
        nw_log "installed in $((SECONDS - t0))s"
    else
        nw_log "virtualenv $NW_VENV is up to date (pyproject.toml unchanged)"
    fi
    export VIRTUAL_ENV="$NW_VENV"
    export PATH="$NW_VENV/bin:$PATH"
}

nw_es_start() {
    # Was something already answering (ours from an earlier run, or NEWSWATCH_ELASTICSEARCH_URL)?
    if python3 "$NW_ES_SCRIPT" status >/dev/null 2>&1; then
        NW_ES_STARTED=0
    else
        NW_ES_STARTED=1
    fi
    local url
    if ! url="$(python3 "$NW_ES_SCRIPT" start)" || [ -z "$url" ]; then
        NW_ES_STARTED=0
        return 1
    fi
    export NEWSWATCH_ELASTICSEARCH_URL="$url"
    nw_log "Elasticsearch: $url$([ "$NW_ES_STARTED" = 1 ] && echo ' (started by this run)')"
}

nw_es_stop() {
    if [ "$NW_ES_STARTED" = 1 ]; then
        python3 "$NW_ES_SCRIPT" stop || true
        NW_ES_STARTED=0
    fi
}
