"""The local Lambda service: the functions' own binaries, run the way Lambda runs them.

Each function of the template runs as instances of its binary, started with the environment
Lambda gives a custom runtime (AWS_LAMBDA_RUNTIME_API, AWS_LAMBDA_FUNCTION_NAME, credentials of
the function's own, ...) plus the template's variables, and fed through the Lambda Runtime API,
which this module serves to each instance: the instance asks for its next event, handles it,
and posts its response or its error. As on Lambda, an instance handles one invocation at a
time and another instance starts when every one is busy (up to a per-function limit; beyond it invocations wait their turn); an
invocation that runs past the function's Timeout kills its instance and fails, and an instance
that exits fails the invocation it held. Nothing is retried here and nothing is answered that
the function did not answer: a caller gets the function's response, its error, or the reason
there was neither.

`Host.invoke` is what the local API Gateway calls; `serve_invoke_api` serves the same through
the Lambda Invoke API (POST /2015-03-31/functions/NAME/invocations), which the local pump uses.
"""

import collections
import datetime
import http.server
import json
import os
import subprocess
import sys
import threading
import time
import uuid

import iam

ACCOUNT_ID = iam.ACCOUNT_ID
RUNTIME_PREFIX = "/2018-06-01/runtime/"
INVOKE_PATH = "/2015-03-31/functions/"
# How often the deadlines of running invocations are checked.
TICK_SECONDS = 0.2


LOG_LOCK = threading.Lock()


def log(line):
    """One line of the service's own log (the functions write theirs beside it), whole."""
    with LOG_LOCK:
        sys.stdout.write(f"lambda: {line}\n")
        sys.stdout.flush()


def read_body(handler):
    """The request body, whether sent with a Content-Length or in chunks."""
    if handler.headers.get("transfer-encoding", "").lower() == "chunked":
        chunks = []
        while True:
            size = int(handler.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while handler.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(chunks)
            chunks.append(handler.rfile.read(size))
            handler.rfile.readline()
    length = int(handler.headers.get("content-length") or 0)
    return handler.rfile.read(length) if length else b""


def reply(handler, status, body=b"", headers=None):
    """Sends a complete response with a Content-Length."""
    handler.send_response_only(status)
    for name, value in (headers or {}).items():
        handler.send_header(name, value)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    if body:
        handler.wfile.write(body)


def error_body(kind, message):
    """A function error as Lambda reports it."""
    return json.dumps({"errorType": kind, "errorMessage": message}).encode()


class Invocation:
    """One event on its way through a function: its result, or the error it ended with."""

    def __init__(self, payload):
        self.id = str(uuid.uuid4())
        self.payload = payload
        self.deadline = None  # epoch seconds; set when an instance takes it
        self.result = None
        self.error = None  # the error body, when the function failed
        self.done = threading.Event()

    def finish(self, result=None, error=None):
        """Ends the invocation once; later outcomes (after a timeout, say) are ignored."""
        if self.done.is_set():
            return
        self.result, self.error = result, error
        self.done.set()


class Instance:
    """One running copy of a function's binary and the Runtime API it is fed through."""

    def __init__(self, function, generation, number):
        self.function = function
        self.generation = generation
        self.number = number
        self.current = None  # the invocation it is handling
        self.ready = False  # has asked for an event at least once
        self.retired = False  # takes no more events
        self.process = None
        self.server = RuntimeServer(self)

    def stop(self):
        """Ends the process (Lambda freezes or discards an instance; here it goes)."""
        if self.process and self.process.poll() is None:
            self.process.kill()


class RuntimeHandler(http.server.BaseHTTPRequestHandler):
    """The Lambda Runtime API, as one instance sees it."""

    protocol_version = "HTTP/1.1"

    def do_GET(self):  # noqa: N802 - the http.server interface
        instance = self.server.instance
        if self.path != RUNTIME_PREFIX + "invocation/next":
            return reply(self, 404, b'{"errorType":"NotFound"}')
        invocation = instance.function.take(instance)
        if invocation is None:
            instance.stop()
            self.close_connection = True
            return None
        headers = {
            "Content-Type": "application/json",
            "Lambda-Runtime-Aws-Request-Id": invocation.id,
            "Lambda-Runtime-Deadline-Ms": str(int(invocation.deadline * 1000)),
            "Lambda-Runtime-Invoked-Function-Arn": instance.function.arn,
        }
        try:
            reply(self, 200, invocation.payload, headers)
        except OSError:
            instance.function.give_back(instance, invocation)
        return None

    def do_POST(self):  # noqa: N802 - the http.server interface
        instance = self.server.instance
        body = read_body(self)
        parts = self.path[len(RUNTIME_PREFIX) :].split("/") if self.path.startswith(RUNTIME_PREFIX) else []
        if parts == ["init", "error"]:
            log(f"{instance.function.name} #{instance.number}: init error: {body[:300]!r}")
            return reply(self, 202, b'{"status":"OK"}')
        if len(parts) == 3 and parts[0] == "invocation" and parts[2] in ("response", "error"):
            failed = parts[2] == "error"
            instance.function.complete(instance, parts[1], None if failed else body, body if failed else None)
            return reply(self, 202, b'{"status":"OK"}')
        return reply(self, 404, b'{"errorType":"NotFound"}')

    def log_message(self, *_):
        pass


class Server(http.server.ThreadingHTTPServer):
    """A threaded HTTP server whose listen queue holds a burst of concurrent clients."""

    daemon_threads = True
    request_queue_size = 128


class RuntimeServer(Server):
    """A Runtime API endpoint of its own for each instance, on a free loopback port."""

    def __init__(self, instance):
        super().__init__(("127.0.0.1", 0), RuntimeHandler)
        self.instance = instance
        threading.Thread(target=self.serve_forever, daemon=True).start()


class Function:
    """A function's instances and the invocations waiting for one."""

    def __init__(self, spec, binary, env, max_instances):
        self.name = spec["name"]
        self.timeout = spec["timeout"]
        self.memory = spec["memory"]
        self.binary = binary
        self.env = env
        self.max_instances = max_instances
        region = env.get("AWS_REGION", "us-east-1")
        self.arn = f"arn:aws:lambda:{region}:{ACCOUNT_ID}:function:{self.name}"
        self.lock = threading.Condition()
        self.pending = collections.deque()
        self.instances = set()
        self.generation = 0
        self.started = 0

    # Invoking

    def invoke(self, payload, wait=None):
        """Runs one event through the function; answers the invocation, which is not done
        when `wait` seconds passed first (it then still runs to its end or its timeout)."""
        invocation = Invocation(payload)
        with self.lock:
            self.pending.append(invocation)
            self._scale()
            self.lock.notify_all()
        invocation.done.wait(wait)
        return invocation

    def _scale(self):
        """Starts instances until every waiting invocation has a free one (lock held)."""
        live = [i for i in self.instances if not i.retired]
        free = sum(1 for i in live if i.generation == self.generation and i.current is None)
        while len(self.pending) > free and len(live) < self.max_instances:
            live.append(self._start())
            free += 1

    def _start(self):
        """A new instance of the current binary (lock held)."""
        self.started += 1
        instance = Instance(self, self.generation, self.started)
        host, port = instance.server.server_address
        env = dict(self.env)
        env.update(
            {
                "AWS_LAMBDA_RUNTIME_API": f"{host}:{port}",
                "AWS_LAMBDA_FUNCTION_NAME": self.name,
                # Its own credentials, as its own role gives it on AWS: the local AWS endpoint
                # checks its calls against its policy (iam.py).
                "AWS_ACCESS_KEY_ID": iam.access_key(self.name),
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(self.memory),
                "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
                "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{self.name}",
                "AWS_LAMBDA_LOG_STREAM_NAME": f"{datetime.date.today():%Y/%m/%d}/[$LATEST]{uuid.uuid4().hex}",
                "LAMBDA_TASK_ROOT": os.path.dirname(self.binary),
                "_HANDLER": "bootstrap",
                "TZ": ":UTC",
                "LANG": "en_US.UTF-8",
                "PATH": "/usr/local/bin:/usr/bin:/bin",
            }
        )
        self.instances.add(instance)
        try:
            # A session of its own: the service ends its instances itself (and one left behind
            # exits when its Runtime API is gone).
            instance.process = subprocess.Popen(
                [self.binary], env=env, stdin=subprocess.DEVNULL, start_new_session=True
            )
        except OSError as error:
            log(f"{self.name}: cannot start {self.binary}: {error}")
            instance.retired = True
            self._end(instance, error_body("Runtime.InvalidEntrypoint", str(error)))
            return instance
        threading.Thread(target=self._watch, args=(instance,), daemon=True).start()
        return instance

    def _watch(self, instance):
        """Waits for an instance's process to end, then fails what it held."""
        code = instance.process.wait()
        with self.lock:
            if not instance.retired:
                log(f"{self.name} #{instance.number}: exited with status {code}")
            instance.retired = True
            self._end(instance, error_body("Runtime.ExitError", f"Runtime exited with error: exit status {code}"))

    def _end(self, instance, error):
        """Forgets an instance that ended (lock held): the invocation it held fails with `error`;
        one that never got as far as asking for an event fails the oldest waiting invocation, as
        a failed init fails the invocation that started it."""
        self.instances.discard(instance)
        if instance.current is not None:
            instance.current.finish(error=error)
            instance.current = None
        elif not instance.ready and self.pending and not instance.generation < self.generation:
            self.pending.popleft().finish(error=error)
        self.lock.notify_all()
        threading.Thread(target=instance.server.shutdown, daemon=True).start()
        self._scale()

    def expire(self, now):
        """Fails the invocations past their deadline and discards the instances running them."""
        with self.lock:
            for instance in self.instances:
                invocation = instance.current
                if invocation is None or invocation.done.is_set() or now <= invocation.deadline:
                    continue
                instance.retired = True
                instance.stop()
                log(f"{self.name} #{instance.number}: timed out after {self.timeout} s, discarded")
                message = f"RequestId: {invocation.id} Error: Task timed out after {self.timeout:.2f} seconds"
                invocation.finish(error=error_body("Sandbox.Timedout", message))

    # The Runtime API's side

    def take(self, instance):
        """The next invocation for an instance that asks; None when the instance is retired."""
        with self.lock:
            instance.ready = True
            instance.current = None
            while True:
                if instance.retired or instance.generation != self.generation:
                    instance.retired = True
                    return None
                if self.pending:
                    invocation = self.pending.popleft()
                    invocation.deadline = time.time() + self.timeout
                    instance.current = invocation
                    return invocation
                self.lock.wait()

    def give_back(self, instance, invocation):
        """Returns an invocation that could not be handed to its instance."""
        with self.lock:
            if instance.current is invocation:
                instance.current = None
            if not invocation.done.is_set():
                self.pending.appendleft(invocation)
                self._scale()
                self.lock.notify_all()

    def complete(self, instance, request_id, result, error):
        """Records the response or error an instance posted for its invocation."""
        with self.lock:
            invocation = instance.current
            if invocation is None or invocation.id != request_id:
                return
            instance.current = None
            invocation.finish(result, error)

    def reload(self):
        """New invocations go to instances of the binary as it is now; the old ones finish
        what they hold and leave."""
        with self.lock:
            self.generation += 1
            for instance in list(self.instances):
                if instance.current is None:
                    instance.retired = True
                    instance.stop()
            self.lock.notify_all()

    def stop(self):
        """Ends every instance."""
        with self.lock:
            for instance in list(self.instances):
                instance.retired = True
                instance.stop()


class Host:
    """The functions of a stack, by name."""

    def __init__(self, specs, binaries, env, max_instances):
        self.functions = {
            spec["name"]: Function(spec, os.path.join(binaries, spec["name"]), env, max_instances) for spec in specs
        }
        threading.Thread(target=self._watchdog, daemon=True).start()

    def _watchdog(self):
        """Holds every invocation to its function's Timeout, however its caller waits."""
        while True:
            time.sleep(TICK_SECONDS)
            now = time.time()
            for function in self.functions.values():
                function.expire(now)

    def reload(self):
        """Every function starts fresh instances from its binary as it is now."""
        for function in self.functions.values():
            function.reload()
        log("reloaded: new invocations start the rebuilt binaries")

    def stop(self):
        for function in self.functions.values():
            function.stop()


class InvokeHandler(http.server.BaseHTTPRequestHandler):
    """The Lambda Invoke API (synchronous invocations), and a reload switch for scripts/dev."""

    protocol_version = "HTTP/1.1"

    def do_POST(self):  # noqa: N802 - the http.server interface
        host = self.server.host
        body = read_body(self)
        if self.path == "/_local/reload":
            host.reload()
            return reply(self, 204)
        name = self.path[len(INVOKE_PATH) :].split("/")[0] if self.path.startswith(INVOKE_PATH) else ""
        function = host.functions.get(name)
        if function is None or not self.path.endswith("/invocations"):
            message = json.dumps({"Type": "User", "Message": f"Function not found: {name}"}).encode()
            return reply(self, 404, message, {"x-amzn-ErrorType": "ResourceNotFoundException"})
        invocation = function.invoke(body)
        headers = {"Content-Type": "application/json", "x-amzn-RequestId": invocation.id}
        if invocation.error is not None:
            headers["X-Amz-Function-Error"] = "Unhandled"
            return reply(self, 200, invocation.error, headers)
        headers["X-Amz-Executed-Version"] = "$LATEST"
        return reply(self, 200, invocation.result or b"null", headers)

    def log_message(self, *_):
        pass


def serve_invoke_api(host, port):
    """Serves the Invoke API on 127.0.0.1:port in a thread of its own."""
    server = Server(("127.0.0.1", port), InvokeHandler)
    server.host = host
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def read_env(path):
    """KEY=VALUE lines (as the provisioner and scripts/dev write them)."""
    env = {}
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            key, sep, value = line.rstrip("\n").partition("=")
            if sep and key and not key.startswith("#"):
                env[key] = value
    return env
