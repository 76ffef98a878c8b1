#!/usr/bin/env python3
"""Start an Uptime Kuma 2.5.3 (a peer to benchmark against) with a populated public status page.

Run with the venv that scripts/kuma-setup.sh makes:

    .tools/kuma-venv/bin/python scripts/kuma-status-page.py --port 3001 --data-dir /tmp/kuma-data \
        --monitors 20 --target http://127.0.0.1:8000/ [--slug public]

It starts `node server/server.js` on 127.0.0.1:PORT with DATA-DIR (which must be empty or absent:
Kuma's setup runs only once per database), creates the admin user, adds N HTTP monitors (20 s
interval) probing TARGET, creates a status page SLUG publishing all of them in one group, waits
until every monitor has a heartbeat (--min-beats), prints one JSON line

    {"pid": ..., "page": "http://127.0.0.1:PORT/status/SLUG",
     "json": ["http://127.0.0.1:PORT/api/status-page/SLUG",
              "http://127.0.0.1:PORT/api/status-page/heartbeat/SLUG"]}

and exits, leaving Kuma running in its own session (output in DATA-DIR/kuma.log, pid in
DATA-DIR/kuma.pid). Stop it with `kill $(cat DATA-DIR/kuma.pid)`.

Note: Kuma serves /status/SLUG and both JSON routes through apicache (5 min / 1 min, cleared when a
monitor's status changes), so repeated GETs of the same URL are answered from memory. This script
polls with a cache-busting query string so that it leaves nothing cached for the plain URLs.
"""
import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

from uptime_kuma_api import MonitorType, UptimeKumaApi

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_KUMA = os.path.join(ROOT, ".tools", "uptime-kuma-2.5.3")
ADMIN_USER = "admin"
ADMIN_PASSWORD = "bench-Passw0rd-kuma"
INTERVAL = 20


def log(msg):
    print(f"[kuma-status-page] {msg}", file=sys.stderr, flush=True)


class KumaApi(UptimeKumaApi):
    """uptime-kuma-api(-ng) with one fix for Kuma 2.x: Kuma registers its socket handlers only
    after some awaits on connection and emits `loginRequired` once they are all in place; calls sent
    earlier get no answer. Wait for that event before the first call."""

    def connect(self):
        self.login_required = threading.Event()
        self.sio.on("loginRequired", lambda *a: self.login_required.set())
        super().connect()
        if not self.login_required.wait(self.timeout):
            raise RuntimeError("Kuma did not send loginRequired")


def port_open(port):
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def get_json(url):
    with urllib.request.urlopen(url, timeout=30) as r:
        return json.load(r)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--monitors", type=int, default=20)
    ap.add_argument("--target", required=True, help="HTTP URL the monitors probe")
    ap.add_argument("--slug", default="public")
    ap.add_argument("--kuma-dir", default=DEFAULT_KUMA)
    ap.add_argument("--min-beats", type=int, default=1,
                    help="wait until every monitor has this many heartbeats (the heartbeat JSON lists up to "
                         "100 per monitor, so it grows for ~33 min at 20 s before it reaches its steady size)")
    ap.add_argument("--timeout", type=float, default=180,
                    help="seconds to wait for the start, and for heartbeats beyond --min-beats x 20 s")
    args = ap.parse_args()

    data = os.path.abspath(args.data_dir)
    base = f"http://127.0.0.1:{args.port}"
    if not os.path.isfile(os.path.join(args.kuma_dir, "server", "server.js")):
        sys.exit(f"no Kuma at {args.kuma_dir}; run scripts/kuma-setup.sh")
    if not os.path.isfile(os.path.join(args.kuma_dir, "dist", "index.html")):
        sys.exit(f"Kuma's web UI is not built ({args.kuma_dir}/dist); run scripts/kuma-setup.sh")
    if os.path.isdir(data) and os.listdir(data):
        sys.exit(f"{data} is not empty (Kuma's setup runs once per database); give an empty or new directory")
    if port_open(args.port):
        sys.exit(f"port {args.port} is already in use")
    os.makedirs(data, exist_ok=True)

    # --- start Kuma, detached --------------------------------------------------------------------
    env = dict(os.environ, UPTIME_KUMA_DB_TYPE="sqlite", NODE_ENV="production")
    logf = open(os.path.join(data, "kuma.log"), "ab")
    cmd = ["node", "server/server.js", f"--port={args.port}", "--host=127.0.0.1", f"--data-dir={data}"]
    proc = subprocess.Popen(cmd, cwd=args.kuma_dir, env=env, stdin=subprocess.DEVNULL, stdout=logf,
                            stderr=subprocess.STDOUT, start_new_session=True)
    logf.close()
    with open(os.path.join(data, "kuma.pid"), "w") as f:
        f.write(f"{proc.pid}\n")
    log(f"started Kuma pid {proc.pid} on {base}, log {data}/kuma.log")

    ok = False
    try:
        deadline = time.time() + args.timeout
        while not port_open(args.port):
            if proc.poll() is not None:
                raise RuntimeError(f"Kuma exited with {proc.returncode}; see {data}/kuma.log")
            if time.time() > deadline:
                raise RuntimeError("Kuma did not start listening in time")
            time.sleep(0.3)

        # --- admin, monitors, status page --------------------------------------------------------
        with KumaApi(base, timeout=60, wait_events=0.05) as api:
            api.setup(ADMIN_USER, ADMIN_PASSWORD)
            api.login(ADMIN_USER, ADMIN_PASSWORD)
            ids = []
            t0 = time.time()
            for i in range(args.monitors):
                r = api.add_monitor(type=MonitorType.HTTP, name=f"service-{i + 1:04d}", url=args.target,
                                    interval=INTERVAL, retryInterval=INTERVAL, timeout=INTERVAL * 0.8,
                                    maxretries=0)
                ids.append(r["monitorID"])
            log(f"added {len(ids)} monitors in {time.time() - t0:.1f} s")
            api.add_status_page(args.slug, "Example Inc. status")
            api.save_status_page(
                args.slug,
                title="Example Inc. status",
                description="Current status of Example Inc. services.",
                publicGroupList=[{"name": "Services", "weight": 1, "monitorList": [{"id": i} for i in ids]}],
            )
            log(f"status page /status/{args.slug} publishes {len(ids)} monitors")

        # --- wait for a heartbeat of every monitor (cache-busted: apicache keys include the query) --
        hb_url = f"{base}/api/status-page/heartbeat/{args.slug}"
        want = {str(i) for i in ids}
        while True:
            hb = get_json(f"{hb_url}?wait={time.time_ns()}")["heartbeatList"]
            have = {k for k, v in hb.items() if len(v) >= args.min_beats}
            if want <= have:
                break
            if time.time() > deadline + args.timeout + args.min_beats * INTERVAL:
                raise RuntimeError(f"only {len(have & want)} of {len(want)} monitors have {args.min_beats} heartbeat(s)")
            if proc.poll() is not None:
                raise RuntimeError(f"Kuma exited with {proc.returncode}; see {data}/kuma.log")
            time.sleep(1)
        log(f"all {len(want)} monitors have {args.min_beats} heartbeat(s)")
        ok = True
    finally:
        if not ok and proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)

    print(json.dumps({
        "pid": proc.pid,
        "page": f"{base}/status/{args.slug}",
        "json": [f"{base}/api/status-page/{args.slug}", hb_url],
    }), flush=True)


if __name__ == "__main__":
    main()
