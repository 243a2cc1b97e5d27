"""moto_server with requests applied one at a time.

moto's in-memory backends are not thread safe: under concurrent requests a
conditional PutItem or an UpdateItem ADD can lose updates, which real
DynamoDB never does (per-item writes are atomic). Serialising requests behind
one lock gives the emulator the atomicity the adapters rely on, while
connections are still accepted and read on threads.

usage: python moto_serial_server.py HOST PORT
"""

import json
import os
import signal
import sys
import threading

from werkzeug.serving import run_simple
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)

host, port = sys.argv[1], int(sys.argv[2])
os.environ.setdefault("MOTO_PORT", str(port))
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
signal.signal(signal.SIGINT, lambda *_: sys.exit(0))

app = DomainDispatcherApplication(create_backend_app)
lock = threading.Lock()


def sent_mail():
    """The emails SES accepted, oldest first: what /moto-api/data.json lists
    as ses.Message, without dumping every table and key with them (that dump
    grows with each test's table and took most of an email check's time)."""
    from moto.ses.models import Message, ses_backends

    return [
        {"id": m.id, "source": m.source, "subject": m.subject, "body": m.body,
         "destinations": m.destinations}
        for regions in ses_backends.values()
        for backend in regions.values()
        for m in backend.sent_messages
        if isinstance(m, Message)
    ]


def serial(environ, start_response):
    # Liveness without the lock or a state dump: /moto-api/data.json grows
    # with every table and email, and a probe must stay cheap.
    if environ.get("PATH_INFO") == "/_health":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]
    if environ.get("PATH_INFO") == "/_emulator/ses/messages":
        with lock:
            body = json.dumps(sent_mail()).encode()
        start_response("200 OK", [("Content-Type", "application/json"),
                                  ("Content-Length", str(len(body)))])
        return [body]
    with lock:
        # Materialise the response inside the lock.
        return list(app(environ, start_response))


run_simple(host, port, serial, threaded=True, request_handler=MotoRequestHandler)
