#!/usr/bin/env python3
"""Sends with the official `sentry-sdk` to the DSN given: one exception (with user, tags, release,
environment and a breadcrumb) and one message, then flushes. Prints the event ids as JSON, with
what went over the wire: each request's `Content-Encoding` (null when none) and status.

The SDK quietly falls back to gzip when `br` is asked for and the `brotli` module is missing, so
the encoding is read from the requests the transport really sent, not from the option.

usage: sentry_sdk_client.py DSN gzip|br|none TAG
"""
import gzip
import json
import sys

import sentry_sdk

dsn, algo, tag = sys.argv[1], sys.argv[2], sys.argv[3]
sentry_sdk.init(
    dsn=dsn,
    release="shop@2.4.1",
    environment="production",
    traces_sample_rate=None,
    auto_session_tracking=False,
    # Only under _experiments in 2.x; any other value than gzip/br sends uncompressed.
    _experiments={"transport_compression_algo": algo},
)
# Every request the transport sends goes through its urllib3 pool: record what it sent.
sent = []
transport = sentry_sdk.get_client().transport
pool_request = transport._pool.request


def decodes(encoding, body):
    """Whether the body really is in the encoding its header names."""
    try:
        if encoding == "br":
            import brotli

            brotli.decompress(body)
        elif encoding == "gzip":
            gzip.decompress(body)
        return True
    except Exception:
        return False


def recording_request(method, url, body=None, headers=None, **kwargs):
    response = pool_request(method, url, body=body, headers=headers, **kwargs)
    encoding = (headers or {}).get("Content-Encoding")
    sent.append(
        {
            "content_encoding": encoding,
            "decodes": decodes(encoding, body or b""),
            "status": response.status,
        }
    )
    return response


transport._pool.request = recording_request

sentry_sdk.set_tag("run", tag)
sentry_sdk.set_user({"id": "u-" + algo, "email": algo + "@example.com"})
sentry_sdk.add_breadcrumb(category="checkout", message="cart loaded", level="info")


def price_per_unit(total, quantity):
    return total / quantity


def checkout(cart):
    return price_per_unit(cart["total"], cart["quantity"])


try:
    checkout({"total": 120, "quantity": 0})
except Exception:
    exc_id = sentry_sdk.capture_exception()

msg_id = sentry_sdk.capture_message("Payment provider timed out after 30 s for order 99812")
sentry_sdk.flush(10)
print(json.dumps({"exception": exc_id, "message": msg_id, "sent": sent}))
