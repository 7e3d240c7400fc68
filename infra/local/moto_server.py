"""Local AWS for the Millwright stack: moto's server, with one difference.

AWS applies a DynamoDB transaction atomically. moto applies it by snapshotting the tables and
restoring the snapshot when a condition fails, without a lock, so a failing transaction running
beside a succeeding one can undo the other's writes, and a stream reader could see the records
of a transaction that is then rolled back. Serialising DynamoDB and DynamoDB Streams calls gives
the local stack the atomicity AWS guarantees; every other service keeps moto's threaded server.
"""

import argparse
import signal
import sys
import threading

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import run_simple


def serialise_dynamodb(app):
    """Wraps a WSGI app so that DynamoDB and DynamoDB Streams requests run one at a time."""
    lock = threading.Lock()

    def wrapped(environ, start_response):
        # DynamoDB_20120810.* and DynamoDBStreams_20120810.*
        if environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB"):
            with lock:
                # Materialise the body inside the lock: the work happens while it is produced.
                return list(app(environ, start_response))
        return app(environ, start_response)

    return wrapped


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, default=4566)
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    app = DomainDispatcherApplication(create_backend_app)
    run_simple(
        args.host,
        args.port,
        serialise_dynamodb(app),
        threaded=True,
        request_handler=MotoRequestHandler,
    )


if __name__ == "__main__":
    main()
