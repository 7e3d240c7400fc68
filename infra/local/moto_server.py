"""Local AWS for the Millwright stack: moto's server, with one difference.

AWS applies a DynamoDB transaction atomically. moto applies it by snapshotting the tables and
restoring the snapshot when a condition fails, without a lock, so a failing transaction running
beside a succeeding one can undo the other's writes, and a stream reader could see the records
of a transaction that is then rolled back. Serialising DynamoDB and DynamoDB Streams calls gives
the local stack the atomicity AWS guarantees; every other service keeps moto's threaded server.
That snapshot is also a deep copy of every table the transaction names, items and stream records
included, so each transaction cost more the longer the stack ran (a second each, all DynamoDB
calls waiting behind it, after two rounds of the black-box tests). With the calls serialised,
keeping only what the transaction can change is enough: the items at its keys and how long each
stream was.

And AWS enforces IAM, which moto does not: with --template, every call a function makes is
checked against that function's policy (iam.py), and a call it would deny is answered with
AccessDeniedException and appended to the --denials file.
"""

import argparse
import copy
import io
import json
import os
import signal
import sys
import threading
import types

import iam
import moto.dynamodb.models as dynamodb
from moto.dynamodb.models.dynamo_type import DynamoType
from moto.dynamodb.models.table import Table
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


def snapshot_only_what_transactions_touch():
    """Makes moto's transactions keep, for their rollback, the items at their keys and the
    length of each stream they write to, instead of a deep copy of whole tables (safe only under
    serialise_dynamodb: nothing else writes while a transaction runs)."""
    deepcopy = copy.deepcopy
    # moto's backend copies a table only to snapshot it for a transaction's rollback: that copy
    # becomes the table itself, and the rollback below restores what changed.
    dynamodb.copy = types.SimpleNamespace(deepcopy=lambda o, memo=None: o if isinstance(o, Table) else deepcopy(o, memo))
    transact = dynamodb.DynamoDBBackend.transact_write_items

    def touched(backend, transact_items):
        """(table, hash key, range key) of each operation whose key can be read (moto itself
        answers for the others)."""
        ops = [op for entry in transact_items if isinstance(entry, dict) for op in entry.values() if isinstance(op, dict)]
        for op in ops:
            table = backend.tables.get(op.get("TableName"))
            key = op.get("Key") or op.get("Item") or {}
            if table is None or table.hash_key_attr not in key:
                continue
            if table.range_key_attr is None:
                yield table, DynamoType(key[table.hash_key_attr]), None
            elif table.range_key_attr in key:
                yield table, DynamoType(key[table.hash_key_attr]), DynamoType(key[table.range_key_attr])

    def transact_write_items(self, transact_items):
        before = [(t, h, r, deepcopy(t.get_item(h, r))) for t, h, r in touched(self, transact_items)]
        streams = {id(t): (t.stream_shard, len(t.stream_shard.items)) for t, *_ in before if t.stream_shard}
        try:
            return transact(self, transact_items)
        except Exception:
            for table, hash_key, range_key, item in reversed(before):
                place = table.items[hash_key] if range_key is not None else table.items
                slot = range_key if range_key is not None else hash_key
                if item is None:
                    place.pop(slot, None)
                else:
                    place[slot] = item
            for shard, length in streams.values():
                del shard.items[length:]
            raise

    dynamodb.DynamoDBBackend.transact_write_items = transact_write_items


def enforce_iam(app, checker, denials):
    """Wraps a WSGI app so that a function's call its policy would deny is refused, as on AWS."""
    lock = threading.Lock()

    def wrapped(environ, start_response):
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        headers = {k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")}
        method, path, query = environ["REQUEST_METHOD"], environ.get("PATH_INFO", ""), environ.get("QUERY_STRING", "")
        reason = checker.denial(method, path, query, headers, body)
        if reason is None:
            return app(environ, start_response)
        with lock, open(denials, "a", encoding="utf-8") as log:
            log.write(json.dumps({"denied": reason, "call": f"{method} {path}", "target": headers.get("x-amz-target")}) + "\n")
        print(f"IAM DENIED: {reason}", file=sys.stderr, flush=True)
        answer = json.dumps({"__type": "AccessDeniedException", "Message": f"User: {reason}"}).encode()
        status = "403 Forbidden" if "x-amz-target" not in headers else "400 Bad Request"
        start_response(
            status,
            [
                ("Content-Type", "application/x-amz-json-1.0"),
                ("x-amzn-ErrorType", "AccessDeniedException"),
                ("Content-Length", str(len(answer))),
            ],
        )
        return [answer]

    return wrapped


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, default=4566)
    parser.add_argument("--template", help="check the functions' calls against this SAM template's policies")
    parser.add_argument("--stack", default="millwright-local", help="the stack name the resources were provisioned under")
    parser.add_argument("--region", default="us-east-1")
    parser.add_argument("--denials", default=os.devnull, help="append each denied call here (JSON lines)")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    snapshot_only_what_transactions_touch()
    app = serialise_dynamodb(DomainDispatcherApplication(create_backend_app))
    if args.template:
        app = enforce_iam(app, iam.Checker(iam.load(args.template, args.stack, args.region)), args.denials)
    run_simple(
        args.host,
        args.port,
        app,
        threaded=True,
        request_handler=MotoRequestHandler,
    )


if __name__ == "__main__":
    main()
