"""The local stack's front door: API Gateway's HTTP API in front of the local Lambda service.

The routes are the template's HttpApi events (the provisioner lists them with the functions);
a request is matched as API Gateway matches it (the most specific route wins, static segments
before path variables, from the left), turned into the payload format 2.0 event API Gateway
builds, and run through the function's own binary by the local Lambda service (lambdas.py). The
function's response becomes the HTTP response. What API Gateway answers itself is answered the
same way here: 404 for a request no route matches, 500 when the function fails, 503 when no
answer came within the integration's 30 seconds, 413 for a body over its 10 MB.

Requests run concurrently, each on an instance of its own, as on AWS: nothing here serialises,
retries or invents an answer.

Also serves the Lambda Invoke API on --invoke-port, for the pump (SQS, streams) and scripts/dev.
"""

import argparse
import base64
import datetime
import http.server
import json
import os
import signal
import threading
import urllib.parse
import uuid

import lambdas

# API Gateway's limits for an HTTP API.
INTEGRATION_SECONDS = 30
MAX_BODY_BYTES = 10 * 1024 * 1024
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "upgrade", "proxy-connection", "te", "trailer"}


class Route:
    """One HttpApi route: a method and a path pattern such as /v1/connections/{id}."""

    def __init__(self, method, path, function):
        if "+}" in path[:-1] or ("+}" in path and not path.split("/")[-1].startswith("{")):
            raise ValueError(f"a greedy path variable must be the whole last segment: {path}")
        self.method = method.upper()
        self.path = path
        self.function = function
        self.segments = path.split("/")

    @property
    def key(self):
        """The routeKey API Gateway names the route by."""
        return DEFAULT_ROUTE if self.path == DEFAULT_ROUTE else f"{self.method} {self.path}"

    def match(self, method, path):
        """(specificity, path parameters) when the route takes this request, else None."""
        if self.path == DEFAULT_ROUTE:
            return [], {}  # the least specific of all: what no other route takes
        if self.method not in (method, "ANY"):
            return None
        segments = path.split("/")
        greedy = self.segments[-1].endswith("+}")
        if greedy and len(segments) >= len(self.segments):
            # {name+} takes the rest of the path (one segment at least), less specific than
            # any single segment.
            rest = "/".join(segments[len(self.segments) - 1 :])
            segments = segments[: len(self.segments) - 1] + [rest]
        if len(segments) != len(self.segments):
            return None
        rank, params = [], {}
        for pattern, segment in zip(self.segments, segments):
            if pattern.endswith("+}"):
                if not segment:
                    return None
                params[pattern[1:-2]] = urllib.parse.unquote(segment)
                rank.append(-1)
                continue
            if pattern.startswith("{") and pattern.endswith("}"):
                if not segment:
                    return None
                params[pattern[1:-1]] = urllib.parse.unquote(segment)
                rank.append(0)
            elif pattern == segment:
                rank.append(1)
            else:
                return None
        return rank, params


# The route that takes every request no other route matches.
DEFAULT_ROUTE = "$default"


def routes_of(specs):
    """Every route of every function spec."""
    return [Route(r["method"], r["path"], spec["name"]) for spec in specs for r in spec.get("routes", [])]


def find(routes, method, path):
    """The route API Gateway picks for a request and its path parameters, or (None, None)."""
    best = None
    for route in routes:
        found = route.match(method, path)
        if found and (best is None or found[0] > best[1][0]):
            best = (route, found)
    return (best[0], best[1][1]) if best else (None, None)


def event(route, params, method, target, headers, body, source_ip, request_id, now):
    """The payload format 2.0 event API Gateway hands a function for a request."""
    raw_path, _, raw_query = target.partition("?")
    folded = {}
    cookies = []
    for name, value in headers:
        name = name.lower()
        if name == "cookie":
            cookies += [c.strip() for c in value.split(";") if c.strip()]
        elif name not in HOP_BY_HOP:
            folded[name] = f"{folded[name]},{value}" if name in folded else value
    folded.setdefault("x-forwarded-for", source_ip)
    folded.setdefault("x-forwarded-proto", "http")
    domain = folded.get("host", "127.0.0.1")
    out = {
        "version": "2.0",
        "routeKey": route.key,
        "rawPath": raw_path,
        "rawQueryString": raw_query,
        "headers": folded,
        "requestContext": {
            "accountId": lambdas.ACCOUNT_ID,
            "apiId": "local",
            "domainName": domain,
            "domainPrefix": domain.split(".")[0],
            "http": {
                "method": method,
                "path": urllib.parse.unquote(raw_path),
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": folded.get("user-agent", ""),
            },
            "requestId": request_id,
            "routeKey": route.key,
            "stage": "$default",
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now.timestamp() * 1000),
        },
        "isBase64Encoded": False,
    }
    if cookies:
        out["cookies"] = cookies
    if raw_query:
        query = {}
        for name, value in urllib.parse.parse_qsl(raw_query, keep_blank_values=True):
            query[name] = f"{query[name]},{value}" if name in query else value
        out["queryStringParameters"] = query
    if params:
        out["pathParameters"] = params
    if body:
        try:
            out["body"] = body.decode("utf-8")
        except UnicodeDecodeError:
            out["body"] = base64.b64encode(body).decode("ascii")
            out["isBase64Encoded"] = True
    return out


def response(result):
    """(status, headers, body) of a function's answer, read as API Gateway reads format 2.0."""
    try:
        answer = json.loads(result)
    except ValueError:
        return 500, [("Content-Type", "application/json")], b'{"message":"Internal Server Error"}'
    if not isinstance(answer, dict) or "statusCode" not in answer:
        # No statusCode: API Gateway takes the whole JSON value as a 200's body.
        return 200, [("Content-Type", "application/json")], result
    headers = [(k, str(v)) for k, v in (answer.get("headers") or {}).items()]
    headers += [("Set-Cookie", c) for c in answer.get("cookies") or []]
    body = answer.get("body") or ""
    data = base64.b64decode(body) if answer.get("isBase64Encoded") else body.encode("utf-8")
    return int(answer["statusCode"]), headers, data


def make_handler(host, routes, integration_seconds):
    class Gateway(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def answer(self, status, headers, body, request_id):
            self.send_response_only(status)
            for name, value in headers:
                if name.lower() not in HOP_BY_HOP and name.lower() != "content-length":
                    self.send_header(name, value)
            self.send_header("apigw-requestid", request_id)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def handle_any(self):
            request_id = uuid.uuid4().hex[:16]
            json_type = [("Content-Type", "application/json")]
            if int(self.headers.get("content-length") or 0) > MAX_BODY_BYTES:
                self.close_connection = True
                return self.answer(413, json_type, b'{"message":"Request Entity Too Large"}', request_id)
            body = lambdas.read_body(self)
            path = self.path.partition("?")[0]
            route, params = find(routes, self.command, path)
            if route is None:
                return self.answer(404, json_type, b'{"message":"Not Found"}', request_id)
            headers = []
            for name, value in self.headers.raw_items():
                try:
                    headers.append((name, value.encode("latin-1").decode("utf-8")))
                except UnicodeError:
                    continue  # API Gateway cannot represent it either
            now = datetime.datetime.now(datetime.timezone.utc)
            payload = event(route, params, self.command, self.path, headers, body, self.client_address[0], request_id, now)
            invocation = host.functions[route.function].invoke(json.dumps(payload).encode(), integration_seconds)
            if not invocation.done.is_set():
                return self.answer(503, json_type, b'{"message":"Service Unavailable"}', request_id)
            if invocation.error is not None:
                return self.answer(500, json_type, b'{"message":"Internal Server Error"}', request_id)
            status, headers, data = response(invocation.result or b"null")
            return self.answer(status, headers, data, request_id)

        def __getattr__(self, name):
            # Every method reaches the routes, which accept or refuse it as API Gateway does.
            if name.startswith("do_"):
                return self.handle_any
            raise AttributeError(name)

        def log_message(self, *_):
            pass

    return Gateway


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True, help="the API's port (0: any free one)")
    parser.add_argument("--invoke-port", type=int, required=True, help="the Lambda Invoke API's port (0: any)")
    parser.add_argument("--functions", required=True, help="the functions (JSON, written by the provisioner)")
    parser.add_argument("--env-file", required=True, help="the functions' environment, KEY=VALUE lines")
    parser.add_argument("--binaries", required=True, help="the directory of the function binaries")
    # AWS starts an instance for every request that finds none free (up to the account's 1,000);
    # a low cap here queues one connection's requests behind another's stalled ones, which AWS
    # never does.
    parser.add_argument("--max-instances", type=int, default=32, help="instances per function at most")
    parser.add_argument(
        "--integration-seconds", type=float, default=INTEGRATION_SECONDS, help="how long a request waits for its function"
    )
    args = parser.parse_args()

    with open(args.functions, encoding="utf-8") as f:
        specs = json.load(f)["functions"]
    host = lambdas.Host(specs, args.binaries, lambdas.read_env(args.env_file), args.max_instances)
    stopping = signal_received(signal.SIGTERM, signal.SIGINT)
    invoke = lambdas.serve_invoke_api(host, args.invoke_port)
    server = lambdas.Server(("127.0.0.1", args.port), make_handler(host, routes_of(specs), args.integration_seconds))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(
        f"local API Gateway on http://127.0.0.1:{server.server_address[1]}, "
        f"Lambda Invoke API on http://127.0.0.1:{invoke.server_address[1]}",
        flush=True,
    )
    os.read(stopping, 1)
    host.stop()


def signal_received(*signums):
    """A pipe's read end that becomes readable when one of `signums` arrives.

    The kernel may hand a process's signal to any of its threads, and `signal.pause()` wakes only
    when the main thread is the one; the wakeup fd is written whichever thread takes it."""
    reader, writer = os.pipe()
    os.set_blocking(writer, False)
    signal.set_wakeup_fd(writer, warn_on_full_buffer=False)
    for signum in signums:
        signal.signal(signum, lambda *_: None)
    return reader


if __name__ == "__main__":
    main()
