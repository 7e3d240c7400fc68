"""The control plane of the stand-ins (/_standin/…), in one module: sap.py, maximo.py and netsuite.py
each used to keep their own tenants, request log, faults and violations, and a new stand-in gets all
of it, with the same wire behaviour, by building one ControlPlane.

What every plane serves (T a tenant; without ?tenant=T, every tenant's):
    GET    /_standin/health                   the health payload (by default {"status": "ok"})
    GET    /_standin/requests[?tenant=T]      {"requests": [...]}, oldest first; DELETE: {"requests": []}
    GET    /_standin/violations[?tenant=T]    likewise, with violations=True (and any log made by log())
    POST   /_standin/faults {"tenant", "match"?, "method"?, "responses": [...]}
                                              the tenant's next requests of that method whose raw or
                                              decoded target holds `match` get the responses, one
                                              each, in order; DELETE[?tenant=T]: {"faults": []}
A response of the common format: {"status": 400-599, "retryAfter"?} answers that error instead,
{"delaySeconds"} waits before the answer, {"stallSeconds"} answers only that long after the work is
done (check_fault, faulted); a stand-in with a vocabulary of its own passes its own check_fault.

How a stand-in plugs in (a sibling module, as standin_http is):

    plane = ControlPlane(seed, violations=True)
    plane.route("POST", "/_standin/touch", touch)    # its own endpoints: touch(request) -> (status, payload)
    class Handler(standin_http.RequestHandler):      # answer(): self.control() for /_standin/…
        def control_answer(self):
            return plane.answer(self)

and in its API: plane.tenants.get(tenant) (its records); faulted(plane.faults.take(tenant,
self.command, self.path), error_answer, serve); plane.requests.add(tenant, {...}) per request;
plane.violations.add(tenant, {"method", "path", "reason"}); plane.touches for "afterNextPage".
Each part has its own lock and calls no stand-in code under it (but Tenants' make, once per
tenant), so a stand-in may use them while holding its own lock.
"""
import copy
import itertools
import threading
import time
from datetime import datetime, timezone
from urllib.parse import unquote, urlsplit

from standin_http import ControlError

__all__ = ["ControlError", "ControlPlane", "DeferredTouches", "FAULT_FORM", "Faults", "Log", "Tenants",
           "check_fault", "faulted", "pending_reply", "utc_stamp"]


def utc_stamp():
    """Now in UTC as ISO 8601 to the millisecond, e.g. 2025-05-01T12:00:00.123+00:00 (a log entry's "at")."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


class Tenants:
    """Per-tenant state, made on a tenant's first use: a deep copy of `seed`, or `make(name)` when given."""

    def __init__(self, seed=None, make=None):
        self._make = make or (lambda name: copy.deepcopy(seed))
        self._states = {}
        self._lock = threading.Lock()

    def get(self, name):
        """The tenant's state, made now if this is its first use."""
        with self._lock:
            if name not in self._states:
                self._states[name] = self._make(name)
            return self._states[name]

    def __contains__(self, name):
        """Whether the tenant's state has been made."""
        with self._lock:
            return name in self._states


class Log:
    """Entries of every tenant in arrival order, each {"seq"?, "at", "tenant", **fields}.

    `stamp()` gives "at" (by default utc_stamp); with `numbers` (an iterator of ints, which logs
    may share) each entry also starts with "seq", its next number.
    """

    def __init__(self, stamp=utc_stamp, numbers=None):
        self._stamp, self._numbers = stamp, numbers
        self._entries = []
        self._lock = threading.Lock()

    def add(self, tenant, fields):
        """Append an entry of `tenant` (a name or None) with these fields; the entry."""
        with self._lock:
            head = {"seq": next(self._numbers)} if self._numbers is not None else {}
            entry = {**head, "at": self._stamp(), "tenant": tenant, **fields}
            self._entries.append(entry)
        return entry

    def entries(self, tenant=None):
        """The entries of `tenant`, or of all tenants when it is None, oldest first (a new list)."""
        with self._lock:
            return [e for e in self._entries if tenant is None or e["tenant"] == tenant]

    def clear(self, tenant=None):
        """Forget the entries of `tenant`, or all entries when it is None."""
        with self._lock:
            self._entries = [e for e in self._entries if tenant is not None and e["tenant"] != tenant]


class Faults:
    """Pending faults: per tenant, rules in the order added, each a list of responses to hand out.

    A request matches a rule when the rule's method is None or the request's, its `match` is empty
    or part of the request's raw target (path and query, still percent-encoded) or of that target
    decoded, and its `prefix` is None or starts the target's path (case-insensitively).
    """

    def __init__(self):
        self._rules = {}
        self._lock = threading.Lock()

    def add(self, tenant, responses, match=None, method=None, prefix=None):
        """Queue `responses` (dicts, in order) for the tenant's requests that match; the tenant's pending count."""
        with self._lock:
            rule = {"match": match, "method": method.upper() if method else None, "prefix": prefix,
                    "responses": list(responses)}
            self._rules.setdefault(tenant, []).append(rule)
            return self._pending(tenant)

    def take(self, tenant, method, target):
        """The next response of the tenant's first rule this request matches, consumed; None if none matches."""
        with self._lock:
            rules = self._rules.get(tenant, [])
            for rule in rules:
                if self._matches(rule, method, target):
                    response = rule["responses"].pop(0)
                    if not rule["responses"]:
                        rules.remove(rule)
                    return response
        return None

    def pending(self, tenant):
        """How many responses wait for the tenant's requests."""
        with self._lock:
            return self._pending(tenant)

    def clear(self, tenant=None):
        """Drop the tenant's pending faults, or every tenant's when it is None."""
        with self._lock:
            if tenant is None:
                self._rules.clear()
            else:
                self._rules.pop(tenant, None)

    def _pending(self, tenant):
        return sum(len(rule["responses"]) for rule in self._rules.get(tenant, []))

    @staticmethod
    def _matches(rule, method, target):
        if rule["method"] not in (None, method):
            return False
        if rule["match"] and rule["match"] not in target and rule["match"] not in unquote(target):
            return False
        return rule["prefix"] is None or urlsplit(target).path.lower().startswith(rule["prefix"].lower())


FAULT_FORM = ('responses must be a non-empty list of {"status": 400-599, "retryAfter"?: seconds}, '
              '{"delaySeconds": seconds} or {"stallSeconds": seconds} (or a combination)')


def check_fault(response):
    """A response of the common fault format (FAULT_FORM), returned as it is; else ControlError 400."""
    known = {"status", "retryAfter", "delaySeconds", "stallSeconds"}
    if not isinstance(response, dict) or not response or set(response) - known:
        raise ControlError(400, FAULT_FORM)
    status, retry = response.get("status"), response.get("retryAfter")
    waits = [response.get(name) for name in ("delaySeconds", "stallSeconds")]
    if not ((status is None or (type(status) is int and 400 <= status <= 599))
            and (retry is None or (status is not None and type(retry) is int and retry >= 0))
            and all(wait is None or (type(wait) in (int, float) and wait >= 0) for wait in waits)
            and (status is not None or any(wait is not None for wait in waits))):
        raise ControlError(400, FAULT_FORM)
    return response


def faulted(fault, refuse, serve):
    """Answer a request under a fault of the common format (None: no fault): wait its delaySeconds;
    then `refuse(fault)` if it has a status, else `serve()` and wait its stallSeconds before the
    answer goes. Answers what refuse or serve answered."""
    if fault is None:
        return serve()
    time.sleep(float(fault.get("delaySeconds") or 0))
    if "status" in fault:
        return refuse(fault)
    answer = serve()
    time.sleep(float(fault.get("stallSeconds") or 0))
    return answer


class DeferredTouches:
    """Touches (POST /_standin/touch with "afterNextPage": true) held until the tenant's next read of a
    page of one collection, so that a client paging through it meets a change between two pages."""

    def __init__(self):
        self._held = {}
        self._lock = threading.Lock()

    def defer(self, tenant, collection, body):
        """Hold the touch `body` (without its afterNextPage) for that page read; the body held."""
        later = {k: v for k, v in body.items() if k != "afterNextPage"}
        with self._lock:
            self._held.setdefault((tenant, collection), []).append(later)
        return later

    def due(self, tenant, collection):
        """The touches held for the tenant's read of the collection, in order, taken (made once)."""
        with self._lock:
            return self._held.pop((tenant, collection), [])


def pending_reply(rule, pending):
    """The default answer to POST /_standin/faults: 200 with the tenant and its pending count."""
    return 200, {"tenant": rule["tenant"], "pending": pending}


class ControlPlane:
    """A stand-in's /_standin/ endpoints and the state behind them.

    Arguments: `seed` / `make` for `tenants` (Tenants); `health`, the payload of GET /_standin/health;
    `violations`, whether it keeps `violations` (a Log served at /_standin/violations); `numbered`,
    whether every log's entries carry a "seq" (one count for all its logs); `stamp`, the logs' "at";
    `check_fault(response)`, the check of each response of POST /_standin/faults (the response
    to queue, or ControlError 400); `fault_reply(rule, pending)`, that endpoint's (status,
    payload), where rule is {"tenant", "match", "method", "responses"} as queued.

    Attributes: tenants, requests (Log), violations (Log or None), faults (Faults), touches
    (DeferredTouches), routes ({(method, path): handler(request) -> (status, payload)}).
    """

    def __init__(self, seed=None, *, make=None, health=None, violations=False, numbered=False, stamp=utc_stamp,
                 check_fault=check_fault, fault_reply=pending_reply):
        self.tenants = Tenants(seed, make)
        self.faults, self.touches = Faults(), DeferredTouches()
        self._numbers = itertools.count(1) if numbered else None
        self._stamp, self._check, self._fault_reply = stamp, check_fault, fault_reply
        payload = dict(health or {"status": "ok"})
        self.routes = {
            ("GET", "/_standin/health"): lambda request: (200, dict(payload)),
            ("POST", "/_standin/faults"): lambda request: self.add_faults(request.control_body()),
            ("DELETE", "/_standin/faults"): self._clear_faults,
        }
        self.requests = self.log("requests")
        self.violations = self.log("violations") if violations else None

    def route(self, method, path, handler):
        """Serve `method path` with handler(request) -> (status, payload) (replacing a common one)."""
        self.routes[(method, path)] = handler

    def log(self, name):
        """A new Log served at GET /_standin/{name}[?tenant=T] -> {name: [...]} and DELETE (clears)."""
        book = Log(self._stamp, self._numbers)

        def read(request):
            return 200, {name: book.entries(request.query.get("tenant"))}

        def clear(request):
            book.clear(request.query.get("tenant"))
            return 200, {name: []}

        self.route("GET", f"/_standin/{name}", read)
        self.route("DELETE", f"/_standin/{name}", clear)
        return book

    def answer(self, request):
        """(status, payload) of a control request, or ControlError (404 for an endpoint it lacks).

        `request` is the stand-in's standin_http.RequestHandler: its command, route, query, base and
        control_body() are what handlers read.
        """
        handler = self.routes.get((request.command, request.route))
        if handler is None:
            raise ControlError(404, f"There is no control endpoint {request.command} {request.route}.")
        return handler(request)

    def add_faults(self, body):
        """POST /_standin/faults in the common format {"tenant", "match"?, "method"?, "responses": [...]}:
        queue the checked responses; fault_reply's (status, payload), or ControlError 400."""
        tenant, responses = body.get("tenant"), body.get("responses")
        if not isinstance(tenant, str) or not tenant:
            raise ControlError(400, "tenant must be a non-empty string.")
        if any(body.get(k) is not None and not isinstance(body[k], str) for k in ("match", "method")):
            raise ControlError(400, "match and method must be strings.")
        if not isinstance(responses, list) or not responses or not all(isinstance(r, dict) for r in responses):
            raise ControlError(400, "responses must be a non-empty list of objects.")
        rule = {"tenant": tenant, "match": body.get("match"), "method": (body.get("method") or "").upper() or None,
                "responses": [self._check(response) for response in responses]}
        pending = self.faults.add(tenant, rule["responses"], match=rule["match"], method=rule["method"])
        return self._fault_reply(rule, pending)

    def _clear_faults(self, request):
        self.faults.clear(request.query.get("tenant"))
        return 200, {"faults": []}
