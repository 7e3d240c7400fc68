"""The HTTP plumbing the stand-ins (maximo.py, netsuite.py, sap.py) share, so each file holds only its vendor.

Each stand-in reads a request the same way, answers every method in one place, answers a bug of its
own with a 500 rather than a dropped connection, keeps its request log at /_standin/requests rather
than on stderr, and prints one banner line (what scripts/dev and the tests wait for) before it
serves until interrupted; maximo.py and netsuite.py also answer JSON and their control endpoints
alike (what those endpoints do is standin_control.py's). A stand-in imports this file as a sibling
module: running a script puts its folder on sys.path.
"""
import json
import traceback
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qsl, urlsplit


class ControlError(Exception):
    """A refusal of a control endpoint (/_standin/…): its status and a plain {"error": …} body."""

    def __init__(self, status, text):
        super().__init__(text)
        self.status = status


class RequestHandler(BaseHTTPRequestHandler):
    """Reads each request once and hands it to `answer()`, which writes the response.

    `answer` finds `route` (the URL's path, still percent-encoded), `params` (the query's decoded
    (name, value) pairs in order), `query` (those as a dict: the last of a repeated name wins), `body`
    (bytes) and `base` (http://host:port, for absolute links). If it raises, the subclass's
    `failed()` writes the stand-in's 500 instead. GET, POST, PUT, PATCH and DELETE come to it; a
    stand-in that serves more methods adds them as `do_X = RequestHandler.dispatch`.
    """

    protocol_version = "HTTP/1.1"
    json_type = "application/json"

    def log_message(self, format, *args):
        """Quiet: the request log is at /_standin/requests, and a raw request line can carry secrets."""

    def answer(self):
        """The usual routing, for stand-ins whose server carries `stand`: /_standin/… to `control()`,
        everything else to the subclass's `api()`. Stand-ins with more to route override it."""
        self.stand = self.server.stand
        if self.route.startswith("/_standin/"):
            self.control()
        else:
            self.api()

    def dispatch(self):
        """Read the request, then answer it."""
        url = urlsplit(self.path)
        self.route, self.params = url.path, parse_qsl(url.query, keep_blank_values=True)
        self.query = dict(self.params)
        length = int(self.headers.get("content-length") or 0)
        self.body = self.rfile.read(length) if length > 0 else b""
        self.base = "http://" + (self.headers.get("host") or "%s:%d" % self.server.server_address[:2])
        try:
            self.answer()
        except ConnectionError:
            pass  # the client has gone
        except Exception:
            traceback.print_exc()
            self.failed()

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = dispatch

    def reply(self, status, payload, headers=None, content_type=None):
        """Send payload as JSON (None: no body) with status, headers and content_type (by default json_type)."""
        data = b"" if payload is None else json.dumps(payload).encode()
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if payload is not None:
            self.send_header("Content-Type", content_type or self.json_type)
        if status != 204:
            self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if data:
            self.wfile.write(data)

    def control(self):
        """Answer a control endpoint: the subclass's `control_answer()` gives (status, payload) or raises ControlError."""
        try:
            status, payload = self.control_answer()
        except ControlError as error:
            status, payload = error.status, {"error": str(error)}
        self.reply(status, payload)

    def control_body(self):
        """The body as a JSON object, else ControlError 400."""
        try:
            body = json.loads(self.body)
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise ControlError(400, "The body must be a JSON object.")
        return body


def serve(server, banner):
    """Print banner (the line saying where the stand-in listens), then serve on daemon threads until interrupted."""
    server.daemon_threads = True
    print(banner, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
