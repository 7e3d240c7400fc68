"""Tests of the UpKeep stand-in (infra/local/standins/upkeep.py), and of what it serves against the vendor
dossier's example files.

The connector's tests trust the stand-in to answer like a real UpKeep account, so these check it against
the wire contract the connector is built on: session-token login and logout, Session-Token checks and
expiry, the {success, result(s)} envelopes, limit / offset paging, orderBy, the exclusive
updatedAtGreaterThan the connector's feeds read by, the other date ranges, equality filters, includes,
creates and patches with their side effects (completion, approval, stock), enum and reference checks,
404s, PUT refused, tenant isolation, faults, touch, the request log, violations and webhooks.

Where the dossier's example files are at hand (upkeep/ under $MILLWRIGHT_VENDOR_SPECS, by default
../shared/specs beside the checkout), what is served is also judged by them, read here independently of
the server: every envelope has the examples' keys, every object the keys of the example objects of its
list with the same JSON kinds (ISO date-times and yyyy-MM-dd dates told apart from other strings), the
examples' request bodies are accepted as they are, and the error bodies are the examples'. Without those
files these tests are skipped with the folder named; the rest run.

Needs only pytest: `.venv/bin/python -m pytest -q tests/standins/test_upkeep.py` from the repo root. The
servers run as subprocesses on ports the OS picks.
"""

import json
import os
import re
import shutil
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.error import HTTPError
from urllib.parse import quote, urlencode
from urllib.request import Request, urlopen

import pytest
from standin_process import launch, stop

REPO = Path(__file__).resolve().parents[2]
SERVER = REPO / "infra" / "local" / "standins" / "upkeep.py"
SEED_FILE = SERVER.with_name("upkeep_seed.json")
# The vendor dossier (reference, not part of the repository), as connectors/vendor_specs.rs finds it.
SPECS = Path(os.environ.get("MILLWRIGHT_VENDOR_SPECS") or REPO.parent / "shared" / "specs") / "upkeep"
PASSWORD = "Millwright-Demo-1"
ISO_MS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
DAY = re.compile(r"\d{4}-\d\d-\d\d")
LISTS = ("work-orders", "purchase-orders", "assets", "parts", "vendors", "locations", "users", "teams",
         "purchase-order-categories", "asset-downtime-statuses")
# Seed ids worth knowing.
WO_OPEN, WO_ON_HOLD, WO_IN_PROGRESS, WO_COMPLETE = "Wo6Rf1Gh8J", "Wo2Lk9Sd3F", "Wo4Bn7Cx1M", "Wo8Ty2Pe6Q"
PO_AWAITING, PO_APPROVED, PO_DECLINED, PO_FULFILLED = "Po9Xe3Vk6L", "Po6Tb1Qf4H", "Po4Ka7Zm2C", "Po2Mw8Dn5G"
MAIN_PLANT, WAREHOUSE = "Lc4Hq8Zp2A", "Lc7Rw2Xe5K"  # the root locations
BOILER_HOUSE, PRESS_LINE, ELECTRICAL_ROOM = "Lc9Vt3Wm7B", "Lc2Mn6Fd8Y", "Lc5Kb1Tz9Q"  # the last under Press Line 2
OIL, FILTER, GASKETS, BELT = "Pt7Cv4Jn6B", "Pt1Nb9Qs3R", "Pt5Gh2Lw8E", "Pt3Xd8Ka2L"
BOILER, COMPRESSOR = "As2Kd7Xn4P", "As8Fr1Yq6T"
DANA, LUIS = "Us3Pw8Ke5D", "Us6Tz2Ha9F"
VENDOR = "Vd7Jc4Mt2S"


def spec_json(name):
    """One of the dossier's example files; skips the test, naming the folder, when the dossier is absent."""
    if not SPECS.is_dir():
        pytest.skip(f"the UpKeep dossier is not at {SPECS} (set MILLWRIGHT_VENDOR_SPECS, or put it in "
                    "../shared/specs beside the checkout): nothing is checked against its examples here")
    return json.loads((SPECS / "examples" / name).read_text())


def moment(text):
    return datetime.fromisoformat(text)


def kind(value):
    """The JSON kind of a value, with ISO date-times and yyyy-MM-dd dates told apart from other strings."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "datetime" if ISO_MS.fullmatch(value) else "date" if DAY.fullmatch(value) else "string"
    return "array" if isinstance(value, list) else "object"


def assert_like(served, examples, where):
    """`served` has the shape of the example values `examples` (all for the same place): a kind one of
    them has (null fits anything), an object's keys those the examples' objects have, recursively."""
    kinds = {kind(e) for e in examples} - {"null"}
    found = kind(served)
    if found == "null" or not kinds:
        return
    assert found in kinds, f"{where} is {found}, the examples' {kinds}: {served!r}"
    if found == "object":
        objects = [e for e in examples if isinstance(e, dict)]
        keys = set().union(*(set(o) for o in objects))
        assert set(served) == keys, f"{where}: keys {sorted(set(served) ^ keys)} differ from the examples'"
        for key in keys:
            assert_like(served[key], [o[key] for o in objects if key in o], f"{where}.{key}")
    if found == "array":
        items = [item for e in examples if isinstance(e, list) for item in e]
        for index, item in enumerate(served):
            assert_like(item, items, f"{where}[{index}]")


class Reply:
    def __init__(self, status, headers, data):
        self.status, self.headers = status, {k.lower(): v for k, v in headers.items()}
        self.json = json.loads(data) if data else None

    def __repr__(self):
        return f"<{self.status} {json.dumps(self.json)[:400]}>"


class Client:
    """A plain HTTP client of a stand-in."""

    def __init__(self, base):
        self.base = base

    def call(self, method, target, params=None, body=None, form=None, token=None, headers=None, raw_query=None):
        url = self.base + target
        if params is not None:
            url += "?" + urlencode(params, doseq=True)
        if raw_query is not None:
            url += "?" + raw_query
        headers = dict(headers or {})
        data = None
        if body is not None:
            data, headers["Content-Type"] = json.dumps(body).encode(), "application/json"
        if form is not None:
            data, headers["Content-Type"] = urlencode(form, doseq=True).encode(), "application/x-www-form-urlencoded"
        if token is not None:
            headers["Session-Token"] = token
        try:
            with urlopen(Request(url, data=data, method=method, headers=headers), timeout=30) as answer:
                return Reply(answer.status, dict(answer.headers), answer.read())
        except HTTPError as error:
            return Reply(error.code, dict(error.headers), error.read())

    def login(self, email):
        reply = self.call("POST", "/api/v2/auth", body={"email": email, "password": PASSWORD})
        assert reply.status == 200, reply
        return reply.json["result"]["sessionToken"]

    def control(self, method, path, body=None, **params):
        params = {k: v for k, v in params.items() if v is not None}
        return self.call(method, f"/_standin/{path}", params=params or None, body=body)

    def violations(self, tenant):
        return self.control("GET", "violations", tenant=tenant).json["violations"]

    def requests(self, tenant):
        return self.control("GET", "requests", tenant=tenant).json["requests"]


class Session:
    """A tenant logged in: its email, token, and calls under /api/v2."""

    def __init__(self, client, email=None):
        self.client, self.email = client, email or f"t-{uuid.uuid4().hex[:12]}@example.test"
        self.token = client.login(self.email)

    def call(self, method, path, **kwargs):
        kwargs.setdefault("token", self.token)
        return self.client.call(method, "/api/v2/" + path, **kwargs)

    def get(self, path, params=None, **kwargs):
        return self.call("GET", path, params=params, **kwargs)

    def results(self, path, **params):
        reply = self.get(path, params)
        assert reply.status == 200 and reply.json["success"] is True and set(reply.json) == {"success", "results"}, reply
        return reply.json["results"]

    def one(self, path, **params):
        reply = self.get(path, params or None)
        assert reply.status == 200 and set(reply.json) == {"success", "result"}, reply
        return reply.json["result"]

    def post(self, path, body=None, **kwargs):
        return self.call("POST", path, body=body, **kwargs)

    def patch(self, path, body=None, **kwargs):
        return self.call("PATCH", path, body=body, **kwargs)

    def written(self, reply):
        assert reply.status == 200 and set(reply.json) == {"success", "result"} and reply.json["success"] is True, reply
        return reply.json["result"]

    def everything(self):
        """Every object of every list, by id."""
        return {r["id"]: r for name in LISTS for r in self.results(name, limit="1000")}

    def violations(self):
        return self.client.violations(self.email)


def start(*args, script=SERVER, cwd=None):
    """A stand-in process and a Client of it (whose `started` is just before the process started)."""
    started = datetime.now(timezone.utc)
    process, origin = launch(script, "upkeep", *args, cwd=cwd)
    client = Client(origin)
    client.started = started
    return process, client


@pytest.fixture(scope="module")
def client():
    process, served = start()
    yield served
    stop(process)


@pytest.fixture(scope="module")
def short():
    """A stand-in whose tokens live one second, whose pages hold at most 3, with one static token."""
    process, served = start("--token-ttl", "1", "--max-limit", "3", "--static-token", "upkeep-api-token-1=static@example.test")
    yield served
    stop(process)


@pytest.fixture
def session(client):
    return Session(client)


def error_of(reply, status, message=None):
    assert reply.status == status and set(reply.json) == {"success", "message"} and reply.json["success"] is False, reply
    if message is not None:
        assert reply.json["message"] == message, reply
    return reply.json["message"]


# The dossier's examples.

def test_login_and_logout_have_the_examples_shape(client):
    email = f"t-{uuid.uuid4().hex[:12]}@example.test"
    reply = client.call("POST", "/api/v2/auth", body={"email": email, "password": PASSWORD})
    assert reply.status == 200
    assert_like(reply.json, [spec_json("auth-login-response.json")], "login")
    token = reply.json["result"]["sessionToken"]
    assert re.fullmatch(r"r:[a-z0-9]{32}", token)
    expires = moment(reply.json["result"]["expiresAt"])
    assert timedelta(minutes=59) < expires - datetime.now(timezone.utc) <= timedelta(hours=1)
    out = client.call("DELETE", "/api/v2/auth", token=token)
    assert out.status == 200 and out.json == spec_json("auth-logout-response.json")


EXAMPLE_LISTS = {"work-orders": "work-orders-list-response.json", "purchase-orders": "purchase-orders-list-response.json",
                 "assets": "assets-list-response.json", "parts": "parts-list-response.json",
                 "vendors": "vendors-list-response.json", "locations": "locations-list-response.json",
                 "users": "users-list-response.json", "purchase-order-categories": "purchase-order-categories-list-response.json"}


@pytest.mark.parametrize("name", EXAMPLE_LISTS)
def test_lists_have_the_examples_envelope_keys_and_kinds(session, name):
    example = spec_json(EXAMPLE_LISTS[name])
    reply = session.get(name)
    assert set(reply.json) == set(example) == {"success", "results"}
    assert reply.json["results"], f"the seed has no {name}"
    assert_like(reply.json, [example], name)
    one = session.one(f"{name}/{reply.json['results'][0]['id']}")
    assert_like(one, example["results"], f"{name}/{{id}}")


def test_a_work_order_read_has_the_examples_shape_and_includes_expand(session):
    plain, example = session.get(f"work-orders/{WO_IN_PROGRESS}"), spec_json("work-order-get-response.json")
    assert set(plain.json) == set(example)
    assert_like(plain.json, [example], "work order")
    expanded = session.get(f"work-orders/{WO_IN_PROGRESS}", {"includes": "asset,location"}).json
    with_includes = spec_json("work-order-get-with-includes-response.json")
    assert_like(expanded, [with_includes], "work order with includes")
    assert expanded["result"]["asset"]["id"] == BOILER and expanded["result"]["location"]["id"] == BOILER_HOUSE


def test_the_example_work_order_bodies_are_accepted(session):
    stock = session.one(f"parts/{GASKETS}")["quantity"]
    body = spec_json("work-order-create-request.json")
    created = session.written(session.post("work-orders", body))
    assert_like({"success": True, "result": created}, [spec_json("work-order-create-response.json")], "created")
    sent = {k: v for k, v in body.items() if k != "decreaseInventory"}
    assert {k: created[k] for k in sent} == sent
    assert created["status"] == "open" and created["objectLocationForWorkOrder"] == body["location"]
    assert created["assignedByUser"] == DANA and created["updatedBy"] == DANA
    assert session.one(f"parts/{GASKETS}")["quantity"] == stock, "decreaseInventory manual leaves the stock"
    update = spec_json("work-order-update-request.json")
    updated = session.written(session.patch(f"work-orders/{created['id']}", update))
    assert_like({"success": True, "result": updated}, [spec_json("work-order-update-response.json")], "updated")
    assert {k: updated[k] for k in update} == update
    assert updated["title"] == created["title"] and moment(updated["updatedAt"]) > moment(created["updatedAt"])


def test_the_example_purchase_order_body_is_accepted(session):
    body = spec_json("purchase-order-create-request.json")
    created = session.written(session.post("purchase-orders", body))
    assert_like(created, spec_json("purchase-orders-list-response.json")["results"], "created PO")
    assert created["status"] == "awaiting" and created["purchaseOrderNumber"] == body["purchaseOrderNumber"]
    assert created["parts"] == body["parts"] and created["dueDate"] == body["dueDate"] and created["poDate"] == body["poDate"]
    assert created["customFieldsPO"] == [{**f, "unit": ""} for f in body["customFieldsPO"]]
    assert created["createdByUser"] == DANA and created["approvedAt"] is None


def test_the_example_webhook_body_is_accepted(session):
    reply = session.post("webhooks", spec_json("webhook-create-request.json"))
    assert reply.status == 200
    assert_like(reply.json, [spec_json("webhook-create-response.json")], "webhook")
    assert re.fullmatch(r"[A-Za-z0-9]{10}", reply.json["webhookId"])


def test_pm_templates_have_the_examples_shape(session):
    example = spec_json("pm-list-response.json")
    reply = session.get("pm", {"includes": "schedules", "page": "1", "pageSize": "100"})
    assert reply.status == 200 and set(reply.json) == set(example)
    assert_like(reply.json, [example], "pm")
    assert reply.json["pagination"] == {"currentPage": 1, "currentPageSize": 100, "nextPage": None, "previousPage": None,
                                        "totalCount": 2, "totalPages": 1}
    first = session.get("pm", {"pageSize": "1"}).json
    assert first["pagination"]["nextPage"] == 2 and first["pagination"]["totalPages"] == 2
    assert len(first["data"]) == 1 and "schedules" not in first["data"][0], "schedules come only when included"


def test_error_bodies_are_the_examples(session, client):
    assert session.post("work-orders", {"description": "no title"}).json == spec_json("error-400-response.json")
    assert client.call("GET", "/api/v2/work-orders", token="r:" + "0" * 32).json == spec_json("error-401-response.json")
    assert session.get("work-orders/Wo0000000X").json == spec_json("error-404-response.json")


# The seed.

def test_the_seed(session, client):
    every = {name: session.results(name, limit="1000") for name in LISTS}
    wos, pos = every["work-orders"], every["purchase-orders"]
    assert {wo["status"] for wo in wos} == {"open", "onHold", "inProgress", "complete"}
    assert {wo["priority"] for wo in wos} == {0, 1, 2, 3}
    assert {po["status"] for po in pos} == {"awaiting", "approved", "declined", "fulfilled"}
    status = {r["id"]: r["status"] for r in wos + pos}
    assert [status[i] for i in (WO_OPEN, WO_ON_HOLD, WO_IN_PROGRESS, WO_COMPLETE)] == ["open", "onHold", "inProgress", "complete"]
    assert [status[i] for i in (PO_AWAITING, PO_APPROVED, PO_DECLINED, PO_FULFILLED)] == ["awaiting", "approved", "declined", "fulfilled"]
    assert all(po["parts"] for po in pos) and any(po["customFieldsPO"] for po in pos)
    assert all((wo["status"] == "complete") == (wo["dateCompleted"] is not None) for wo in wos)
    parts = {p["id"]: p for p in every["parts"]}
    assert parts[OIL]["quantity"] == 0 and 0 < parts[FILTER]["quantity"] < parts[FILTER]["minimumQuantity"]
    assert [a["id"] for a in every["assets"] if a["status"] == "inactive"] == [COMPRESSOR]
    locations = {loc["id"]: loc for loc in every["locations"]}
    assert {i for i, loc in locations.items() if loc["parentLocation"] is None} == {MAIN_PLANT, WAREHOUSE}
    assert locations[ELECTRICAL_ROOM]["parentLocation"] == PRESS_LINE and locations[PRESS_LINE]["parentLocation"] == MAIN_PLANT
    assert len(every["vendors"]) == 2 and len(every["users"]) >= 2 and every["purchase-order-categories"]
    everything = [r for records in every.values() for r in records]
    assert all(re.fullmatch(r"[A-Za-z0-9]{10}", r["id"]) for r in everything)
    updated = [r["updatedAt"] for r in everything]
    assert all(ISO_MS.fullmatch(t) for t in updated) and len(set(updated)) == len(updated), "distinct updatedAt"
    newest = max(moment(t) for t in updated)
    assert client.started - timedelta(days=2) < newest <= datetime.now(timezone.utc) - timedelta(days=1) + timedelta(seconds=5)
    for records in every.values():
        by_time = [r["id"] for r in sorted(records, key=lambda r: r["updatedAt"])]
        if len(records) > 3:
            assert by_time != sorted(by_time), "updatedAt order is not id order"
    other = Session(client)
    assert other.results("assets") == every["assets"], "every tenant starts from the same seed"


def test_the_seed_file_holds_every_list_with_known_keys():
    seed = json.loads(SEED_FILE.read_text())
    assert set(LISTS) | {"pm", "about"} == set(seed)
    for name in LISTS:
        records = [{**seed[name]["defaults"], **r} for r in seed[name]["records"]]
        assert records and len({tuple(sorted(r)) for r in records}) == 1, f"{name}: every record has the same keys"


# Authentication.

@pytest.mark.parametrize("body", [{"email": "a@example.test", "password": "wrong"}, {"email": "a@example.test"},
                                  {"password": PASSWORD}, {}])
def test_a_refused_login(client, body):
    error_of(client.call("POST", "/api/v2/auth", body=body), 401, "Invalid email or password")


def test_a_form_login_and_the_email_is_the_tenant(client):
    email = f"t-{uuid.uuid4().hex[:12]}@example.test"
    reply = client.call("POST", "/api/v2/auth/", form={"email": email, "password": PASSWORD})
    assert reply.status == 200, reply
    token = reply.json["result"]["sessionToken"]
    assert client.call("GET", "/api/v2/work-orders/", token=token).status == 200, "a trailing slash is tolerated"
    logged = client.requests(email)
    assert [(r["method"], r["path"], r["status"]) for r in logged] == [("POST", "/api/v2/auth/", 200), ("GET", "/api/v2/work-orders/", 200)]
    assert logged[0]["body"] == {"email": email, "password": "present"} and PASSWORD not in json.dumps(client.requests(None))


def test_session_token_checks(client, session):
    error_of(client.call("GET", "/api/v2/assets"), 401, "Missing Session-Token header")
    error_of(client.call("GET", "/api/v2/assets", token="r:" + "a" * 32), 401, "Invalid session token")
    assert client.call("GET", "/api/v2/assets", headers={"SESSION-TOKEN": session.token}).status == 200
    assert client.call("GET", "/api/v2/assets", headers={"session-token": session.token}).status == 200
    bearer = client.call("GET", "/api/v2/assets", headers={"Authorization": f"Bearer {session.token}"})
    error_of(bearer, 401)
    assert any("Authorization" in v["reason"] for v in client.violations(None))
    error_of(client.call("DELETE", "/api/v2/auth"), 401)
    assert client.call("DELETE", "/api/v2/auth", token=session.token).status == 200
    error_of(session.get("assets"), 401, "Invalid session token")
    other = Session(client, session.email)
    assert other.get("assets").status == 200, "a new login after a logout works"


def test_expired_tokens(client, session):
    second = Session(client, session.email)
    bystander = Session(client)
    reply = client.control("POST", "expire-tokens", {"tenant": session.email})
    assert reply.status == 200 and reply.json == {"tenant": session.email, "expired": 2}
    error_of(session.get("assets"), 401, "Session token has expired")
    error_of(second.get("assets"), 401, "Session token has expired")
    assert bystander.get("assets").status == 200, "other tenants' tokens live on"
    assert Session(client, session.email).get("assets").status == 200
    assert [(r["path"], r["status"]) for r in client.requests(session.email)][-4:] == [
        ("/api/v2/assets", 401), ("/api/v2/assets", 401), ("/api/v2/auth", 200), ("/api/v2/assets", 200)]
    assert client.control("POST", "expire-tokens", {}).status == 400


def test_tokens_expire_after_their_ttl_and_static_tokens_do_not(short):
    session = Session(short)
    reply = short.call("POST", "/api/v2/auth", body={"email": session.email, "password": PASSWORD})
    expires = moment(reply.json["result"]["expiresAt"])
    assert timedelta(0) < expires - datetime.now(timezone.utc) <= timedelta(seconds=1)
    assert session.get("assets").status == 200
    time.sleep(1.1)
    error_of(session.get("assets"), 401, "Session token has expired")
    static = short.call("GET", "/api/v2/vendors", token="upkeep-api-token-1")
    assert static.status == 200 and short.requests("static@example.test")[-1]["status"] == 200


# Lists.

def test_paging_in_the_default_order(session):
    everything = session.results("work-orders", limit="1000")
    assert len(everything) == 8
    expected = sorted(sorted(everything, key=lambda r: r["id"]), key=lambda r: r["createdAt"], reverse=True)
    assert everything == expected, "createdAt DESC, id ASC"
    pages = [session.results("work-orders", limit="3", offset=str(offset)) for offset in (0, 3, 6)]
    assert [len(p) for p in pages] == [3, 3, 2] and [r for p in pages for r in p] == everything
    assert session.results("work-orders", limit="3", offset="9") == [], "past the end: []"
    assert len(session.results("work-orders")) == 8, "the default limit is 100"
    for params in ({"limit": "0"}, {"limit": "x"}, {"offset": "-1"}, {"limit": "2.5"}):
        error_of(session.get("work-orders", params), 400)
    assert len(session.violations()) == 4


def test_a_limit_above_the_most_is_clamped_and_noted(short):
    session = Session(short)
    assert len(session.results("work-orders", limit="200")) == 3
    assert len(session.results("work-orders")) == 3, "the default limit is within the most too"
    assert [v["reason"] for v in session.violations()] == [
        "limit 200 is above the most the stand-in serves (3): clamped"]


def test_order_by(session):
    wos = session.results("work-orders")
    ascending = session.results("work-orders", orderBy="updatedAt ASC")
    assert [r["updatedAt"] for r in ascending] == sorted(r["updatedAt"] for r in wos)
    assert session.results("work-orders", orderBy="updatedAt DESC") == ascending[::-1]
    assert session.results("work-orders", sort="updatedAt") == ascending, "sort is an alias, ASC the default"
    mixed = session.results("work-orders", orderBy="status ASC, priority DESC")
    assert [(r["status"], -r["priority"], r["id"]) for r in mixed] == sorted((r["status"], -r["priority"], r["id"]) for r in wos)
    by_priority = session.results("work-orders", orderBy="priority ASC")
    assert [(r["priority"], r["id"]) for r in by_priority] == sorted((r["priority"], r["id"]) for r in wos), "ties by id ASC"
    due = session.results("work-orders", orderBy="dueDate ASC")
    assert due[0]["dueDate"] is None, "null sorts first"
    for bad in ("bogus ASC", "updatedAt UP", "updatedAt ASC extra", "parts ASC"):
        error_of(session.get("work-orders", {"orderBy": bad}), 400)
    assert len(session.violations()) == 4


def test_updated_at_greater_than_is_exclusive_as_the_connector_reads(session):
    ascending = session.results("parts", orderBy="updatedAt ASC")
    mark = ascending[2]["updatedAt"]
    # The connector's own read: limit, orderBy, updatedAtGreaterThan, offset, form-encoded as reqwest does.
    query = urlencode([("limit", "200"), ("orderBy", "updatedAt ASC"), ("updatedAtGreaterThan", mark), ("offset", "0")])
    assert "orderBy=updatedAt+ASC" in query
    reply = session.get("parts", raw_query=query)
    assert reply.status == 200 and reply.json["results"] == ascending[3:], "strictly greater"
    bound = (moment(mark) - timedelta(milliseconds=1)).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    assert session.results("parts", orderBy="updatedAt ASC", updatedAtGreaterThan=bound) == ascending[2:]
    epoch = str(int(moment(mark).timestamp() * 1000))
    assert session.results("parts", orderBy="updatedAt ASC", updatedAtGreaterThan=epoch) == ascending[3:]
    offset = moment(mark).astimezone(timezone(timedelta(hours=2))).isoformat(timespec="milliseconds")
    encoded = session.get("parts", raw_query="orderBy=updatedAt%20ASC&updatedAtGreaterThan=" + quote(offset, safe=""))
    assert encoded.json["results"] == ascending[3:], "an offset is honoured"
    plus = session.get("parts", raw_query="updatedAtGreaterThan=" + offset)  # '+' not encoded: a space
    assert "URL-encoded" in error_of(plus, 400)
    error_of(session.get("parts", {"updatedAtGreaterThan": "yesterday"}), 400)
    latest = session.results("parts", updatedAtGreaterThan=ascending[-1]["updatedAt"])
    assert latest == []


def test_other_date_ranges(session):
    wos = session.results("work-orders")
    created = sorted(r["createdAt"] for r in wos)[4]
    assert {r["id"] for r in session.results("work-orders", createdAtLessThan=created)} == {
        r["id"] for r in wos if r["createdAt"] < created}
    due = sorted(r["dueDate"] for r in wos if r["dueDate"])[3]
    assert {r["id"] for r in session.results("work-orders", dueDateGreaterThan=due)} == {
        r["id"] for r in wos if r["dueDate"] and r["dueDate"] > due}, "a null dueDate is outside every range"
    pos = session.results("purchase-orders")
    day = sorted(po["dueDate"] for po in pos)[2]
    assert {po["id"] for po in session.results("purchase-orders", dueDateGreaterThan=day + "T00:00:00.000Z")} == {
        po["id"] for po in pos if po["dueDate"] > day}, "a yyyy-MM-dd dueDate compares as its midnight"
    upper = sorted(r["updatedAt"] for r in wos)[5]
    both = session.results("work-orders", updatedAtGreaterThan=sorted(r["updatedAt"] for r in wos)[1], updatedAtLessThan=upper)
    assert len(both) == 3


def test_equality_filters(session):
    assert {r["id"] for r in session.results("work-orders", status="open")} == {WO_OPEN, "Wo3Uz7Bq5T"}
    assert len(session.results("work-orders", status=["open", "complete"])) == 4, "a repeated filter matches any"
    assert {r["priority"] for r in session.results("work-orders", priority="3")} == {3}
    assert {r["id"] for r in session.results("work-orders", asset=COMPRESSOR, status="complete")} == {WO_COMPLETE}
    assert {r["id"] for r in session.results("locations", parentLocation="null")} == {MAIN_PLANT, WAREHOUSE}
    assert {r["id"] for r in session.results("locations", parentLocation=MAIN_PLANT)} == {BOILER_HOUSE, PRESS_LINE}
    assert [r["id"] for r in session.results("assets", status="inactive")] == [COMPRESSOR]
    assert [r["id"] for r in session.results("purchase-orders", status="declined")] == [PO_DECLINED]
    assert session.results("vendors", businessName="Nobody") == []
    assert "status must be one of open, onHold, inProgress, complete" == error_of(session.get("work-orders", {"status": "done"}), 400)
    error_of(session.get("purchase-orders", {"status": "pending"}), 400)
    error_of(session.get("work-orders", {"priority": "high"}), 400)
    assert len(session.results("work-orders", updatedSince="2020-01-01")) == 8, "an unknown parameter is ignored"
    assert [v["reason"] for v in session.violations()] == ["unknown query parameter updatedSince (ignored)"]


def test_includes_in_the_three_spellings(session):
    for params in ({"includes": ["asset", "team"]}, {"includes[]": ["asset", "team"]}, {"includes": "asset,team"}):
        wo = session.one(f"work-orders/{WO_IN_PROGRESS}", **params)
        assert wo["asset"]["id"] == BOILER and wo["team"]["name"] == "Mechanical Crew", params
        assert wo["location"] == BOILER_HOUSE, "not included: an id"
    listed = {r["id"]: r for r in session.results("work-orders", includes="asset,requestedByUser,bogus")}
    assert listed["Wo5Ne8Vy1P"]["asset"] is None and listed[WO_ON_HOLD]["requestedByUser"]["id"] == "Us8Kq4Nb7W"
    assert listed[WO_OPEN]["asset"]["name"] == "Press Motor Starter MS-7"
    po = session.one(f"purchase-orders/{PO_APPROVED}", includes="vendor,approvedByUser,declinedByUser")
    assert po["vendor"]["businessName"] == "Tri-County Hydraulics" and po["approvedByUser"]["id"] == DANA and po["declinedByUser"] is None
    part = session.one(f"parts/{OIL}", includes="location,files")
    assert part["location"]["name"] == "Warehouse North"
    assert session.violations() == []


# Writes.

def test_create_a_work_order_and_its_numbering(session):
    before = session.everything()
    created = session.written(session.post("work-orders", {"title": "Check press guard", "priority": 1, "category": "Safety",
                                                          "dueDate": 1767225600000, "location": PRESS_LINE}))
    assert created["workOrderNo"] == "1036" and created["status"] == "open" and created["description"] == ""
    assert created["dueDate"] == "2026-01-01T00:00:00.000Z", "epoch milliseconds become ISO"
    assert created["objectLocationForWorkOrder"] == PRESS_LINE and created["assignedByUser"] is None
    assert created["createdAt"] == created["updatedAt"] and re.fullmatch(r"[A-Za-z0-9]{10}", created["id"])
    assert all(moment(created["updatedAt"]) > moment(r["updatedAt"]) for r in before.values())
    assert session.one(f"work-orders/{created['id']}") == created
    assert session.results("work-orders", limit="1")[0]["id"] == created["id"], "newest first"
    second = session.written(session.post("work-orders", {"title": "Another"}))
    assert second["workOrderNo"] == "1037" and moment(second["updatedAt"]) > moment(created["updatedAt"])


def test_a_form_body_with_arrays_and_stock(session):
    stock = {p["id"]: p["quantity"] for p in session.results("parts")}
    form = {"title": "Form-made", "priority": "2", "time": "1.5", "parts[]": [GASKETS, BELT],
            "respectivePartQuantityUsed[]": ["2", "1"], "additionalUsers": [LUIS, DANA]}
    created = session.written(session.post("work-orders", form=form))
    assert (created["priority"], created["time"], created["parts"], created["respectivePartQuantityUsed"]) == (2, 1.5, [GASKETS, BELT], [2, 1])
    assert created["additionalUsers"] == [LUIS, DANA]
    parts = {p["id"]: p for p in session.results("parts")}
    assert parts[GASKETS]["quantity"] == stock[GASKETS] - 2 and parts[BELT]["quantity"] == stock[BELT] - 1
    assert parts[GASKETS]["updatedAt"] == created["updatedAt"], "the stock changes with the write"
    changed = session.written(session.patch(f"work-orders/{created['id']}", {"parts": [GASKETS], "respectivePartQuantityUsed": [3]}))
    parts = {p["id"]: p for p in session.results("parts")}
    assert parts[GASKETS]["quantity"] == stock[GASKETS] - 3 and parts[BELT]["quantity"] == stock[BELT], "usage changes move stock"
    manual = {"parts": [], "respectivePartQuantityUsed": [], "decreaseInventory": "manual"}
    session.written(session.patch(f"work-orders/{changed['id']}", manual))
    assert session.one(f"parts/{GASKETS}")["quantity"] == stock[GASKETS] - 3
    one_each = session.written(session.post("work-orders", {"title": "Default quantities", "parts": [FILTER]}))
    assert one_each["respectivePartQuantityUsed"] == [1] and session.one(f"parts/{FILTER}")["quantity"] == stock[FILTER] - 1


@pytest.mark.parametrize("body, message", [
    ({"description": "x"}, "title is required"),
    ({"title": ""}, "title is required"),
    ({"title": "x", "priority": 4}, "priority must be an integer from 0 to 3"),
    ({"title": "x", "priority": "2"}, "priority must be an integer from 0 to 3"),
    ({"title": "x", "priority": True}, "priority must be an integer from 0 to 3"),
    ({"title": "x", "status": "closed"}, "status must be one of open, onHold, inProgress, complete"),
    ({"title": "x", "asset": "As0000000Q"}, "Invalid asset: Asset As0000000Q not found"),
    ({"title": "x", "location": 5}, "location must be an id"),
    ({"title": "x", "team": "Tm0000000Q"}, "Invalid team: Team Tm0000000Q not found"),
    ({"title": "x", "dueDate": "next week"}, "dueDate must be an ISO-8601 date-time or epoch milliseconds"),
    ({"title": "x", "parts": [GASKETS], "respectivePartQuantityUsed": [1, 2]}, "parts and respectivePartQuantityUsed must have the same length"),
    ({"title": "x", "decreaseInventory": "sometimes"}, "decreaseInventory must be one of auto, manual"),
    ({"title": "x", "time": -1}, "time must be a number of at least 0"),
])
def test_work_order_refusals(session, body, message):
    before = session.results("work-orders")
    error_of(session.post("work-orders", body), 400, message)
    assert session.results("work-orders") == before and session.violations() == []


@pytest.mark.parametrize("body, message", [
    ({"title": "x", "dueAt": "2024-01-01T00:00:00Z"}, "Unknown field: dueAt"),
    ({"title": "x", "workOrderNo": "9"}, "workOrderNo cannot be set"),
    ({"title": "x", "updatedAt": "2024-01-01T00:00:00.000Z"}, "updatedAt cannot be set"),
])
def test_unknown_and_read_only_fields_are_refused_and_noted(session, body, message):
    error_of(session.post("work-orders", body), 400, message)
    assert len(session.violations()) == 1


def test_work_order_status_moves(session):
    stamps = []
    for status in ("inProgress", "onHold", "complete"):
        wo = session.written(session.patch(f"work-orders/{WO_OPEN}", {"status": status}))
        stamps.append(moment(wo["updatedAt"]))
        assert wo["status"] == status
    assert stamps == sorted(set(stamps)), "every write is later than the one before"
    assert wo["dateCompleted"] == wo["updatedAt"] and wo["completedByUser"] == DANA
    again = session.written(session.patch(f"work-orders/{WO_OPEN}", {"status": "complete", "time": 2}))
    assert again["dateCompleted"] == wo["dateCompleted"], "staying complete keeps the date"
    reopened = session.written(session.patch(f"work-orders/{WO_OPEN}", {"status": "open"}))
    assert reopened["dateCompleted"] is None and reopened["completedByUser"] is None
    assigned = session.written(session.patch(f"work-orders/{WO_OPEN}", {"assignedToUser": LUIS, "location": WAREHOUSE, "asset": None}))
    assert (assigned["assignedByUser"], assigned["objectLocationForWorkOrder"], assigned["asset"]) == (DANA, WAREHOUSE, None)
    assert assigned["title"] == "Starter MS-7 contacts pitted", "a PATCH changes only what it names"
    error_of(session.patch(f"work-orders/{WO_OPEN}", {"title": None}), 400, "title is required")
    error_of(session.patch(f"work-orders/{WO_OPEN}", {"status": "cancelled"}), 400)


def test_a_demo_users_session_acts_as_that_user(client):
    luis = Session(client, "luis.ortega@millwright.example")
    wo = luis.written(luis.patch(f"work-orders/{WO_OPEN}", {"status": "complete"}))
    assert wo["completedByUser"] == LUIS and wo["updatedBy"] == LUIS


def test_create_a_purchase_order(session):
    created = session.written(session.post("purchase-orders", {"title": "Belts", "vendor": VENDOR, "poDate": "2024-09-01",
                                                              "parts": [{"id": BELT, "quantity": 4}]}))
    assert created["purchaseOrderNumber"] == 1006 and created["status"] == "awaiting" and created["description"] == ""
    assert created["customFieldsPO"] == [] and created["dueDate"] is None and created["createdByUser"] == DANA
    assert "companyCity" not in created
    with_city = session.written(session.patch(f"purchase-orders/{created['id']}", {"companyCity": "Dayton"}))
    assert with_city["companyCity"] == "Dayton"
    assert session.written(session.post("purchase-orders", {"title": "Next"}))["purchaseOrderNumber"] == 1007


@pytest.mark.parametrize("body, message", [
    ({"vendor": VENDOR}, "title is required"),
    ({"title": "x", "poDate": "2024-09-01T00:00:00.000Z"}, "poDate must be a date yyyy-MM-dd"),
    ({"title": "x", "dueDate": "2024-02-30"}, "dueDate must be a date yyyy-MM-dd"),
    ({"title": "x", "vendor": "Vd0000000Q"}, "Invalid vendor: Vendor Vd0000000Q not found"),
    ({"title": "x", "category": "Spare Parts"}, "Invalid category: Purchase order category Spare Parts not found"),
    ({"title": "x", "parts": [{"id": BELT, "quantity": 0}]}, "parts[0].quantity must be a number above 0"),
    ({"title": "x", "parts": [{"id": "Pt0000000Q", "quantity": 1}]}, "Invalid parts[0].id: Part Pt0000000Q not found"),
    ({"title": "x", "parts": [{"id": BELT, "quantity": 1, "price": 3}]}, 'parts[0] must be {"id": a part id, "quantity": a number}'),
    ({"title": "x", "parts": BELT}, "parts must be an array"),
    ({"title": "x", "customFieldsPO": [{"value": 1}]}, 'customFieldsPO must be an array of {"name", "value", "unit"?}'),
    ({"title": "x", "status": "pending"}, "status must be one of awaiting, approved, declined, fulfilled"),
    ({"title": "x", "purchaseOrderNumber": "12"}, "purchaseOrderNumber must be an integer of at least 1"),
])
def test_purchase_order_refusals(session, body, message):
    error_of(session.post("purchase-orders", body), 400, message)


def test_purchase_order_status_moves_and_stock(session):
    approved = session.written(session.patch(f"purchase-orders/{PO_AWAITING}", {"status": "approved"}))
    assert approved["approvedAt"] == approved["updatedAt"] and approved["approvedByUser"] == DANA
    stock = session.one(f"parts/{FILTER}")["quantity"]
    fulfilled = session.written(session.patch(f"purchase-orders/{PO_AWAITING}", {"status": "fulfilled"}))
    assert fulfilled["fulfilledAt"] == fulfilled["updatedAt"] and fulfilled["fulfilledByUser"] == DANA
    assert fulfilled["approvedAt"] == approved["approvedAt"], "fulfilment keeps the approval"
    part = session.one(f"parts/{FILTER}")
    assert part["quantity"] == stock + 6 and part["updatedAt"] == fulfilled["updatedAt"]
    error_of(session.patch(f"purchase-orders/{PO_AWAITING}", {"status": "awaiting"}), 400, "A fulfilled purchase order cannot change status")
    again = session.written(session.patch(f"purchase-orders/{PO_AWAITING}", {"status": "fulfilled", "description": "done"}))
    assert again["fulfilledAt"] == fulfilled["fulfilledAt"]
    assert session.one(f"parts/{FILTER}")["quantity"] == stock + 6, "stock is added once"
    declined = session.written(session.patch(f"purchase-orders/{PO_APPROVED}", {"status": "declined"}))
    assert declined["declinedAt"] == declined["updatedAt"] and declined["approvedAt"] is None and declined["approvedByUser"] is None
    back = session.written(session.patch(f"purchase-orders/{PO_APPROVED}", {"status": "awaiting"}))
    assert back["declinedAt"] is None and back["declinedByUser"] is None
    change = {"customFieldsPO": [{"name": "ERPReference", "value": "PR-1", "unit": "x"}], "parts": [{"id": OIL, "quantity": 2.5}]}
    edited = session.written(session.patch(f"purchase-orders/{PO_DECLINED}", change))
    assert {k: edited[k] for k in change} == change
    error_of(session.patch(f"purchase-orders/{PO_DECLINED}", form={"customFieldsPO": "x"}), 400, "customFieldsPO must be sent in a JSON body")


def test_other_lists_write_with_their_rules(session):
    part = session.written(session.patch(f"parts/{OIL}", {"quantity": 7}))
    assert part["quantity"] == 7, "a part's quantity is overwritten"
    error_of(session.patch(f"assets/{BOILER}", {"status": "broken"}), 400, "status must be one of active, inactive")
    asset = session.written(session.patch(f"assets/{COMPRESSOR}", {"status": "active", "downtimeStatus": None}))
    assert asset["status"] == "active" and asset["downtimeStatus"] is None
    error_of(session.patch(f"assets/As6Wj3Lp9D", {"parentAsset": "As4Zc8Rv1N"}), 400, "Invalid parentAsset: a asset cannot be its own ancestor")
    error_of(session.patch(f"locations/{MAIN_PLANT}", {"parentLocation": ELECTRICAL_ROOM}), 400)
    moved = session.written(session.patch(f"locations/{PRESS_LINE}", form={"parentLocation": WAREHOUSE, "hideMap": "false", "latitude": "39.5"}))
    assert (moved["parentLocation"], moved["hideMap"], moved["latitude"]) == (WAREHOUSE, False, 39.5)
    vendor = session.written(session.post("vendors", {"businessName": "Gem City Electric", "email": "ops@gem.example"}))
    assert vendor["website"] is None
    assert set(vendor) == {"id", "businessName", "email", "phoneNumber", "address", "website", "createdAt", "updatedAt"}
    error_of(session.post("vendors", {"email": "x@y"}), 400, "businessName is required")
    location = session.written(session.post("locations", {"name": "Roof", "parentLocation": MAIN_PLANT}))
    assert location["createdByUser"] == DANA and location["hideMap"] is False
    error_of(session.post("users", {"email": "new@example.test"}), 404, "Cannot POST /api/v2/users")
    error_of(session.patch(f"teams/Tm2Rc6Uv8N", {"name": "x"}), 404)
    assert session.violations() == []


def test_not_found_put_and_unknown_routes(session, client):
    error_of(session.get("work-orders/Wo0000000X"), 404, "Work order not found")
    error_of(session.patch("purchase-orders/Po0000000X", {"title": "x"}), 404, "Purchase order not found")
    error_of(session.get("parts/nope"), 404, "Part not found")
    error_of(session.call("PUT", f"work-orders/{WO_OPEN}", body={"title": "x"}), 404, f"Cannot PUT /api/v2/work-orders/{WO_OPEN}")
    error_of(session.get("workorders"), 404, "Cannot GET /api/v2/workorders")
    error_of(session.call("DELETE", f"work-orders/{WO_OPEN}"), 404)
    error_of(client.call("GET", "/api/v1/work-orders", token=session.token), 404)
    assert session.one(f"work-orders/{WO_OPEN}")["title"] == "Starter MS-7 contacts pitted"
    reasons = [v["reason"] for v in session.violations()]
    assert len(reasons) == 2 and reasons[0].startswith("PUT is not UpKeep's") and "workorders" in reasons[1]
    assert any(v["path"] == "/api/v1/work-orders" and v["tenant"] is None for v in client.violations(None))


def test_tenants_are_isolated(client):
    first, second = Session(client), Session(client)
    first.written(first.patch(f"work-orders/{WO_OPEN}", {"status": "complete"}))
    first.written(first.post("work-orders", {"title": "Only mine"}))
    assert second.one(f"work-orders/{WO_OPEN}")["status"] == "open"
    assert len(second.results("work-orders")) == 8 and len(first.results("work-orders")) == 9
    assert client.requests(second.email)[-1]["path"] == "/api/v2/work-orders"


def test_a_write_is_later_than_every_updated_at_of_its_tenant(session):
    stamps = [moment(session.written(session.patch(f"parts/{BELT}", {"area": f"Bin {n}"}))["updatedAt"]) for n in range(15)]
    assert stamps == sorted(set(stamps)), "strictly increasing, even within one millisecond"
    newest = max(moment(r["updatedAt"]) for r in session.everything().values())
    assert newest == stamps[-1]


# Control endpoints.

def test_health(client):
    reply = client.control("GET", "health")
    assert reply.status == 200 and reply.json == {"status": "ok"}


def test_faults(client, session):
    rule = {"tenant": session.email, "match": "purchase-orders", "responses": [{"status": 503}, {"status": 429, "retryAfter": 2},
                                                                              {"status": 401}, {"delaySeconds": 0.5}]}
    assert client.control("POST", "faults", rule).json == {"tenant": session.email, "pending": 4}
    assert client.control("POST", "faults", {"tenant": session.email, "method": "PATCH", "responses": [{"status": 500}]}).status == 200
    assert session.get("work-orders").status == 200, "match limits the fault"
    assert Session(client).get("purchase-orders").status == 200, "faults are per tenant"
    error_of(session.get("purchase-orders"), 503, "Service unavailable")
    throttled = session.get("purchase-orders")
    error_of(throttled, 429, "Too many requests")
    assert throttled.headers["retry-after"] == "2"
    error_of(session.get("purchase-orders"), 401, "Invalid session token")
    started = time.monotonic()
    assert session.get("purchase-orders").status == 200 and time.monotonic() - started >= 0.5
    error_of(session.patch(f"parts/{OIL}", {"quantity": 1}), 500)
    assert session.one(f"parts/{OIL}")["quantity"] == 0, "a refused write changes nothing"
    logged = client.requests(session.email)
    assert [r["status"] for r in logged][-7:] == [200, 503, 429, 401, 200, 500, 200]
    assert logged[-6]["fault"] == {"status": 503} and logged[-3]["fault"] == {"delaySeconds": 0.5}
    assert client.control("POST", "faults", {"tenant": session.email, "responses": [{"status": 503}]}).status == 200
    assert client.call("DELETE", "/_standin/faults", params={"tenant": session.email}).status == 200
    assert session.get("purchase-orders").status == 200
    for bad in ({"responses": [{"status": 503}]}, {"tenant": session.email, "responses": []},
                {"tenant": session.email, "responses": [{"status": 200}]}):
        assert client.control("POST", "faults", bad).status == 400


def test_a_login_fault_is_taken_by_the_bodys_email(client):
    email = f"t-{uuid.uuid4().hex[:12]}@example.test"
    client.control("POST", "faults", {"tenant": email, "match": "/auth", "responses": [{"status": 503}]})
    error_of(client.call("POST", "/api/v2/auth", body={"email": email, "password": PASSWORD}), 503)
    assert client.call("POST", "/api/v2/auth", body={"email": email, "password": PASSWORD}).status == 200


def test_the_request_log(client, session):
    client.call("DELETE", "/_standin/requests", params={"tenant": session.email})
    session.get("work-orders", {"limit": "2", "orderBy": "updatedAt ASC", "includes": ["asset", "team"]})
    session.patch(f"work-orders/{WO_OPEN}", {"status": "onHold"})
    session.get("assets", token=None)
    logged = client.requests(session.email)
    assert [(r["method"], r["path"], r["status"]) for r in logged] == [
        ("GET", "/api/v2/work-orders", 200), ("PATCH", f"/api/v2/work-orders/{WO_OPEN}", 200)]
    assert logged[0]["query"] == {"limit": "2", "orderBy": "updatedAt ASC", "includes": ["asset", "team"]}
    assert logged[0]["returned"] == 2 and logged[0]["body"] is None
    assert logged[0]["headers"] == {"Session-Token": "present"}
    assert logged[1]["body"] == {"status": "onHold"} and logged[1]["headers"]["Content-Type"] == "application/json"
    assert all(r["tenant"] == session.email and moment(r["at"]) for r in logged)
    anonymous = [r for r in client.requests(None) if r["tenant"] is None and r["path"] == "/api/v2/assets"]
    assert anonymous and anonymous[-1]["headers"]["Session-Token"] == "absent" and anonymous[-1]["status"] == 401
    assert session.token not in json.dumps(client.requests(None)), "the token itself is never logged"
    assert client.call("DELETE", "/_standin/requests", params={"tenant": session.email}).json == {"requests": []}
    assert client.requests(session.email) == []


def test_touch_changes_an_object_as_a_user_would(client, session):
    before = session.everything()
    reply = client.control("POST", "touch", {"tenant": session.email, "type": "work-orders", "id": WO_IN_PROGRESS,
                                              "fields": {"status": "complete", "description": "Done in UpKeep"}})
    assert reply.status == 200, reply
    touched = reply.json
    assert touched["status"] == "complete" and touched["dateCompleted"] == touched["updatedAt"] and touched["completedByUser"] == DANA
    assert all(moment(touched["updatedAt"]) > moment(r["updatedAt"]) for r in before.values())
    assert session.results("work-orders", updatedAtGreaterThan=before[WO_IN_PROGRESS]["updatedAt"], orderBy="updatedAt ASC")[-1] == touched
    user = client.control("POST", "touch", {"tenant": session.email, "type": "users", "id": LUIS, "fields": {"phoneNumber": "555-0199"}})
    assert user.json["phoneNumber"] == "555-0199" and moment(user.json["updatedAt"]) > moment(touched["updatedAt"])
    assert Session(client).one(f"work-orders/{WO_IN_PROGRESS}")["status"] == "inProgress", "only the tenant's"
    for change, status in (({"fields": {"bogus": 1}}, 400), ({"fields": {"workOrderNo": "1"}}, 400), ({"fields": {"priority": 9}}, 400),
                           ({"id": "Wo0000000X"}, 404), ({"type": "tickets"}, 400), ({"fields": {}}, 400), ({"tenant": ""}, 400)):
        body = {"tenant": session.email, "type": "work-orders", "id": WO_OPEN, "fields": {"title": "y"}, **change}
        assert client.control("POST", "touch", body).status == status, change


def test_a_touch_can_wait_for_the_next_page_read(client, session):
    request = {"tenant": session.email, "type": "purchase-orders", "id": PO_DECLINED, "fields": {"title": "Edited"}}
    assert client.control("POST", "touch", {**request, "afterNextPage": True}).json == {"deferred": request}
    assert session.one(f"purchase-orders/{PO_DECLINED}")["title"] != "Edited", "not before a page is read"
    page = session.results("purchase-orders", limit="2")
    assert all(po["title"] != "Edited" for po in page), "the page shows the object as it was"
    edited = session.one(f"purchase-orders/{PO_DECLINED}")
    assert edited["title"] == "Edited"
    session.results("purchase-orders", limit="2")
    assert session.one(f"purchase-orders/{PO_DECLINED}")["updatedAt"] == edited["updatedAt"], "made once"


def test_webhooks_record_what_they_would_deliver(client, session):
    wanted = ["WORK_ORDER_STATUS_UPDATED", "PURCHASE_ORDER_APPROVED"]
    hook = session.post("webhooks", {"endpoint": "http://127.0.0.1:9/hook", "events": wanted}).json
    assert client.control("GET", "webhooks", tenant=session.email).json["webhooks"] == [
        {"webhookId": hook["webhookId"], "title": None, "endpoint": "http://127.0.0.1:9/hook", "events": wanted}]
    session.patch(f"work-orders/{WO_OPEN}", {"description": "no event"})
    session.patch(f"work-orders/{WO_OPEN}", {"status": "inProgress"})
    session.patch(f"purchase-orders/{PO_AWAITING}", {"status": "approved"})
    events = client.control("GET", "events", tenant=session.email).json["events"]
    assert [(e["event"], e["object"]["id"], e["webhookId"]) for e in events] == [
        ("WORK_ORDER_STATUS_UPDATED", WO_OPEN, hook["webhookId"]), ("PURCHASE_ORDER_APPROVED", PO_AWAITING, hook["webhookId"])]
    error_of(session.post("webhooks", {"endpoint": "ftp://x", "events": ["WORK_ORDER_CREATED"]}), 400)
    error_of(session.post("webhooks", {"endpoint": "https://x.example", "events": ["WORK_ORDER_FIXED"]}), 400)
    assert session.call("DELETE", f"webhooks/{hook['webhookId']}").json == {"success": True, "message": "webhook deleted"}
    error_of(session.call("DELETE", f"webhooks/{hook['webhookId']}"), 404, "Webhook not found")


def test_violations_can_be_read_and_cleared(client, session):
    session.call("PUT", f"parts/{OIL}", body={"quantity": 1})
    session.get("parts", {"limit": "5000"})
    found = session.violations()
    assert [(v["method"], v["path"]) for v in found] == [("PUT", f"/api/v2/parts/{OIL}"), ("GET", "/api/v2/parts")]
    assert "clamped" in found[1]["reason"] and all(v["tenant"] == session.email for v in found)
    assert client.call("DELETE", "/_standin/violations", params={"tenant": session.email}).json == {"violations": []}
    assert session.violations() == []


def test_reset_brings_a_tenant_back_to_the_seed(client, session):
    fresh = session.everything()
    session.written(session.post("work-orders", {"title": "Gone after the reset"}))
    session.written(session.patch(f"parts/{OIL}", {"quantity": 40}))
    assert client.control("POST", "reset", {"tenant": session.email}).json == {"tenant": session.email, "reset": True}
    assert session.everything() == fresh and session.get("assets").status == 200, "the session lives on"


def test_the_stand_in_starts_from_its_own_folder_alone(tmp_path):
    folder = tmp_path / "standins"
    shutil.copytree(SERVER.parent, folder, ignore=shutil.ignore_patterns("__pycache__"))
    process, served = start(script=folder / "upkeep.py", cwd=tmp_path)
    try:
        assert len(Session(served).results("work-orders")) == 8
    finally:
        stop(process)
