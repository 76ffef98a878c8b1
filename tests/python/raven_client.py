#!/usr/bin/env python3
"""Sends with the legacy `raven` client (raven-python 6.10, `/api/{id}/store/`, deflate,
`sentry_version=6`, numeric levels) synchronously: one exception and one warning message.
Prints the event ids as JSON.

usage: raven_client.py DSN
"""
import json
import sys

import raven
from raven.transport.http import HTTPTransport

client = raven.Client(
    dsn=sys.argv[1],
    transport=HTTPTransport,  # synchronous: the ids printed were acknowledged
    release="billing@0.3.0",
    environment="production",
    tags={"region": "eu-west-1"},
    install_sys_hook=False,
    install_logging_hook=False,
    enable_breadcrumbs=False,
    raise_send_errors=True,
)
client.user_context({"id": "u-77", "email": "bo@example.com"})


def ratio(a, b):
    return a / b


try:
    ratio(1, 0)
except ZeroDivisionError:
    exc_id = client.captureException()

msg_id = client.captureMessage("Nightly invoice job took 912 s", level="warning")
print(json.dumps({"exception": exc_id, "message": msg_id}))
