"""Webhook receivers for the black-box tests and the benchmark.

Each POST /hooks/{name} plays a receiver whose behaviour is the name's prefix:
  ok-…      answers 200;
  flaky-…   fails half of its requests: per webhook-id, the 1st, 3rd, … answer 500, the others 200;
  slow-…    sleeps 15 s on the first request of each webhook-id (the sender times out at 10 s),
            then answers later ones at once;
  sleepy-…  sleeps 10 s on every request, then answers 200;
  gone-…    answers 410 Gone;
  any other name answers 404.
Every request is recorded at arrival and verified with the official Standard Webhooks library
(PyPI `standardwebhooks`) against each secret given by PUT /secrets/{name} ({"label": "whsec_…"}).
GET /log/{name} answers the records in arrival order (a record's status is null until it is
answered); GET /health answers 200.

    .venv/bin/python3 tests/receiver.py --port PORT   (127.0.0.1; 0 picks a free port)

prints `RECEIVER READY port=<n>` once it listens.
"""

import argparse
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook

NAME = re.compile(r"^/(hooks|secrets|log)/([A-Za-z0-9_-]+)$")

lock = threading.Lock()
logs = {}  # name -> [record]
secrets = {}  # name -> {label: secret}
seen = {}  # (name, webhook-id) -> requests so far


def verify(name, body, headers):
    """Each label's verdict on a delivery."""
    with lock:
        labelled = dict(secrets.get(name, {}))
    verdicts = {}
    for label, secret in labelled.items():
        try:
            Webhook(secret).verify(body, headers)
            verdicts[label] = True
        except Exception:  # noqa: BLE001 - any refusal is a failed verification
            verdicts[label] = False
    return verdicts


def behaviour(name, nth):
    """(seconds to sleep, status to answer) for the nth request of one webhook-id."""
    kind = name.split("-", 1)[0]
    if kind == "ok":
        return 0, 200
    if kind == "flaky":
        return 0, 500 if nth % 2 == 1 else 200
    if kind == "slow":
        return (15, 200) if nth == 1 else (0, 200)
    if kind == "sleepy":
        return 10, 200
    if kind == "gone":
        return 0, 410
    return 0, 404


class Handler(BaseHTTPRequestHandler):
    """The receiver's routes; keep-alive, as webhook senders pool their connections."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        """Quiet."""

    def answer(self, status, body=None):
        """Sends a response with a JSON body, or with none (204)."""
        self.send_response(status)
        if status == 204:
            self.end_headers()
            return
        data = json.dumps(body).encode()
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        """GET /health, GET /log/{name}."""
        if self.path == "/health":
            return self.answer(200, {"ok": True})
        match = NAME.match(self.path)
        if not match or match.group(1) != "log":
            return self.answer(404, {"error": "not found"})
        with lock:
            records = [dict(r) for r in logs.get(match.group(2), [])]
        self.answer(200, records)

    def do_PUT(self):
        """PUT /secrets/{name}: {"label": "whsec_…", …}, the secrets to verify with."""
        match = NAME.match(self.path)
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if not match or match.group(1) != "secrets":
            return self.answer(404, {"error": "not found"})
        try:
            labelled = json.loads(body)
        except ValueError:
            labelled = None
        if not isinstance(labelled, dict) or not all(isinstance(v, str) for v in labelled.values()):
            return self.answer(400, {"error": "expected a JSON object of label: secret"})
        with lock:
            secrets[match.group(2)] = labelled
        self.answer(204)

    def do_POST(self):
        """POST /hooks/{name}: a delivery, recorded, verified and answered as the name says."""
        match = NAME.match(self.path)
        raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if not match or match.group(1) != "hooks":
            return self.answer(404, {"error": "not found"})
        name = match.group(2)
        headers = {k.lower(): v for k, v in self.headers.items()}
        msg_id = headers.get("webhook-id", "")
        record = {
            "webhookId": msg_id,
            "webhookTimestamp": headers.get("webhook-timestamp"),
            "webhookSignature": headers.get("webhook-signature"),
            "headers": headers,
            "body": raw.decode("utf-8", "replace"),
            "receivedAt": time.time(),
            "status": None,
            "verified": verify(name, raw, headers),
        }
        with lock:
            seen[(name, msg_id)] = seen.get((name, msg_id), 0) + 1
            nth = seen[(name, msg_id)]
            logs.setdefault(name, []).append(record)
        sleep, status = behaviour(name, nth)
        time.sleep(sleep)
        record["status"] = status
        try:
            self.answer(status, {"ok": 200 <= status < 300})
        except OSError:
            pass  # the sender gave up waiting


def main():
    """Serves until killed."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    print(f"RECEIVER READY port={server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
