#!/usr/bin/env python3
"""Uptime Kuma 2.5.3 probing N HTTP monitors, measured the way `cargo bench --bench kuma` measures
Panoptes (the bench runs this script for Kuma's rows). Run with the venv of scripts/kuma-setup.sh:

    .tools/kuma-venv/bin/python scripts/kuma-probes.py --port 3001 --data-dir /tmp/kuma-probes \
        --monitors 1000 --url 'http://127.0.0.1:8001/health/{i}' [--url ...] --window 120

Steps:
1. start Kuma on an empty DATA-DIR, create the admin, add one HTTP monitor through its Socket.IO
   API (interval 20 s, no retries), stop Kuma;
2. copy that monitor's row in SQLite to N monitors (names m00000.., URLs from the --url templates in
   turn, `{i}` replaced by the monitor's number): adding N through Socket.IO takes ~1.4 s each;
3. start Kuma again (a restart with N monitors) and time until every monitor has a heartbeat:
   Kuma starts its monitors one by one with 0.3-1 s between them (server.js startMonitors);
4. wait --warm seconds, then over --window seconds read the node process's CPU (utime + stime from
   /proc/PID/stat), the heartbeats written (rows of `heartbeat`) and RSS (VmRSS, VmHWM);
5. the bytes a heartbeat costs: pages of the `heartbeat` table and its indexes (SQLite's dbstat)
   over its rows, and the data file's growth (kuma.db + WAL) over the heartbeats of the window;
6. the dashboard's list: a new Socket.IO client logging in and receiving `monitorList` (what the
   dashboard waits for before it shows monitors), --list-rounds times;
and prints one JSON line with the figures. Kuma is stopped at the end.
"""
import argparse
import json
import os
import re
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import threading
import time

from uptime_kuma_api import MonitorType, UptimeKumaApi
from uptime_kuma_api.exceptions import Timeout

# How long the Socket.IO client waits for any answer from Kuma.
API_TIMEOUT_S = 600

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_KUMA = os.path.join(ROOT, ".tools", "uptime-kuma-2.5.3")
ADMIN_USER = "admin"
ADMIN_PASSWORD = "bench-Passw0rd-kuma"
TICKS = os.sysconf("SC_CLK_TCK")


def log(msg):
    print(f"[kuma-probes] {msg}", file=sys.stderr, flush=True)


class KumaApi(UptimeKumaApi):
    """Waits for `loginRequired` before the first call: Kuma 2.x registers its handlers only
    after some awaits on connection, and calls sent earlier get no answer."""

    def connect(self):
        self.login_required = threading.Event()
        self.sio.on("loginRequired", lambda *a: self.login_required.set())
        super().connect()
        if not self.login_required.wait(self.timeout):
            raise RuntimeError("Kuma did not send loginRequired")


# Kuma's main server announces itself as "[SERVER] INFO: Listening on: ..." (colours removed).
# On a start that migrates the database, a temporary "[MIGRATION]" server listens on the same
# port first and closes again: a client that connected to that one was refused moments later.
SERVER_LISTENING = re.compile(r"\[SERVER\]\s*INFO:\s*Listening on")
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def server_listening(logpath, offset):
    """Whether Kuma's log, from `offset` (this start's first byte), says the main server listens."""
    try:
        with open(logpath, "rb") as f:
            f.seek(offset)
            text = ANSI.sub("", f.read().decode("utf-8", "replace"))
    except OSError:
        return False
    return SERVER_LISTENING.search(text) is not None


def port_open(port):
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        rest = f.read().rsplit(")", 1)[1].split()
    return (int(rest[11]) + int(rest[12])) / TICKS


def rss_mib(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return 0.0


class Kuma:
    def __init__(self, kuma_dir, port, data):
        self.kuma_dir, self.port, self.data = kuma_dir, port, data
        self.proc = None

    def start(self, timeout=120):
        env = dict(os.environ, UPTIME_KUMA_DB_TYPE="sqlite", NODE_ENV="production")
        logpath = os.path.join(self.data, "kuma.log")
        offset = os.path.getsize(logpath) if os.path.exists(logpath) else 0
        logf = open(logpath, "ab")
        cmd = ["node", "server/server.js", f"--port={self.port}", "--host=127.0.0.1", f"--data-dir={self.data}"]
        self.proc = subprocess.Popen(cmd, cwd=self.kuma_dir, env=env, stdin=subprocess.DEVNULL, stdout=logf,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        logf.close()
        deadline = time.time() + timeout
        while not (server_listening(logpath, offset) and port_open(self.port)):
            if self.proc.poll() is not None:
                raise RuntimeError(f"Kuma exited with {self.proc.returncode}; see {self.data}/kuma.log")
            if time.time() > deadline:
                raise RuntimeError("Kuma did not start listening in time")
            time.sleep(0.2)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()

    def api(self):
        return KumaApi(f"http://127.0.0.1:{self.port}", timeout=API_TIMEOUT_S, wait_events=0)


def db(path):
    c = sqlite3.connect(path, timeout=30)
    c.execute("PRAGMA busy_timeout = 30000")
    return c


def query(path, sql, default=0):
    """One value, retried while Kuma holds a write lock."""
    for _ in range(50):
        try:
            with db(path) as c:
                row = c.execute(sql).fetchone()
                return row[0] if row and row[0] is not None else default
        except sqlite3.OperationalError as e:
            last = e
            time.sleep(0.1)
    raise last


def clone_monitors(path, n, urls):
    with db(path) as c:
        cols = [r[1] for r in c.execute("PRAGMA table_info(monitor)") if r[1] != "id"]
        first = c.execute("SELECT MIN(id) FROM monitor").fetchone()[0]
        row = dict(zip(cols, c.execute(f"SELECT {', '.join(cols)} FROM monitor WHERE id = ?", (first,)).fetchone()))
        c.execute("DELETE FROM monitor")
        c.execute("DELETE FROM heartbeat")
        marks = ", ".join("?" for _ in cols)
        rows = []
        for i in range(n):
            row["name"] = f"m{i:05d}"
            row["url"] = urls[i % len(urls)].replace("{i}", str(i))
            rows.append([row[k] for k in cols])
        c.executemany(f"INSERT INTO monitor ({', '.join(cols)}) VALUES ({marks})", rows)
        c.commit()
        c.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def file_bytes(data):
    return sum(os.path.getsize(os.path.join(data, f)) for f in ("kuma.db", "kuma.db-wal")
               if os.path.exists(os.path.join(data, f)))


def heartbeat_bytes(path):
    """Pages of the heartbeat table and its indexes, and its rows."""
    with db(path) as c:
        names = [r[0] for r in c.execute(
            "SELECT name FROM sqlite_master WHERE tbl_name = 'heartbeat' AND type IN ('table', 'index')")]
        marks = ", ".join("?" for _ in names)
        pages = c.execute(f"SELECT SUM(pgsize) FROM dbstat WHERE name IN ({marks})", names).fetchone()[0] or 0
        rows = c.execute("SELECT COUNT(*) FROM heartbeat").fetchone()[0]
    return pages, rows


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--monitors", type=int, required=True)
    ap.add_argument("--url", action="append", required=True, help="URL template, {i} = monitor number")
    ap.add_argument("--interval", type=int, default=20)
    ap.add_argument("--warm", type=float, default=30)
    ap.add_argument("--window", type=float, default=120)
    ap.add_argument("--list-rounds", type=int, default=3)
    ap.add_argument("--kuma-dir", default=DEFAULT_KUMA)
    args = ap.parse_args()

    data = os.path.abspath(args.data_dir)
    if not os.path.isfile(os.path.join(args.kuma_dir, "server", "server.js")):
        sys.exit(f"no Kuma at {args.kuma_dir}; run scripts/kuma-setup.sh")
    if os.path.isdir(data) and os.listdir(data):
        sys.exit(f"{data} is not empty (Kuma's setup runs once per database)")
    if port_open(args.port):
        sys.exit(f"port {args.port} is already in use")
    os.makedirs(data, exist_ok=True)
    dbfile = os.path.join(data, "kuma.db")
    kuma = Kuma(args.kuma_dir, args.port, data)
    out = {"monitors": args.monitors, "interval_s": args.interval}
    try:
        # 1. one monitor through the API
        kuma.start()
        with kuma.api() as api:
            api.setup(ADMIN_USER, ADMIN_PASSWORD)
            api.login(ADMIN_USER, ADMIN_PASSWORD)
            api.add_monitor(type=MonitorType.HTTP, name="m00000", url=args.url[0].replace("{i}", "0"),
                            interval=args.interval, retryInterval=args.interval,
                            timeout=args.interval * 0.8, maxretries=0)
        kuma.stop()
        # 2. N copies
        clone_monitors(dbfile, args.monitors, args.url)
        log(f"{args.monitors} monitors in {dbfile}")
        # 3. restart, until every monitor has a heartbeat
        t0 = time.time()
        kuma.start()
        pid = kuma.proc.pid
        deadline = t0 + args.monitors * 1.2 + 300
        while True:
            have = query(dbfile, "SELECT COUNT(DISTINCT monitor_id) FROM heartbeat")
            if have >= args.monitors:
                break
            if time.time() > deadline:
                raise RuntimeError(f"only {have} of {args.monitors} monitors have a heartbeat")
            if kuma.proc.poll() is not None:
                raise RuntimeError(f"Kuma exited; see {data}/kuma.log")
            time.sleep(2)
        out["start_to_all_checked_s"] = round(time.time() - t0, 1)
        log(f"all {args.monitors} monitors checked {out['start_to_all_checked_s']} s after the start")
        # 4. steady state
        time.sleep(args.warm)
        beats0 = query(dbfile, "SELECT COUNT(*) FROM heartbeat")
        bytes0 = file_bytes(data)
        cpu0, w0 = cpu_seconds(pid), time.time()
        time.sleep(args.window)
        cpu1, w1 = cpu_seconds(pid), time.time()
        beats1 = query(dbfile, "SELECT COUNT(*) FROM heartbeat")
        bytes1 = file_bytes(data)
        down = query(dbfile, "SELECT COUNT(*) FROM heartbeat WHERE status != 1")
        checks = beats1 - beats0
        out.update({
            "window_s": round(w1 - w0, 1),
            "checks": checks,
            "checks_per_s": round(checks / (w1 - w0), 1),
            "not_up_heartbeats": down,
            "cpu_s": round(cpu1 - cpu0, 2),
            "cpu_ms_per_check": round((cpu1 - cpu0) * 1000 / max(checks, 1), 3),
            "rss_mib": round(rss_mib(pid, "VmRSS"), 1),
            "peak_rss_mib": round(rss_mib(pid, "VmHWM"), 1),
            "file_growth_bytes_per_check": round((bytes1 - bytes0) / max(checks, 1), 1),
        })
        # 5. bytes per stored heartbeat (table + indexes)
        pages, rows = heartbeat_bytes(dbfile)
        out["heartbeat_rows"] = rows
        out["bytes_per_result"] = round(pages / max(rows, 1), 1)
        # 6. the dashboard's list. At 2,000 monitors Kuma has failed to answer a login within
        # the client's 600 s; that is recorded (the figures above stand) rather than losing the row.
        times = []
        try:
            for _ in range(args.list_rounds):
                t = time.time()
                with kuma.api() as api:
                    api.login(ADMIN_USER, ADMIN_PASSWORD)
                    n = len(api.get_monitors())
                times.append((time.time() - t) * 1000)
                if n != args.monitors:
                    raise RuntimeError(f"monitorList has {n} monitors, not {args.monitors}")
            out["list_ms_p50"] = round(statistics.median(times), 1)
            out["list_ms_all"] = [round(t, 1) for t in times]
        except Timeout as e:
            log(f"the list timed out: {e}")
            out["list_timed_out_s"] = API_TIMEOUT_S
    finally:
        kuma.stop()
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
