#!/usr/bin/env bash
# simkyc behind nginx: N workers (`simkyc serve --workers N`) on PostgreSQL and Redis, one front door.
#
#   scripts/cluster.sh start    start the workers, wait until each is ready, then nginx in front
#   scripts/cluster.sh stop     stop nginx, then the workers (in-flight requests finish)
#   scripts/cluster.sh status   each worker's /readyz and the front door's /healthz
#
# Settings (environment; defaults in brackets):
#   SIMKYC_DATABASE_URL   PostgreSQL, e.g. postgresql+psycopg://simkyc@db.internal:5432/simkyc (required)
#   SIMKYC_REDIS_URL      e.g. redis://redis.internal:6379/0 (required)
#   SIMKYC_HOME           keys, each worker's index, logs and pid files [./var/cluster]
#   SIMKYC_WORKERS        worker processes on this host [2]
#   SIMKYC_PROXY_LISTEN   nginx's address [127.0.0.1:8080]
#   SIMKYC_WORKER_PORT    first worker's port; worker i listens on PORT+i [8081]
#   SIMKYC_BIND           the workers' address [127.0.0.1]
#   SIMKYC_PROXY_PROCESSES nginx worker processes [1]
# Every other SIMKYC_* setting (keys, policy, limits) is passed on to the workers unchanged. Several
# hosts: run this script on each with the same database, Redis and key ring (SIMKYC_KEYS or the
# same keys.json), and put them behind the site's load balancer. See deploy/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export SIMKYC_HOME=${SIMKYC_HOME:-$ROOT/var/cluster}
WORKERS=${SIMKYC_WORKERS:-2}
LISTEN=${SIMKYC_PROXY_LISTEN:-127.0.0.1:8080}
PORT=${SIMKYC_WORKER_PORT:-8081}
BIND=${SIMKYC_BIND:-127.0.0.1}
RUN=$SIMKYC_HOME/run
LOG=$SIMKYC_HOME/log
SIMKYC=${SIMKYC_BIN:-$ROOT/.venv/bin/simkyc}
PY=$ROOT/.venv/bin/python; [ -x "$PY" ] || PY=python3
NGINX=${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}

die() { echo "cluster: $*" >&2; exit 2; }
alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }
http_ok() { "$PY" - "$1" <<'PY'
import sys, urllib.request
try:
    with urllib.request.urlopen(sys.argv[1], timeout=2) as r:
        sys.exit(0 if r.status == 200 else 1)
except Exception:
    sys.exit(1)
PY
}

render_nginx() {
  local servers="" i user=""
  for ((i = 0; i < WORKERS; i++)); do
    servers+="        server $BIND:$((PORT + i)) max_fails=1 fail_timeout=3s;"$'\n'
  done
  if [ "$(id -u)" = 0 ]; then user="user nobody nogroup;"; fi
  mkdir -p "$RUN"/{client_body,proxy,fastcgi,uwsgi,scgi}
  [ -z "$user" ] || chown nobody:nogroup "$RUN"/{client_body,proxy,fastcgi,uwsgi,scgi}
  "$PY" - "$ROOT/deploy/nginx.conf.template" "$RUN/nginx.conf" "$LISTEN" "$RUN" \
    "${SIMKYC_PROXY_PROCESSES:-1}" "$user" "$servers" <<'PY'
import sys
src, dst, listen, run, procs, user, servers = sys.argv[1:]
text = open(src).read()
for k, v in {"@PROXY_LISTEN@": listen, "@RUN@": run, "@PROCESSES@": procs, "@USER@": user,
             "@SERVERS@": servers.rstrip("\n")}.items():
    text = text.replace(k, v)
open(dst, "w").write(text)
PY
}

start() {
  [ -n "${SIMKYC_DATABASE_URL:-}" ] || die "set SIMKYC_DATABASE_URL (PostgreSQL)"
  [ -n "${SIMKYC_REDIS_URL:-}" ] || die "set SIMKYC_REDIS_URL"
  [ -x "$NGINX" ] || die "nginx not found: apt-get install nginx"
  [ -x "$SIMKYC" ] || die "$SIMKYC not found: run scripts/install.sh"
  alive "$RUN/simkyc.pid" && die "already running (pid $(cat "$RUN/simkyc.pid")); stop it first"
  mkdir -p "$RUN" "$LOG"
  # The supervisor does the once-only setup (keys, migrations, demo accounts), then starts the workers.
  nohup "$SIMKYC" serve --workers "$WORKERS" --host "$BIND" --port "$PORT" >>"$LOG/simkyc.log" 2>&1 &
  echo $! >"$RUN/simkyc.pid"
  local i deadline=$((SECONDS + ${SIMKYC_START_TIMEOUT:-180}))
  for ((i = 0; i < WORKERS; i++)); do
    until http_ok "http://$BIND:$((PORT + i))/readyz"; do
      alive "$RUN/simkyc.pid" || { tail -n 20 "$LOG/simkyc.log" >&2; die "the workers exited"; }
      [ $SECONDS -lt $deadline ] || { stop; die "worker $i not ready in time (see $LOG/simkyc.log)"; }
      sleep 0.5
    done
  done
  render_nginx
  "$NGINX" -t -q -c "$RUN/nginx.conf" -e "$RUN/nginx-error.log" || { stop; die "nginx refused $RUN/nginx.conf"; }
  "$NGINX" -c "$RUN/nginx.conf" -e "$RUN/nginx-error.log"
  until http_ok "http://$LISTEN/healthz"; do
    [ $SECONDS -lt $deadline ] || { stop; die "nginx does not answer on $LISTEN"; }
    sleep 0.2
  done
  echo "simkyc: $WORKERS workers on $BIND:$PORT..$((PORT + WORKERS - 1)), nginx on http://$LISTEN/"
  echo "logs: $LOG/simkyc.log (first start: the demo accounts' one-time passwords are there)"
}

stop() {
  if alive "$RUN/nginx.pid"; then
    "$NGINX" -c "$RUN/nginx.conf" -e "$RUN/nginx-error.log" -s quit || true
    local n=0
    while alive "$RUN/nginx.pid" && [ $n -lt 50 ]; do sleep 0.2; n=$((n + 1)); done
  fi
  if alive "$RUN/simkyc.pid"; then
    local pid n=0
    pid=$(cat "$RUN/simkyc.pid")
    kill -TERM "$pid"
    while kill -0 "$pid" 2>/dev/null && [ $n -lt 150 ]; do sleep 0.2; n=$((n + 1)); done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" || true
  fi
  rm -f "$RUN/simkyc.pid"
  echo "simkyc: stopped"
}

status() {
  local i code=0
  for ((i = 0; i < WORKERS; i++)); do
    if http_ok "http://$BIND:$((PORT + i))/readyz"; then echo "worker $i ($BIND:$((PORT + i))): ready"
    else echo "worker $i ($BIND:$((PORT + i))): NOT READY"; code=1; fi
  done
  if http_ok "http://$LISTEN/healthz"; then echo "nginx ($LISTEN): up"; else echo "nginx ($LISTEN): DOWN"; code=1; fi
  return $code
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
