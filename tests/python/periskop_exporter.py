"""A service instrumented with the real periskop-client, for Panoptes' integration tests.

Serves its exporter on 127.0.0.1 (port from argv, 0 = any) at /-/exceptions and prints
`LISTENING <port>`. Commands on stdin, each acknowledged with `OK` on stdout:
  record <kind> <n>   raise and report n exceptions of kind zero|key|value
  hang                every later request hangs (never answers)
  garbage             every later request gets 200 with a body that is not JSON
  push <url> <n>      records n `zero` exceptions then push_to_gateway(url)
"""
import sys
import threading
import time
from http.server import ThreadingHTTPServer

from periskop_client.collector import ExceptionCollector
from periskop_client.exporter import ExceptionExporter
from periskop_client.handler import exception_http_handler
from periskop_client.models import HTTPContext

collector = ExceptionCollector()
exporter = ExceptionExporter(collector)
mode = {"value": "ok"}
Base = exception_http_handler(path="/-/exceptions", exporter=exporter)


class Handler(Base):
    def do_GET(self):
        if mode["value"] == "hang":
            time.sleep(3600)
            return
        if mode["value"] == "garbage":
            self.send_response(200)
            self.send_header("Content-type", "application/json")
            self.end_headers()
            self.wfile.write(b"<html>this is not the JSON you are looking for")
            return
        super().do_GET()

    def log_message(self, *args):
        pass


def zero():
    return 1 / 0


def key():
    return {}["missing"]


def value():
    return int("twelve")


def record(kind, n):
    for i in range(n):
        try:
            {"zero": zero, "key": key, "value": value}[kind]()
        except Exception as e:
            if kind == "key":
                collector.report_with_context(
                    e,
                    HTTPContext(
                        request_method="POST",
                        request_url="http://svc.internal/reserve/%d" % i,
                        request_headers={"Accept": "application/json"},
                        request_body='{"qty": 2}',
                    ),
                )
            else:
                collector.report(e)


server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1]) if len(sys.argv) > 1 else 0), Handler)
server.daemon_threads = True
threading.Thread(target=server.serve_forever, daemon=True).start()
print("LISTENING %d" % server.server_address[1], flush=True)

for line in sys.stdin:
    parts = line.split()
    if not parts:
        continue
    if parts[0] == "record":
        record(parts[1], int(parts[2]))
    elif parts[0] in ("hang", "garbage"):
        mode["value"] = parts[0]
    elif parts[0] == "push":
        record("zero", int(parts[2]))
        exporter.push_to_gateway(parts[1])
    print("OK", flush=True)
