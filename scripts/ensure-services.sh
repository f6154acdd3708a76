#!/usr/bin/env bash
# Make sure the PostgreSQL and Redis the tests use are running on 127.0.0.1 (start or install).
set -euo pipefail
PG_PORT=5432
REDIS_PORT=6379
sudo=""
[ "$(id -u)" -ne 0 ] && sudo -n true 2>/dev/null && sudo="sudo"

can_install() { command -v apt-get >/dev/null && { [ "$(id -u)" -eq 0 ] || [ -n "$sudo" ]; }; }

pg_up() { pg_isready -q -h 127.0.0.1 -p "$PG_PORT" 2>/dev/null; }
if ! command -v pg_isready >/dev/null && can_install; then
  echo "installing PostgreSQL"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq postgresql >/dev/null
  # A throwaway test server on loopback: let local connections in without a password.
  for hba in /etc/postgresql/*/main/pg_hba.conf; do
    echo "host all all 127.0.0.1/32 trust" | $sudo tee "$hba.new" >/dev/null
    $sudo sh -c "cat '$hba' >> '$hba.new' && mv '$hba.new' '$hba'"
  done
  pg_up && $sudo pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -1)" main reload
fi
if ! pg_up; then
  echo "starting PostgreSQL"
  $sudo pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -1)" main start
  for _ in $(seq 30); do pg_up && break; sleep 1; done
fi
pg_up || { echo "PostgreSQL is not answering on 127.0.0.1:$PG_PORT" >&2; exit 1; }

redis_up() { redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG; }
if ! command -v redis-server >/dev/null && can_install; then
  echo "installing Redis"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq redis-server >/dev/null
fi
if ! redis_up; then
  echo "starting Redis"
  redis-server --daemonize yes --bind 127.0.0.1 --port "$REDIS_PORT" --save "" --appendonly no
  for _ in $(seq 30); do redis_up && break; sleep 0.2; done
fi
redis_up || { echo "Redis is not answering on 127.0.0.1:$REDIS_PORT" >&2; exit 1; }
echo "PostgreSQL and Redis are up"
