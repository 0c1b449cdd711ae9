#!/usr/bin/env bash
# CI: a real Unleash server for the flag tests. Source it (`. .ci/unleash.sh`): it installs
# unleash-server from npm into a cache folder outside the workspace (reused when present), gives
# it its own database on the local PostgreSQL, starts it on loopback in the background, waits for
# it to be healthy and exports UNLEASH_TEST_URL / UNLEASH_TEST_API_TOKEN / UNLEASH_TEST_ADMIN_TOKEN.
#
# unleash-server 8 declares node >= 22 but runs on Node 20; --engine-strict is off on purpose.
set -euo pipefail

UNLEASH_VERSION="${UNLEASH_VERSION:-8.2.0}"
UNLEASH_CACHE="${UNLEASH_CACHE:-/var/cache/settle-ci/unleash-server-${UNLEASH_VERSION}}"
UNLEASH_PORT="${UNLEASH_PORT:-4242}"
UNLEASH_DB="${UNLEASH_DB:-unleash_ci}"
UNLEASH_LOG="${UNLEASH_LOG:-${UNLEASH_CACHE}/unleash.log}"
# Fixed CI-only tokens, in Unleash's `project:environment.secret` format.
UNLEASH_ADMIN_TOKEN_CI='*:*.settle-ci-unleash-admin-token'
UNLEASH_CLIENT_TOKEN_CI='default:development.settle-ci-unleash-client-token'
UNLEASH_BASE="http://127.0.0.1:${UNLEASH_PORT}"

unleash_healthy() { curl -fsS -m 2 "${UNLEASH_BASE}/health" >/dev/null 2>&1; }

if ! unleash_healthy; then
  if [ ! -f "${UNLEASH_CACHE}/node_modules/unleash-server/dist/server.js" ]; then
    echo "unleash: installing unleash-server@${UNLEASH_VERSION} into ${UNLEASH_CACHE}"
    mkdir -p "${UNLEASH_CACHE}"
    [ -f "${UNLEASH_CACHE}/package.json" ] || echo '{"name":"settle-ci-unleash","private":true}' >"${UNLEASH_CACHE}/package.json"
    (cd "${UNLEASH_CACHE}" && npm install --no-audit --no-fund --loglevel=error --engine-strict=false "unleash-server@${UNLEASH_VERSION}")
  fi

  if ! psql -h 127.0.0.1 -U postgres -tAc "select 1 from pg_database where datname = '${UNLEASH_DB}'" | grep -q 1; then
    psql -h 127.0.0.1 -U postgres -qc "create database ${UNLEASH_DB}"
  fi

  echo "unleash: starting on ${UNLEASH_BASE} (log: ${UNLEASH_LOG})"
  (
    cd "${UNLEASH_CACHE}"
    TZ=UTC \
    HTTP_HOST=127.0.0.1 \
    HTTP_PORT="${UNLEASH_PORT}" \
    DATABASE_URL="postgres://postgres@127.0.0.1:5432/${UNLEASH_DB}" \
    DATABASE_SSL=false \
    INIT_ADMIN_API_TOKENS="${UNLEASH_ADMIN_TOKEN_CI}" \
    INIT_BACKEND_API_TOKENS="${UNLEASH_CLIENT_TOKEN_CI}" \
    CHECK_VERSION=false \
    SEND_TELEMETRY=false \
    LOG_LEVEL=warn \
    nohup node node_modules/unleash-server/dist/server.js </dev/null >"${UNLEASH_LOG}" 2>&1 &
    echo $! >"${UNLEASH_CACHE}/unleash.pid"
  )
  for _ in $(seq 1 120); do
    unleash_healthy && break
    if ! kill -0 "$(cat "${UNLEASH_CACHE}/unleash.pid")" 2>/dev/null; then
      echo "unleash: the server exited; its log:" >&2
      tail -n 50 "${UNLEASH_LOG}" >&2
      exit 1
    fi
    sleep 1
  done
  if ! unleash_healthy; then
    echo "unleash: not healthy after 120 s; its log:" >&2
    tail -n 50 "${UNLEASH_LOG}" >&2
    exit 1
  fi
fi

# The tokens are created on first start only; prove the client token works before the tests rely on it.
curl -fsS -m 5 -H "Authorization: ${UNLEASH_CLIENT_TOKEN_CI}" "${UNLEASH_BASE}/api/client/features" >/dev/null
echo "unleash: ready at ${UNLEASH_BASE}"

export UNLEASH_TEST_URL="${UNLEASH_BASE}/api/"
export UNLEASH_TEST_API_TOKEN="${UNLEASH_CLIENT_TOKEN_CI}"
export UNLEASH_TEST_ADMIN_TOKEN="${UNLEASH_ADMIN_TOKEN_CI}"
