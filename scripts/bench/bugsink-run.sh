#!/usr/bin/env bash
# Start a throw-away Bugsink (pip package "bugsink") on 127.0.0.1:PORT with SQLite in DATA, non-interactively.
#
#   bugsink-run.sh PORT DATA        set up from scratch (DATA is wiped if it holds an earlier run), start in the
#                                   background, wait until it answers, print DSN_KEY=... PROJECT_ID=... DSN=...
#   bugsink-run.sh stop DATA        stop what an earlier start left running (by the pids it recorded)
#   bugsink-run.sh count DATA       print "EVENTS=n ISSUES=n BACKLOG=n" (BACKLOG = snappea tasks not yet run)
#
# Environment:
#   BUGSINK_VENV     venv with `pip install bugsink` done          (default /tmp/bugsink-venv)
#   BUGSINK_MODE     async: gunicorn answers after writing the event to DATA/ingestion + a snappea task row; a
#                           separate `bugsink-runsnappea` process digests it (Bugsink's production single-server setup)
#                    eager: SNAPPEA TASK_ALWAYS_EAGER=True, the digest runs inside the request (the "local" template);
#                           a 200 then means the event is stored               (default async)
#   GUNICORN_WORKERS sync workers (default: nproc, at most 4, as Bugsink's own docker gunicorn conf)
#   SNAPPEA_WORKERS  digest threads in the snappea process (default 4, Bugsink's default)
set -euo pipefail

SELF=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")
VENV=${BUGSINK_VENV:-/tmp/bugsink-venv}
BIN=$VENV/bin

if [ "${1:-}" = stop ]; then
  D=${2:?usage: $0 stop DATA}
  for f in "$D"/snappea.pid "$D"/gunicorn.pid; do
    [ -f "$f" ] || continue
    pid=$(cat "$f")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$f"
  done
  exit 0
fi

if [ "${1:-}" = count ]; then
  D=${2:?usage: $0 count DATA}
  cd "$D"
  "$BIN/bugsink-manage" shell -c "
from events.models import Event; from issues.models import Issue; from snappea.models import Task
print('EVENTS=%d ISSUES=%d BACKLOG=%d' % (Event.objects.count(), Issue.objects.count(), Task.objects.count()))" 2>/dev/null | tail -n 1
  exit 0
fi

PORT=${1:?usage: $0 PORT DATA}
case "$PORT" in *[!0-9]*) echo "usage: $0 PORT DATA | stop DATA | count DATA" >&2; exit 2 ;; esac
D=${2:?usage: $0 PORT DATA}
MODE=${BUGSINK_MODE:-async}
NPROC=$(nproc)
WORKERS=${GUNICORN_WORKERS:-$(( NPROC < 4 ? NPROC : 4 ))}
SNAPPEA_WORKERS=${SNAPPEA_WORKERS:-4}
case "$MODE" in async) EAGER=False ;; eager) EAGER=True ;; *) echo "BUGSINK_MODE must be async or eager" >&2; exit 2 ;; esac
[ -x "$BIN/bugsink-manage" ] || { echo "no bugsink in $VENV (python3 -m venv $VENV && $BIN/pip install bugsink)" >&2; exit 2; }

if curl -s -o /dev/null "http://127.0.0.1:$PORT/"; then echo "port $PORT is already in use" >&2; exit 1; fi

# from scratch: refuse to wipe a directory that is not ours
if [ -e "$D" ] && [ -n "$(ls -A "$D" 2>/dev/null)" ]; then
  [ -f "$D/bugsink_conf.py" ] || { echo "$D is not empty and not an earlier Bugsink DATA dir" >&2; exit 1; }
  "$SELF" stop "$D"
  rm -rf "$D"
fi
mkdir -p "$D"
D=$(cd "$D" && pwd)
cd "$D"

# 1. config: Bugsink's own single-server template (SQLite files, ingest store and snappea dirs under DATA) ...
"$BIN/bugsink-create-conf" --template=singleserver --host="127.0.0.1:$PORT" --base-dir="$D" \
  --output-file="$D/bugsink_conf.py" >/dev/null
# ... adjusted for plain HTTP on loopback and for load testing
cat >> "$D/bugsink_conf.py" <<EOF

# ---- bugsink-run.sh overrides (benchmark) ----
SECURE_PROXY_SSL_HEADER = None      # no TLS proxy in front
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
ALLOWED_HOSTS = ["*"]
BUGSINK["BASE_URL"] = "http://127.0.0.1:$PORT"   # used to build the DSN
BUGSINK["PHONEHOME"] = False        # no outside network here
# default quota are 1000 events/5 min and 5000/hour per project and per installation, answered with 429:
for _k in ("MAX_EVENTS_PER_PROJECT_PER_5_MINUTES", "MAX_EVENTS_PER_PROJECT_PER_HOUR", "MAX_EVENTS_PER_PROJECT_PER_MONTH",
           "MAX_EVENTS_PER_5_MINUTES", "MAX_EVENTS_PER_HOUR", "MAX_EVENTS_PER_MONTH"):
    BUGSINK[_k] = 10**12
SNAPPEA["TASK_ALWAYS_EAGER"] = $EAGER
SNAPPEA["NUM_WORKERS"] = $SNAPPEA_WORKERS
EOF

# 2. databases, admin user, team, project
"$BIN/bugsink-manage" migrate -v0 --noinput
"$BIN/bugsink-manage" migrate snappea --database=snappea -v0 --noinput
DJANGO_SUPERUSER_PASSWORD=admin "$BIN/bugsink-manage" createsuperuser --noinput \
  --username admin --email admin@example.org >/dev/null
"$BIN/bugsink-manage" shell -c "
from teams.models import Team, TeamMembership, TeamRole
from projects.models import Project, ProjectMembership, ProjectRole
from users.models import User
u = User.objects.get(username='admin')
t, _ = Team.objects.get_or_create(name='bench')
TeamMembership.objects.get_or_create(team=t, user=u, defaults=dict(role=TeamRole.ADMIN, accepted=True))
p, _ = Project.objects.get_or_create(name='bench', defaults=dict(team=t))
ProjectMembership.objects.get_or_create(project=p, user=u, defaults=dict(role=ProjectRole.ADMIN, accepted=True))
open('dsn.env', 'w').write('DSN_KEY=%s PROJECT_ID=%s\nDSN=%s\n' % (p.sentry_key.hex, p.id, p.dsn))
" >/dev/null 2>&1

# 3. servers in the background (own session, so a stop signal reaches only them)
setsid "$BIN/gunicorn" --bind="127.0.0.1:$PORT" --workers="$WORKERS" --no-control-socket \
  --pid "$D/gunicorn.pid" --error-logfile "$D/gunicorn.log" bugsink.wsgi >"$D/gunicorn.out" 2>&1 < /dev/null &
if [ "$MODE" = async ]; then
  setsid "$BIN/bugsink-runsnappea" >"$D/snappea.log" 2>&1 < /dev/null &
  echo $! > "$D/snappea.pid"
fi

# 4. wait until it answers
for _ in $(seq 150); do
  code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/health/ready" || true)
  [ "$code" = 200 ] && break
  sleep 0.2
done
[ "$code" = 200 ] || { echo "Bugsink did not answer on port $PORT; see $D/gunicorn.log" >&2; tail -n 20 "$D/gunicorn.log" >&2; exit 1; }
cat "$D/dsn.env"
echo "MODE=$MODE GUNICORN_WORKERS=$WORKERS SNAPPEA_WORKERS=$SNAPPEA_WORKERS DATA=$D"
