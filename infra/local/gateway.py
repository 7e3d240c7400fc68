"""The local stack's front door: what API Gateway does before a request reaches a function.

cargo-lambda's emulator turns an HTTP request into the API Gateway event itself, but it fails
(with its own 500) where API Gateway would not: a JSON or text body that is not UTF-8, and a
header value that is not UTF-8. API Gateway hands such a body to the function base64-encoded,
so the function answers it; this proxy gives the emulator the same body as binary, and drops
header values API Gateway could not represent either. Everything else passes through untouched.

The emulator is also fragile where Lambda is not: requests that overlap at one function
instance sometimes get the emulator's own 500, and about one response in a thousand is lost
(the function answers; the emulator never forwards it). So the proxy hands the emulator one
request at a time, and when the emulator fails on its own (its 500, or no answer within a few
seconds for a read and 29 s for a write, as API Gateway gives up too) a safe method (GET, HEAD,
OPTIONS) is sent once more and a write is answered 504.
"""

import argparse
import http.client
import http.server
import signal
import sys
import threading

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
# A read answers in milliseconds, so a silent one is retried soon; a write may wait on the
# customer's system, up to API Gateway's own integration limit.
READ_TIMEOUT = 4
WRITE_TIMEOUT = 29
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "upgrade", "proxy-connection", "te", "trailer"}


def emulator_failed(status, data):
    """The emulator's own errors are problem documents; the functions never answer like that."""
    return status == 500 and b"httpstatuses.com" in data


def make_handler(upstream_port):
    one_at_a_time = threading.Lock()

    class Gateway(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def forward(self):
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {}
            for name, value in self.headers.raw_items():
                raw = value.encode("latin-1", "replace")
                if name.lower() in HOP_BY_HOP or name.lower() == "host":
                    continue
                try:
                    headers[name] = raw.decode("utf-8")
                except UnicodeDecodeError:
                    continue
            try:
                body.decode("utf-8")
            except UnicodeDecodeError:
                headers = {k: v for k, v in headers.items() if k.lower() != "content-type"}
                headers["Content-Type"] = "application/octet-stream"
            safe = self.command in SAFE_METHODS
            attempts, timeout = (2, READ_TIMEOUT) if safe else (1, WRITE_TIMEOUT)
            for attempt in range(attempts):
                conn = http.client.HTTPConnection("127.0.0.1", upstream_port, timeout=timeout)
                try:
                    with one_at_a_time:
                        conn.request(self.command, self.path, body=body or None, headers=headers)
                        resp = conn.getresponse()
                        data = resp.read()
                    if not emulator_failed(resp.status, data) or attempt + 1 == attempts:
                        break
                except TimeoutError:
                    if attempt + 1 == attempts:
                        return self.timed_out()
                finally:
                    conn.close()
            self.send_response_only(resp.status, resp.reason)
            for name, value in resp.getheaders():
                if name.lower() not in HOP_BY_HOP and name.lower() != "content-length":
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def timed_out(self):
            data = b'{"message":"Gateway Timeout: the function did not answer"}'
            self.send_response_only(504)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def __getattr__(self, name):
            # Every method goes through, as API Gateway routes (or refuses) them, not the proxy.
            if name.startswith("do_"):
                return self.forward
            raise AttributeError(name)

        def log_message(self, *_):
            pass

    return Gateway


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True, help="the public port")
    parser.add_argument("--upstream-port", type=int, required=True, help="the emulator's port")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), make_handler(args.upstream_port))
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main()
