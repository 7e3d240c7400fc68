"""The cold-start benchmark, against a running local stack (scripts/bench starts one).

Each release bootstrap runs as Lambda runs it: a fresh process whose only way in is a stand-in
of the Runtime API here. For each function, interleaved with the others and with lambda_runtime's
hello world (benches/hello), it measures
  (a) init: exec → the first poll of the Runtime API;
  (b) first: the first invocation, from handing it the event to its answer;
  (c) warm: the same invocation again, in the same process (for another account: nothing that
      is cached per account is warm);
and prints the medians, (a) as a ratio of hello world's, (b) − (c), the binary's size and the
process's peak RSS. The invocations are typical ones against the local AWS: a credential-
authenticated read for each HTTP function (through the real routes, as API Gateway hands them),
one message for each queue function (a message delivered again after its work was done: the
read that finds so). It asserts nothing about time.

    python3 scripts/lib/bench_cold.py --binaries target/release --state .local/bench-stack [--rounds 21]
    # with MILLWRIGHT_API_URL and MILLWRIGHT_ADMIN_BIN
"""

import argparse
import datetime
import hashlib
import http.server
import json
import os
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
import urllib.parse
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "infra/local"))
import boto3  # noqa: E402 - the local stack's modules first
import gateway  # noqa: E402
import iam  # noqa: E402
import lambdas  # noqa: E402
import pump  # noqa: E402

API = os.environ["MILLWRIGHT_API_URL"]
HELLO = "hello-lambda"
PREFIX = "/2018-06-01/runtime"


class Run:
    """What one process did: when it polled, and when each invocation was handed over and answered."""

    def __init__(self, events):
        self.events = list(events)
        self.polls, self.sent, self.answered, self.bodies, self.errors = [], [], [], [], []
        self.done = threading.Event()
        self.lock = threading.Lock()


class RuntimeApi(http.server.BaseHTTPRequestHandler):
    """The Runtime API, as the Lambda service serves it to one process (`server.run`: a server per
    process, so a killed process's last poll takes nothing from the next one)."""

    protocol_version = "HTTP/1.1"
    # Headers and body leave in two writes: without this, the second waits for a delayed ACK.
    disable_nagle_algorithm = True

    def do_GET(self):  # noqa: N802 - the http.server interface
        now = time.perf_counter()
        run = self.server.run
        with run.lock:
            run.polls.append(now)
            event = run.events.pop(0) if run.events else None
        if event is None:
            run.done.wait(60)
            return
        body = json.dumps(event).encode()
        self.send_response(200)
        self.send_header("Lambda-Runtime-Aws-Request-Id", str(uuid.uuid4()))
        self.send_header("Lambda-Runtime-Deadline-Ms", str(int((time.time() + 30) * 1000)))
        self.send_header("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:123456789012:function:bench")
        self.send_header("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        run.sent.append(time.perf_counter())
        self.wfile.write(body)

    def do_POST(self):  # noqa: N802 - the http.server interface
        now = time.perf_counter()
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        run = self.server.run
        if self.path.endswith("/response"):
            run.answered.append(now)
            run.bodies.append(body)
        else:
            run.errors.append(body.decode(errors="replace"))
        self.send_response(202)
        self.send_header("Content-Length", "0")
        self.end_headers()
        if len(run.answered) >= 2 or run.errors:
            run.done.set()

    def log_message(self, *_):
        pass


def measure(binary, env, events, log):
    """(init, first, warm) in ms and the peak RSS in MB of one fresh process given two events."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), RuntimeApi)
    server.daemon_threads = True
    # The process is killed mid-poll at the end: its broken connection is no error to print.
    server.handle_error = lambda *_: None
    run = server.run = Run(events)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    host, port = server.server_address
    env = {**env, "AWS_LAMBDA_RUNTIME_API": f"{host}:{port}"}
    began = time.perf_counter()
    pid = os.posix_spawn(binary, [binary], env, file_actions=[
        (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
        (os.POSIX_SPAWN_DUP2, log.fileno(), 1),
        (os.POSIX_SPAWN_DUP2, log.fileno(), 2),
    ])
    finished = run.done.wait(60)
    with open(f"/proc/{pid}/status") as status:
        peak = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
    os.kill(pid, 9)
    os.waitpid(pid, 0)
    run.done.set()
    server.shutdown()
    server.server_close()
    if not finished or run.errors or len(run.answered) < 2:
        raise SystemExit(f"{binary}: no two answers ({run.errors or 'timed out'}); see its log")
    for body in run.bodies:
        answer = json.loads(body)
        if isinstance(answer, dict) and (answer.get("statusCode", 200) >= 500 or answer.get("batchItemFailures")):
            raise SystemExit(f"{binary}: the invocation failed: {body[:300]!r}")
    ms = lambda seconds: seconds * 1000
    return (ms(run.polls[0] - began), ms(run.answered[0] - run.sent[0]), ms(run.answered[1] - run.sent[1]),
            peak / 1024)


def call(method, path, bearer, body=None):
    request = urllib.request.Request(f"{API}{path}", method=method, data=json.dumps(body).encode() if body else None,
                                     headers={"Authorization": f"Bearer {bearer}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as answer:
        return json.loads(answer.read())


def http_event(routes, method, path, bearer):
    route, params = gateway.find(routes, method, path.partition("?")[0])
    now = datetime.datetime.now(datetime.timezone.utc)
    headers = [("authorization", f"Bearer {bearer}"), ("host", "127.0.0.1"), ("user-agent", "bench")]
    return route.function, gateway.event(route, params, method, path, headers, b"", "127.0.0.1", str(uuid.uuid4()), now)


def sqs_event(queue_url, body):
    text = json.dumps(body)
    arn = f"arn:aws:sqs:{os.environ.get('AWS_REGION', 'us-east-1')}:{iam.ACCOUNT_ID}:{queue_url.rsplit('/', 1)[-1]}"
    message = {"MessageId": str(uuid.uuid4()), "ReceiptHandle": str(uuid.uuid4()), "Body": text,
               "MD5OfBody": hashlib.md5(text.encode()).hexdigest(), "Attributes": {"ApproximateReceiveCount": "1"}}
    return pump.sqs_event([message], arn, "us-east-1")


def events_of(env, specs):
    """For every function, its first and its warm invocation: the same request, made with the
    credentials of two accounts (each with a sandbox connection), so that what a function caches
    per account (its rate limit, read once a minute) does not make the warm one cheaper."""
    first, warm = invocations(env, specs), invocations(env, specs)
    return {name: (first[name], warm[name]) for name in first}


def invocations(env, specs):
    """The typical invocation of every function, on an account and a sandbox connection of its own."""
    admin = os.environ["MILLWRIGHT_ADMIN_BIN"]
    key = subprocess.run([admin, "account", "create", "--credits", "5"], capture_output=True, text=True,
                         check=True, env={**os.environ, **env}).stdout.strip()
    made = call("POST", "/v1/connections", key, {"system": "sandbox", "name": "cold start", "credentials": {"apiKey": "bench"}})
    token, connection = made["token"], made["connection"]["id"]
    account = made["connection"]["accountId"]
    routes = gateway.routes_of(specs)
    # The customer's first look at a connect link: the hosted page, rendered.
    link = urllib.parse.urlsplit(call("POST", "/v1/connect-sessions", key, {"systems": ["sandbox"]})["url"]).path
    events = dict([
        http_event(routes, "GET", link, key),
        http_event(routes, "GET", f"/v1/connections/{connection}", key),
        http_event(routes, "POST", f"/v1/connections/{uuid.uuid4().hex}/token", key),
        http_event(routes, "GET", "/v1/work-orders?limit=25", token),
        http_event(routes, "GET", "/v1/syncs", token),
        http_event(routes, "GET", "/v1/webhook-endpoints", key),
    ])
    # A run's message delivered again after the run finished (queue deliveries are at least once):
    # the worker reads the run and lets it be. (A schedule's firing would start runs that the local
    # stack then carries out beside the measurements.)
    sync_id = call("POST", "/v1/syncs", token, {"entities": ["vendors"]})["syncs"][0]["id"]
    for _ in range(120):
        if call("GET", f"/v1/syncs/{sync_id}", token)["sync"]["status"] in ("succeeded", "failed", "skipped"):
            break
        time.sleep(0.5)
    events["sync"] = sqs_event(env["SYNC_QUEUE_URL"], {"kind": "run", "connectionId": connection, "syncId": sync_id})
    events["webhook-delivery"] = sqs_event(env["DELIVERY_QUEUE_URL"], {"deliveryId": uuid.uuid4().hex})
    dynamo = boto3.client("dynamodb", endpoint_url=env["AWS_ENDPOINT_URL"], region_name="us-east-1",
                          aws_access_key_id="local", aws_secret_access_key="local")
    table = dynamo.describe_table(TableName=env["EVENTS_TABLE"])["Table"]
    item = dynamo.scan(TableName=env["EVENTS_TABLE"], Limit=1)["Items"][0]
    keys = {k["AttributeName"]: item[k["AttributeName"]] for k in table["KeySchema"]}
    record = {"eventID": uuid.uuid4().hex, "eventName": "INSERT", "dynamodb": {
        "Keys": keys, "NewImage": item, "SequenceNumber": "1", "SizeBytes": 100, "StreamViewType": "NEW_IMAGE"}}
    events["webhook-fanout"] = {"Records": [pump.stream_record(record, table["LatestStreamArn"], "us-east-1")]}
    events[HELLO] = {"hello": "world"}
    return events


def main():
    args = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    args.add_argument("--binaries", required=True)
    args.add_argument("--state", required=True)
    args.add_argument("--rounds", type=int, default=21)
    args = args.parse_args()
    state = Path(args.state)
    specs = json.loads((state / "functions.json").read_text())["functions"]
    stack_env = lambdas.read_env(state / "stack.env")
    events = events_of(stack_env, specs)
    names = [HELLO] + [spec["name"] for spec in specs]

    results = {name: [] for name in names}
    with open(state / "cold-start.log", "w") as log:
        for _ in range(args.rounds):
            for name in names:
                memory = next((str(s["memory"]) for s in specs if s["name"] == name), "128")
                env = dict(stack_env, AWS_LAMBDA_FUNCTION_NAME=name, AWS_LAMBDA_FUNCTION_MEMORY_SIZE=memory,
                           AWS_LAMBDA_FUNCTION_VERSION="$LATEST", AWS_ACCESS_KEY_ID=iam.access_key(name),
                           TZ=":UTC", LANG="en_US.UTF-8", PATH="/usr/local/bin:/usr/bin:/bin")
                binary = str(Path(args.binaries) / name)
                results[name].append(measure(binary, env, events[name], log))

    median = lambda name, i: statistics.median(r[i] for r in results[name])
    floor = median(HELLO, 0)
    print(f"cold starts: medians of {args.rounds} interleaved runs; release builds; this machine")
    print(f"{'function':<18}{'size MB':>8}{'init ms':>9}{'× hello':>8}{'first ms':>10}{'warm ms':>9}"
          f"{'first−warm':>12}{'peak RSS MB':>13}")
    for name in names:
        size = os.path.getsize(Path(args.binaries) / name) / 1e6
        init, first, warm, rss = (median(name, i) for i in range(4))
        print(f"{name:<18}{size:>8.1f}{init:>9.1f}{init / floor:>8.2f}{first:>10.1f}{warm:>9.1f}"
              f"{first - warm:>12.1f}{rss:>13.1f}")


if __name__ == "__main__":
    main()
