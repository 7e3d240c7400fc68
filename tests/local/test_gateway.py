"""Tests of the local API Gateway and Lambda service (infra/local/gateway.py, lambdas.py).

Every black-box test goes through them, so they must neither lose nor invent an answer. These
tests start the gateway with a stand-in function binary — a small Lambda runtime client that
follows the Runtime API as the Rust runtime does and does what each request asks (echo the
event, sleep, fail, exit) — and check the event API Gateway would build, the answers API
Gateway gives itself, concurrency across instances, timeouts and crashes, and that thousands
of concurrent requests each get their own answer.

    python3 -m pytest tests/local
"""

import base64
import http.client
import json
import re
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
GATEWAY = REPO / "infra" / "local" / "gateway.py"
MAX_INSTANCES = 4

# The function: one Runtime API client loop. `?act=` (or the Invoke API event's "act") picks
# what it does with the invocation.
FUNCTION = """\
#!{python}
import base64, json, os, time, urllib.request

api = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01/runtime/"

def post(path, body):
    request = urllib.request.Request(api + path, data=json.dumps(body).encode(), method="POST")
    urllib.request.urlopen(request).read()

while True:
    with urllib.request.urlopen(api + "invocation/next") as answer:
        request_id = answer.headers["Lambda-Runtime-Aws-Request-Id"]
        deadline = int(answer.headers["Lambda-Runtime-Deadline-Ms"])
        arn = answer.headers["Lambda-Runtime-Invoked-Function-Arn"]
        event = json.loads(answer.read())
    query = event.get("queryStringParameters") or {{}}
    act = query.get("act") or event.get("act") or "echo"
    if act == "sleep":
        time.sleep(float(query.get("seconds") or event.get("seconds")))
    if act == "exit":
        os._exit(3)
    if act == "fail":
        post(f"invocation/{{request_id}}/error", {{"errorType": "Boom", "errorMessage": "it failed"}})
        continue
    seen = {{"event": event, "pid": os.getpid(), "requestId": request_id, "deadline": deadline, "arn": arn,
            "env": {{k: v for k, v in os.environ.items() if k.startswith(("AWS_", "LAMBDA_", "_HANDLER", "GREETING"))}}}}
    if act == "plain":
        post(f"invocation/{{request_id}}/response", seen)
    else:
        post(f"invocation/{{request_id}}/response", {{
            "statusCode": int(query.get("status", 200)),
            "headers": {{"content-type": "application/json", "x-served-by": str(os.getpid())}},
            "cookies": ["a=1", "b=2"] if act == "cookies" else [],
            "body": base64.b64encode(json.dumps(seen).encode()).decode(),
            "isBase64Encoded": True,
        }})
"""

SPECS = {
    "functions": [
        {
            "name": "things",
            "timeout": 2,
            "memory": 128,
            "routes": [
                {"method": "GET", "path": "/v1/things"},
                {"method": "GET", "path": "/v1/things/{id}"},
                {"method": "GET", "path": "/v1/things/special"},
                {"method": "POST", "path": "/v1/things/{id}/parts/{part}"},
                {"method": "ANY", "path": "/pages/{proxy+}"},
                {"method": "GET", "path": "/pages/home"},
            ],
        },
        {"name": "worker", "timeout": 60, "memory": 256, "routes": []},
    ]
}


class Answer:
    """One HTTP answer."""

    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    def json(self):
        return json.loads(self.body)


class Gateway:
    """The gateway process, its API port and its Invoke API port."""

    def __init__(self, tmp, *extra):
        binaries = tmp / "bin"
        binaries.mkdir()
        for spec in SPECS["functions"]:
            path = binaries / spec["name"]
            path.write_text(FUNCTION.format(python=sys.executable))
            path.chmod(0o755)
        (tmp / "functions.json").write_text(json.dumps(SPECS))
        (tmp / "stack.env").write_text("GREETING=hello=world\nAWS_REGION=eu-west-1\n")
        command = [
            sys.executable, "-u", str(GATEWAY), "--port", "0", "--invoke-port", "0",
            "--functions", str(tmp / "functions.json"), "--env-file", str(tmp / "stack.env"),
            "--binaries", str(binaries), "--max-instances", str(MAX_INSTANCES), *extra,
        ]  # fmt: skip
        self.log = open(tmp / "gateway.log", "w+")
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=self.log, text=True)
        line = self.process.stdout.readline()
        match = re.fullmatch(r"local API Gateway on http://127\.0\.0\.1:(\d+), Lambda Invoke API on http://127\.0\.0\.1:(\d+)\n", line)  # noqa: E501
        assert match, f"unexpected first line {line!r}"
        self.port, self.invoke_port = int(match[1]), int(match[2])

    def request(self, method, target, body=None, headers=None, port=None):
        connection = http.client.HTTPConnection("127.0.0.1", port or self.port, timeout=60)
        try:
            connection.request(method, target, body=body, headers=headers or {})
            answer = connection.getresponse()
            return Answer(answer.status, answer.headers, answer.read())
        finally:
            connection.close()

    def invoke(self, function, event):
        """The Lambda Invoke API."""
        path = f"/2015-03-31/functions/{function}/invocations"
        return self.request("POST", path, json.dumps(event).encode(), port=self.invoke_port)

    def stop(self):
        """SIGTERM, as scripts/dev and scripts/test stop it; it must end within 10 s (it is
        killed either way, so that a failure leaves no gateway behind)."""
        self.process.terminate()
        try:
            self.process.wait(10)
        finally:
            self.process.kill()


@pytest.fixture(scope="module")
def gateway(tmp_path_factory):
    server = Gateway(tmp_path_factory.mktemp("gateway"))
    yield server
    server.stop()


def seen(answer):
    """What the function saw, from its echo."""
    assert answer.status == 200, answer.body
    return answer.json()


def test_a_request_becomes_the_payload_format_2_event_api_gateway_builds(gateway):
    answer = gateway.request(
        "GET",
        "/v1/things/a%20b?x=1&x=2&empty=&act=echo",
        headers={"X-Custom": "one", "Cookie": "c1=v1; c2=v2", "User-Agent": "tests"},
    )
    echo = seen(answer)
    event = echo["event"]
    assert event["version"] == "2.0"
    assert event["routeKey"] == "GET /v1/things/{id}" == event["requestContext"]["routeKey"]
    assert event["rawPath"] == "/v1/things/a%20b"
    assert event["rawQueryString"] == "x=1&x=2&empty=&act=echo"
    assert event["queryStringParameters"] == {"x": "1,2", "empty": "", "act": "echo"}
    assert event["pathParameters"] == {"id": "a b"}
    assert event["cookies"] == ["c1=v1", "c2=v2"]
    assert event["headers"]["x-custom"] == "one" and "cookie" not in event["headers"]
    assert all(name == name.lower() for name in event["headers"])
    context = event["requestContext"]
    assert context["http"] == {
        "method": "GET", "path": "/v1/things/a b", "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "tests",
    }  # fmt: skip
    assert context["stage"] == "$default" and context["requestId"] == answer.headers["apigw-requestid"]
    assert event["isBase64Encoded"] is False and "body" not in event
    # The Runtime API and the environment the function got, as Lambda gives them.
    assert echo["arn"] == "arn:aws:lambda:eu-west-1:123456789012:function:things"
    assert re.fullmatch(r"[0-9a-f-]{36}", echo["requestId"])
    env = echo["env"]
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == "things" and env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "128"
    assert env["GREETING"] == "hello=world" and env["_HANDLER"] == "bootstrap"
    # The function's answer: its status, headers and base64 body, decoded.
    assert answer.headers["x-served-by"] == str(echo["pid"])


def test_bodies_arrive_as_text_or_base64_and_the_function_answers_any_status(gateway):
    text = seen(gateway.request("POST", "/v1/things/t1/parts/p2", b'{"name": "x"}'))["event"]
    assert (text["body"], text["isBase64Encoded"]) == ('{"name": "x"}', False)
    assert text["pathParameters"] == {"id": "t1", "part": "p2"}
    binary = bytes(range(256))
    raw = seen(gateway.request("POST", "/v1/things/t1/parts/p2", binary))["event"]
    assert raw["isBase64Encoded"] is True and base64.b64decode(raw["body"]) == binary
    answer = gateway.request("GET", "/v1/things/x?status=418")
    assert answer.status == 418 and answer.json()["event"]["pathParameters"] == {"id": "x"}
    cookies = gateway.request("GET", "/v1/things?act=cookies")
    assert cookies.headers.get_all("Set-Cookie") == ["a=1", "b=2"]


def test_routes_match_as_api_gateway_matches_them(gateway):
    assert seen(gateway.request("GET", "/v1/things/special"))["event"]["routeKey"] == "GET /v1/things/special"
    assert seen(gateway.request("GET", "/v1/things"))["event"]["routeKey"] == "GET /v1/things"
    for method, target in [("GET", "/v1/nothing"), ("DELETE", "/v1/things/x"), ("GET", "/v1/things/x/y"),
                           ("GET", "/v1/things/"), ("POST", "/v1/things")]:  # fmt: skip
        answer = gateway.request(method, target)
        assert (answer.status, answer.json()) == (404, {"message": "Not Found"}), (method, target)


def test_a_greedy_path_variable_takes_the_rest_of_the_path_after_every_more_specific_route(gateway):
    event = seen(gateway.request("POST", "/pages/a/b%20c/d"))["event"]
    assert (event["routeKey"], event["pathParameters"]) == ("ANY /pages/{proxy+}", {"proxy": "a/b c/d"})
    assert seen(gateway.request("GET", "/pages/home"))["event"]["routeKey"] == "GET /pages/home"
    assert seen(gateway.request("DELETE", "/pages/home"))["event"]["routeKey"] == "ANY /pages/{proxy+}"
    assert gateway.request("GET", "/pages").status == 404
    assert gateway.request("GET", "/pages/").status == 404


def test_a_function_without_a_status_code_answers_200_with_its_json(gateway):
    answer = gateway.request("GET", "/v1/things?act=plain")
    assert answer.status == 200 and answer.headers["Content-Type"] == "application/json"
    assert answer.json()["event"]["routeKey"] == "GET /v1/things"


def test_failures_timeouts_and_crashes_answer_as_api_gateway_does_and_the_next_request_works(gateway):
    answer = gateway.request("GET", "/v1/things?act=fail")
    assert (answer.status, answer.json()) == (500, {"message": "Internal Server Error"})
    answer = gateway.request("GET", "/v1/things?act=sleep&seconds=5")  # the function's timeout is 2 s
    assert (answer.status, answer.json()) == (500, {"message": "Internal Server Error"})
    answer = gateway.request("GET", "/v1/things?act=exit")
    assert (answer.status, answer.json()) == (500, {"message": "Internal Server Error"})
    assert seen(gateway.request("GET", "/v1/things"))["event"]["routeKey"] == "GET /v1/things"


def test_api_gateway_answers_413_for_a_body_over_its_limit_without_reading_it(gateway):
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=30) as conn:
        conn.sendall(b"POST /v1/things/t/parts/p HTTP/1.1\r\nHost: x\r\nContent-Length: 10485761\r\n\r\n")
        head = conn.makefile("rb").readline()
    assert head.startswith(b"HTTP/1.1 413"), head


def test_a_request_waits_no_longer_than_the_integration_timeout(tmp_path):
    impatient = Gateway(tmp_path, "--integration-seconds", "0.5")
    try:
        answer = impatient.request("GET", "/v1/things?act=sleep&seconds=1.5")
        assert (answer.status, answer.json()) == (503, {"message": "Service Unavailable"})
        assert seen(impatient.request("GET", "/v1/things"))["event"]["routeKey"] == "GET /v1/things"
    finally:
        impatient.stop()


def test_the_invoke_api_runs_events_and_reports_function_errors(gateway):
    answer = gateway.invoke("worker", {"act": "plain", "n": 7})
    assert answer.status == 200 and "X-Amz-Function-Error" not in answer.headers
    assert answer.json()["event"] == {"act": "plain", "n": 7}
    assert answer.json()["env"]["AWS_LAMBDA_FUNCTION_NAME"] == "worker"
    # The deadline is an epoch time in milliseconds, the function's timeout away.
    assert 50 < answer.json()["deadline"] / 1000 - time.time() <= 60
    failed = gateway.invoke("worker", {"act": "fail"})
    assert failed.status == 200 and failed.headers["X-Amz-Function-Error"] == "Unhandled"
    assert failed.json() == {"errorType": "Boom", "errorMessage": "it failed"}
    crashed = gateway.invoke("worker", {"act": "exit"})
    assert crashed.headers["X-Amz-Function-Error"] == "Unhandled"
    assert crashed.json()["errorType"] == "Runtime.ExitError"
    missing = gateway.invoke("nothing", {})
    assert missing.status == 404 and missing.headers["x-amzn-ErrorType"] == "ResourceNotFoundException"


def test_concurrent_requests_run_on_instances_of_their_own_and_none_is_lost_or_mixed_up(gateway):
    # Slow requests overlap, so the function scales out to its limit and no further.
    def slow(i):
        return gateway.request("GET", f"/v1/things/s{i}?act=sleep&seconds=0.3")

    with ThreadPoolExecutor(12) as pool:
        answers = list(pool.map(slow, range(24)))
    pids = {a.headers["x-served-by"] for a in answers}
    assert [a.json()["event"]["pathParameters"]["id"] for a in answers] == [f"s{i}" for i in range(24)]
    assert 1 < len(pids) <= MAX_INSTANCES

    # Thousands of quick ones: each answer is the echo of its own request.
    def quick(i):
        answer = gateway.request("POST", f"/v1/things/q{i}/parts/p", json.dumps({"i": i}).encode())
        return answer.status, answer.json()["event"]["body"] if answer.status == 200 else answer.body

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(quick, range(3000)))
    assert results == [(200, json.dumps({"i": i})) for i in range(3000)]
