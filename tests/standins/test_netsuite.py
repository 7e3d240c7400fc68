"""Tests of the NetSuite stand-in (infra/local/standins/netsuite.py), and of what it serves against the
vendor dossier's example files.

The connector's tests trust the stand-in to answer like a real NetSuite account, so these check it
against the wire contract: OAuth 2.0 client credentials with signed JWT assertions (every refusal,
its status, body and audit reason), bearer checks, the record service (record shape, collections,
paging, q filters, creates, updates, line closing, the approved-PO lock, deletes, property-name
validation), SuiteQL (the grammar, typing, NULL omission, the connector's keyset queries), errors,
concurrency governance, faults, touch, the clock, the request log and tenant isolation.

Where the dossier's example files are at hand (netsuite/ under $MILLWRIGHT_VENDOR_SPECS, by default
../shared/specs beside the checkout), what is served is also judged by them, read here
independently of the server, so the stand-in cannot drift into a private dialect: the served PO
4711 is the example record (but for dates and host), the collection and SuiteQL envelopes have the
examples' keys, the SuiteQL rows of 4711 and 4712 are the example's rows, every example query is
accepted, and error bodies are the examples'. Without those files these tests are skipped with the
folder named; the rest run.

Needs pytest, PyJWT and cryptography (infra/local/requirements.txt):
`.venv/bin/python -m pytest -q tests/standins/test_netsuite.py` from the repo root. The servers run
as subprocesses on ports the OS picks.
"""

import json
import os
import re
import shutil
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.error import HTTPError
from urllib.parse import urlencode
from urllib.request import Request, urlopen

import pytest
from standin_process import launch, stop

jwt = pytest.importorskip("jwt", reason="PyJWT is needed: .venv/bin/pip install -r infra/local/requirements.txt")

REPO = Path(__file__).resolve().parents[2]
SERVER = REPO / "infra" / "local" / "standins" / "netsuite.py"
FIXTURES = REPO / "tests" / "fixtures" / "netsuite"
# The vendor dossier (reference, not part of the repository), as connectors/vendor_specs.rs finds it.
SPECS = Path(os.environ.get("MILLWRIGHT_VENDOR_SPECS") or REPO.parent / "shared" / "specs") / "netsuite"
DEMO = json.loads((REPO / "infra" / "local" / "demo-connections.json").read_text())["netsuite"]["credentials"]
DEMO_KEY, DEMO_KID = DEMO["privateKey"], DEMO["certificateId"]
REVOKED_KID = "Mw7RevokedCertifica02AQ"
TOKEN_PATH = "/services/rest/auth/oauth2/v1/token"
RECORD = "/services/rest/record/v1/"
SUITEQL = "/services/rest/query/v1/suiteql"
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ERROR_TYPE = "application/vnd.oracle.resource+json; type=error"
EXAMPLE_HOST = "https://1234567-sb1.suitetalk.api.netsuite.com"
LOCKED = "This record has been approved and is locked for editing."
PO_IDS = list(range(4711, 4722))


def spec_text(name):
    """One of the dossier's files; skips the test, naming the folder, when the dossier is absent."""
    if not SPECS.is_dir():
        pytest.skip(f"the NetSuite dossier is not at {SPECS} (set MILLWRIGHT_VENDOR_SPECS, or put it in "
                    "../shared/specs beside the checkout): nothing is checked against it here")
    return (SPECS / name).read_text()


def spec_json(name):
    return json.loads(spec_text(name))


def error_example(name):
    return next(s for s in spec_json("error-examples.json")["scenarios"] if s["name"] == name)


def fixture_key(name):
    return (FIXTURES / name).read_text()


class Reply:
    def __init__(self, status, headers, data):
        self.status, self.headers, self.text = status, {k.lower(): v for k, v in headers.items()}, data.decode()
        self.json = json.loads(data) if data else None

    def __repr__(self):
        return f"<{self.status} {self.text[:400]}>"


class Server:
    """A running stand-in and a plain HTTP client of it."""

    def __init__(self, base, process):
        self.base, self.process = base, process

    def call(self, method, path, params=None, body=None, headers=None, form=None, timeout=30):
        url = path if path.startswith("http") else self.base + path
        if params:
            url += "?" + urlencode(params)
        headers = dict(headers or {})
        data = None
        if form is not None:
            data = urlencode(form).encode()
            headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
        elif body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            headers.setdefault("Content-Type", "application/json")
        try:
            with urlopen(Request(url, data=data, method=method, headers=headers), timeout=timeout) as answer:
                return Reply(answer.status, dict(answer.headers), answer.read())
        except HTTPError as error:
            return Reply(error.code, dict(error.headers), error.read())

    def control(self, method, endpoint, body=None, **params):
        reply = self.call(method, f"/_standin/{endpoint}", params=params or None, body=body)
        assert reply.status == 200, reply
        return reply.json

    def assertion(self, iss, key=DEMO_KEY, alg="ES256", kid=DEMO_KID, aud=None, scope="rest_webservices",
                  iat=None, exp=None, typ="JWT", drop=()):
        now = int(time.time())
        iat = now if iat is None else iat
        claims = {"iss": iss, "scope": scope, "aud": aud or self.base + TOKEN_PATH, "iat": iat,
                  "exp": iat + 300 if exp is None else exp}
        for name in drop:
            claims.pop(name)
        headers = {"kid": kid} if kid is not None else {}
        if typ != "JWT":
            headers["typ"] = typ
        return jwt.encode(claims, key, algorithm=alg, headers=headers)

    def token_call(self, assertion, headers=None, **form):
        return self.call("POST", TOKEN_PATH, headers=headers, form={
            "grant_type": "client_credentials", "client_assertion_type": JWT_BEARER, "client_assertion": assertion,
            **form})

    def session(self, tenant):
        reply = self.token_call(self.assertion(tenant))
        assert reply.status == 200, reply
        return Session(self, tenant, reply.json["access_token"])

    def audit(self, tenant=None):
        return self.control("GET", "audit", **({"tenant": tenant} if tenant else {}))["audit"]

    def requests(self, tenant):
        return self.control("GET", "requests", tenant=tenant)["requests"]

    def stats(self, tenant):
        return self.control("GET", "stats", tenant=tenant)


class Session:
    """Calls of one tenant with its bearer token."""

    def __init__(self, server, tenant, token):
        self.server, self.tenant, self.token = server, tenant, token

    def call(self, method, path, params=None, body=None, headers=None, **kwargs):
        return self.server.call(method, path, params, body, {"Authorization": f"Bearer {self.token}", **(headers or {})},
                                **kwargs)

    def get(self, path, params=None, **kwargs):
        return self.call("GET", path, params, **kwargs)

    def record(self, rtype, ident, **params):
        reply = self.get(f"{RECORD}{rtype}/{ident}", params or None)
        assert reply.status == 200, reply
        return reply.json

    def po(self, ident):
        return self.record("purchaseOrder", ident, expandSubResources="true")

    def ids(self, rtype, q=None, **params):
        """Every id of a collection (with q), following next links."""
        reply = self.get(f"{RECORD}{rtype}", {**({"q": q} if q else {}), **params})
        ids = []
        while True:
            assert reply.status == 200, reply
            ids += [int(item["id"]) for item in reply.json["items"]]
            following = [link["href"] for link in reply.json["links"] if link["rel"] == "next"]
            if not following:
                return ids
            reply = self.get(following[0])

    def suiteql(self, q, prefer=True, **params):
        return self.call("POST", SUITEQL, params or None, {"q": q}, {"Prefer": "transient"} if prefer else {})

    def rows(self, q, limit=1000):
        """Every row of a SuiteQL query, following next links."""
        reply, rows = self.suiteql(q, limit=str(limit)), []
        while True:
            assert reply.status == 200, reply
            rows += reply.json["items"]
            following = [link["href"] for link in reply.json["links"] if link["rel"] == "next"]
            if not following:
                return rows
            reply = self.call("POST", following[0], body={"q": q}, headers={"Prefer": "transient"})

    def post(self, rtype, body, headers=None):
        return self.call("POST", f"{RECORD}{rtype}", body=body, headers=headers)

    def patch(self, rtype, ident, body, params=None, headers=None):
        return self.call("PATCH", f"{RECORD}{rtype}/{ident}", params, body, headers)

    def delete(self, rtype, ident):
        return self.call("DELETE", f"{RECORD}{rtype}/{ident}")


def start(*options, script=SERVER, cwd=None):
    process, origin = launch(script, "netsuite", *options, cwd=cwd)
    return Server(origin, process)


@pytest.fixture(scope="module")
def server():
    served = start()
    served.started = datetime.now(timezone.utc)
    yield served
    stop(served.process)


@pytest.fixture(scope="module")
def flagged():
    """A stand-in with every switch: number expires_in, ISO dates in q, 1 s tokens, 5 reachable results."""
    served = start("--expires-in-number", "--allow-iso-dates", "--token-lifetime", "1", "--max-results", "5",
                   "--account-id", "1234567_SB1", "--concurrency-limit", "3")
    yield served
    stop(served.process)


@pytest.fixture
def tenant():
    return f"demo-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def api(server, tenant):
    return server.session(tenant)


def assert_error(reply, status, code, path=None, param=None):
    """The standard error body, one detail with this code (and path / query parameter)."""
    assert reply.status == status, reply
    assert reply.headers["content-type"] == ERROR_TYPE
    body = reply.json
    assert set(body) == {"type", "title", "status", "o:errorDetails"} and body["status"] == status, body
    assert body["type"].startswith("https://www.rfc-editor.org/rfc/"), body
    detail = body["o:errorDetails"][0]
    assert detail["o:errorCode"] == code, body
    assert detail.get("o:errorPath") == path, body
    assert detail.get("o:errorQueryParam") == param, body
    return detail["detail"]


def without_host(value, base):
    """A served value with its hrefs on the examples' host."""
    return json.loads(json.dumps(value).replace(base, EXAMPLE_HOST))


def us(moment):
    return f"{moment.month}/{moment.day}/{moment.year}"


def newest(api):
    """The PO with the latest lastModifiedDate: (id, moment)."""
    return max(po_times(api).items(), key=lambda kv: (kv[1], kv[0]))


def po_times(api):
    """Every PO's lastModifiedDate, read through SuiteQL."""
    rows = api.rows("SELECT t.id, TO_CHAR(t.lastmodifieddate, 'YYYY-MM-DD HH24:MI:SS') AS lm FROM transaction t")
    return {int(r["id"]): datetime.strptime(r["lm"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=timezone.utc) for r in rows}


def new_po_body(**more):
    body = {"entity": {"id": "321"}, "subsidiary": {"id": "1"},
            "item": {"items": [{"item": {"id": "880"}, "quantity": 3, "rate": 25.0}]}}
    body.update(more)
    return body


def created_id(reply):
    assert reply.status == 204 and reply.text == "", reply
    return int(reply.headers["location"].rsplit("/", 1)[1])


# ----------------------------------------------------------------------------------------------
# Against the dossier's example files


DATES = {"tranDate", "dueDate", "createdDate", "lastModifiedDate", "expectedReceiptDate"}


def drop_dates(value):
    if isinstance(value, dict):
        return {k: drop_dates(v) for k, v in value.items() if k not in DATES}
    if isinstance(value, list):
        return [drop_dates(v) for v in value]
    return value


def test_po_4711_is_the_example_record_but_for_dates_and_host(server, api):
    example = spec_json("purchaseOrder-record.json")
    served = api.po(4711)
    assert set(served) - set(example) == {"custbody_expedite"}, "only the seed's second custom field is extra"
    del served["custbody_expedite"]
    assert drop_dates(without_host(served, server.base)) == drop_dates(example)
    # The dates have the example's forms.
    for name in ("tranDate", "dueDate"):
        assert re.fullmatch(r"\d{4}-\d\d-\d\d", served[name])
    for name in ("createdDate", "lastModifiedDate"):
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", served[name])
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d", line["expectedReceiptDate"]) for line in served["item"]["items"])


def kinds(value):
    """The JSON kinds of a document, keys kept, list items merged."""
    if isinstance(value, dict):
        return {k: kinds(v) for k, v in value.items()}
    if isinstance(value, list):
        merged = {}
        for item in value:
            merged.update(kinds(item) if isinstance(item, dict) else {"": kinds(item)})
        return [merged]
    return "number" if isinstance(value, (int, float)) and not isinstance(value, bool) else type(value).__name__


def test_every_po_has_the_example_records_keys_and_kinds(api):
    example = kinds(spec_json("purchaseOrder-record.json"))
    example_line = example["item"]["items"][0]
    for ident in PO_IDS:
        served = kinds(api.po(ident))
        for name, kind in served.items():
            if name in example and name != "item":
                assert kind == example[name], (ident, name)
        for line in served["item"]["items"][0:1]:
            for name, kind in line.items():
                assert name in example_line and kind == example_line[name], (ident, name)
        assert set(served) <= set(example) | {"externalId", "custbody_expedite"}, ident


def test_collection_envelope_has_the_examples_keys(server, api):
    example = spec_json("purchaseOrder-collection.json")
    since = us(datetime.now(timezone.utc) - timedelta(days=70))
    reply = api.get(RECORD + "purchaseOrder", {"q": f'lastModifiedDate ON_OR_AFTER "{since}"', "limit": "2"})
    assert reply.status == 200 and reply.headers["content-type"] == "application/vnd.oracle.resource+json; type=collection"
    page = reply.json
    assert list(page) == list(example)
    assert [link["rel"] for link in page["links"]] == [link["rel"] for link in example["links"]]
    assert all(set(item) == set(example["items"][0]) for item in page["items"])
    assert [item["id"] for item in page["items"]] == ["4711", "4712"] and page["totalResults"] == 11
    self_link = page["links"][-1]["href"]
    assert self_link.startswith(server.base + RECORD + "purchaseOrder?q=lastModifiedDate+ON_OR_AFTER+%22")
    assert self_link.endswith("&limit=2&offset=0")


def example_queries():
    """Every "q" of suiteql-request.txt, in order."""
    text = spec_text("suiteql-request.txt")
    return [json.loads(found) for found in re.findall(r'"q":\s*("(?:[^"\\]|\\.)*")', text)]


def test_suiteql_page_is_the_examples(server, api):
    example = spec_json("suiteql-response.json")
    query = example_queries()[0].replace("2026-01-15 00:00:00", "2000-01-01 00:00:00")
    page = api.suiteql(query, limit="2").json
    assert list(page) == list(example)
    assert [link["rel"] for link in page["links"]] == ["next", "last", "self"]
    assert page["links"][-1]["href"] == server.base + SUITEQL + "?limit=2&offset=0"
    rows = {row["id"]: row for row in api.rows(query)}
    for sample in example["items"]:
        row = rows[sample["id"]]
        assert set(row) == set(sample), f"row {sample['id']} has the example's columns (nulls left out)"
        assert all(isinstance(value, str) for name, value in row.items() if name != "links")
        for name in set(sample) - {"trandate", "duedate", "lastmodified"}:
            assert row[name] == sample[name], (sample["id"], name)
        assert re.fullmatch(r"\d{1,2}/\d{1,2}/\d{4}", row["trandate"])
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", row["lastmodified"])


def test_every_example_query_is_accepted_and_the_bad_one_answers_as_documented(api):
    queries = example_queries()
    assert len(queries) == 7
    *good, wrong = queries
    for query in good:
        reply = api.suiteql(query)
        assert reply.status == 200, (query, reply)
        assert reply.json["items"], query
    scenario = error_example("suiteql_unknown_identifier")
    assert json.loads(scenario["request"].split("  ", 1)[1])["q"] == wrong
    reply = api.suiteql(wrong)
    assert reply.status == scenario["status"] and reply.json == scenario["body"]
    assert reply.headers["content-type"] == scenario["headers"]["Content-Type"]


def test_error_bodies_are_the_examples(server, api):
    def same(reply, name, exact=True):
        scenario = error_example(name)
        assert reply.status == scenario["status"], reply
        assert reply.headers["content-type"] == scenario["headers"]["Content-Type"]
        body = reply.json
        assert list(body) == list(scenario["body"])
        if exact:
            assert body == scenario["body"]
        else:  # the example's type URI is the older w3.org one; the rest is the example's
            assert {k: v for k, v in body.items() if k != "type"} == {k: v for k, v in scenario["body"].items() if k != "type"}
        return body

    same(server.call("GET", RECORD + "purchaseOrder/4711", headers={"Authorization": "Bearer expired"}),
         "expired_or_invalid_access_token", exact=False)
    same(api.get(RECORD + "vendor/999999"), "record_not_found")
    same(api.get(RECORD + "purchaseOrder", {"q": 'lastModifiedDate AFTER "2026-13-45"'}), "unparseable_q_filter")
    bad_item = new_po_body(item={"items": [{"item": {"id": "9999"}, "quantity": 1}]})
    same(api.post("purchaseOrder", bad_item), "invalid_reference_in_body", exact=False)
    body = api.post("purchaseOrder", {}).json
    example = error_example("missing_mandatory_field")["body"]["o:errorDetails"][0]
    assert body["o:errorDetails"][0]["detail"] == example["detail"]
    assert body["o:errorDetails"][0]["o:errorCode"] == example["o:errorCode"]


def test_the_401_is_token_request_part_5(server):
    text = spec_text("token-request.txt")
    part = text.split("5. Calling the API", 1)[1]
    example = json.JSONDecoder().raw_decode(part[part.index("{"):])[0]
    reply = server.call("POST", SUITEQL, body={"q": "SELECT t.id FROM transaction t"},
                        headers={"Authorization": "Bearer not-a-token", "Prefer": "transient"})
    assert reply.status == 401 and reply.json == example
    assert reply.headers["content-type"] == ERROR_TYPE


def test_metadata_has_the_example_schemas_shape(api):
    example = spec_json("metadata-jsonschema-purchaseOrder.json")
    reply = api.get(RECORD + "metadata-catalog/purchaseOrder", headers={"Accept": "application/schema+json"})
    assert reply.status == 200, reply
    schema = reply.json
    assert set(schema) == set(example) and schema["$schema"] == example["$schema"]
    for name, prop in example["properties"].items():
        served = schema["properties"][name]
        for key in ("type", "format", "$ref", "x-ns-custom-field"):
            assert served.get(key) == prop.get(key), (name, key)
    assert set(example["x-ns-filterable"]) <= set(schema["x-ns-filterable"])
    catalog = api.get(RECORD + "metadata-catalog").json
    assert {"purchaseOrder", "vendor", "inventoryItem"} <= {item["name"] for item in catalog["items"]}


# ----------------------------------------------------------------------------------------------
# Tokens


def test_a_token_for_a_demo_integration(server, tenant):
    reply = server.token_call(server.assertion(tenant))
    assert reply.status == 200, reply
    assert reply.headers["content-type"].startswith("application/json")
    assert set(reply.json) == {"access_token", "expires_in", "token_type"}
    assert reply.json["expires_in"] == "3600" and reply.json["token_type"] == "bearer"
    session = Session(server, tenant, reply.json["access_token"])
    assert session.po(4711)["id"] == "4711"
    assert server.stats(tenant) == {"maxInFlight": 1, "rejectedConcurrency": 0, "tokensIssued": 1, "limit": 5}
    assert server.audit(tenant)[-1]["result"] == "Success"
    logged = server.requests(tenant)[0]
    assert logged["path"] == TOKEN_PATH and logged["status"] == 200
    assert logged["jwt"]["header"] == {"alg": "ES256", "kid": DEMO_KID, "typ": "JWT"}
    assert logged["jwt"]["claims"]["iss"] == tenant
    assert logged["form"]["grant_type"] == "client_credentials"


def test_demo_millwright_is_an_integration(server):
    assert server.token_call(server.assertion("demo-millwright")).status == 200


@pytest.mark.parametrize("scope", ["rest_webservices", "restlets,rest_webservices", "restlets, rest_webservices",
                                   ["rest_webservices", "restlets"], ["rest_webservices"]])
def test_scope_as_a_string_or_an_array(server, tenant, scope):
    assert server.token_call(server.assertion(tenant, scope=scope)).status == 200


@pytest.mark.parametrize("change, status, error, reason", [
    ({"alg": "RS256", "key": "rsa2048.pem"}, 401, "invalid_client", "UnsupportedAlgorithm"),
    ({"alg": "RS256", "key": "rsa3072.pem"}, 401, "invalid_client", "UnsupportedAlgorithm"),
    ({"alg": "HS256", "key": "a-shared-secret-that-is-32-bytes-long!"}, 401, "invalid_client", "UnsupportedAlgorithm"),
    ({"alg": "PS256", "key": "rsa3072.pem"}, 401, "invalid_client", "InvalidSignature"),
    ({"key": "other_p256.pem"}, 401, "invalid_client", "InvalidSignature"),
    ({"alg": "ES384", "key": "p384.pem"}, 401, "invalid_client", "InvalidSignature"),
    ({"alg": "ES512", "key": "p521.pem"}, 401, "invalid_client", "InvalidSignature"),
    ({"kid": "NoSuchCertificate01AQ"}, 401, "invalid_client", "UnknownCertificate"),
    ({"kid": None}, 401, "invalid_client", "UnknownCertificate"),
    ({"kid": REVOKED_KID}, 400, "invalid_grant", "CertificateRevoked"),
    ({"iss": "not-a-demo-client"}, 401, "invalid_client", "InvalidIntegration"),
    ({"aud": "https://{host}" + TOKEN_PATH}, 401, "invalid_client", "InvalidAudience"),
    ({"aud": "http://{host}/services/rest/auth/oauth2/v1/token/"}, 401, "invalid_client", "InvalidAudience"),
    ({"aud": "http://tstdrv1234567.suitetalk.api.netsuite.com" + TOKEN_PATH}, 401, "invalid_client", "InvalidAudience"),
    ({"scope": "restlets"}, 401, "invalid_client", "ScopeMismatched"),
    ({"scope": ["restlets", "suite_analytics"]}, 401, "invalid_client", "ScopeMismatched"),
    ({"drop": ("scope",)}, 401, "invalid_client", "ScopeMismatched"),
    ({"iat": -400, "exp": -100}, 400, "invalid_grant", "AssertionExpired"),
    ({"iat": -100, "exp": 3500}, 400, "invalid_grant", "AssertionLifetimeTooLong"),
    ({"iat": 0, "exp": 3600}, 400, "invalid_grant", "AssertionLifetimeTooLong"),
    ({"iat": 600, "exp": 900}, 400, "invalid_grant", "IssuedInFuture"),
    ({"typ": None}, 400, "invalid_request", "MalformedToken"),
    ({"typ": "JOSE"}, 400, "invalid_request", "MalformedToken"),
    ({"drop": ("exp",)}, 400, "invalid_request", "MalformedToken"),
])
def test_token_refusals(server, tenant, change, status, error, reason):
    change = dict(change)
    if "key" in change and change["key"].endswith(".pem"):
        change["key"] = fixture_key(change["key"])
    now = int(time.time())
    for name in ("iat", "exp"):
        if name in change:
            change[name] += now
    if "aud" in change:
        change["aud"] = change["aud"].replace("{host}", server.base.split("//")[1])
    iss = change.pop("iss", tenant)
    assertion = server.assertion(iss, **change)
    reply = server.token_call(assertion)
    assert reply.status == status and reply.json == {"error": error}, reply
    if status == 401:
        assert reply.headers["www-authenticate"] == 'Basic realm="TSTDRV1234567"'
    else:
        assert "www-authenticate" not in reply.headers
    audit = server.audit(iss)[-1]
    assert audit["result"] == "Failure" and audit["reason"] == reason and audit["error"] == error, audit
    logged = server.requests(iss)[-1]
    assert logged["status"] == status and logged["jwt"]["claims"]["iss"] == iss
    assert assertion not in json.dumps(server.control("GET", "requests")), "the assertion itself is never logged"
    assert server.stats(iss)["tokensIssued"] == 0


def test_the_skew_allows_iat_a_little_ahead(server, tenant):
    now = int(time.time())
    assert server.token_call(server.assertion(tenant, iat=now + 200, exp=now + 500)).status == 200


@pytest.mark.parametrize("change, headers", [
    ({"grant_type": "authorization_code"}, None),
    ({"grant_type": None}, None),
    ({"client_assertion_type": "jwt"}, None),
    ({"client_assertion": None}, None),
    ({"client_assertion": ""}, None),
    ({"client_assertion": "not.a.jwt"}, None),
    ({"client_assertion": "garbage"}, None),
    ({"client_secret": "s3cret"}, None),
    ({}, {"Authorization": "Basic ZGVtbzpzZWNyZXQ="}),
])
def test_malformed_token_requests(server, tenant, change, headers):
    form = {"grant_type": "client_credentials", "client_assertion_type": JWT_BEARER,
            "client_assertion": server.assertion(tenant)}
    form.update(change)
    form = {k: v for k, v in form.items() if v is not None}
    reply = server.call("POST", TOKEN_PATH, form=form, headers=headers)
    assert reply.status == 400 and reply.json == {"error": "invalid_request"}, reply
    assert "s3cret" not in json.dumps(server.control("GET", "requests"))


def test_the_token_endpoint_takes_only_form_bodies(server, tenant):
    body = {"grant_type": "client_credentials", "client_assertion_type": JWT_BEARER,
            "client_assertion": server.assertion(tenant)}
    assert server.call("POST", TOKEN_PATH, body=body).json == {"error": "invalid_request"}
    assert server.call("GET", TOKEN_PATH).json == {"error": "invalid_request"}


def test_the_audience_host_is_compared_case_insensitively(server, tenant):
    port = server.base.rsplit(":", 1)[1]
    assertion = server.assertion(tenant, aud=f"http://TSTDRV1234567.Example:{port}{TOKEN_PATH}")
    reply = server.call("POST", TOKEN_PATH, headers={"Host": f"tstdrv1234567.example:{port}"}, form={
        "grant_type": "client_credentials", "client_assertion_type": JWT_BEARER, "client_assertion": assertion})
    assert reply.status == 200, reply


def test_expires_in_as_a_number_and_short_lived_tokens(flagged, tenant):
    reply = flagged.token_call(flagged.assertion(tenant))
    assert reply.json["expires_in"] == 1
    session = Session(flagged, tenant, reply.json["access_token"])
    assert session.get(RECORD + "currency/1").status == 200
    time.sleep(1.1)
    assert_error(session.get(RECORD + "currency/1"), 401, "INVALID_LOGIN")
    assert flagged.audit(tenant)[-1]["reason"] == "AccessTokenExpired"
    refused = flagged.token_call(flagged.assertion(tenant, kid="unknown"))
    assert refused.headers["www-authenticate"] == 'Basic realm="1234567_SB1"'


# ----------------------------------------------------------------------------------------------
# Bearer checks, expiry, clock


@pytest.mark.parametrize("headers, reason", [({}, "MissingAccessToken"),
                                             ({"Authorization": "Basic ZGVtbzpzZWNyZXQ="}, "MissingAccessToken"),
                                             ({"Authorization": "Bearer "}, "MissingAccessToken"),
                                             ({"Authorization": "Bearer never-issued"}, "TokenRejected")])
def test_api_calls_need_a_valid_bearer_token(server, headers, reason):
    for method, path, body in (("GET", RECORD + "purchaseOrder/4711", None),
                               ("POST", SUITEQL, {"q": "SELECT t.id FROM transaction t"}),
                               ("GET", "/services/rest/record/v1/nosuchtype", None)):
        detail = assert_error(server.call(method, path, body=body, headers=headers), 401, "INVALID_LOGIN")
        assert "Login Audit Trail" in detail
        assert server.audit()[-1]["reason"] == reason


def test_expire_tokens(server, api):
    assert api.get(RECORD + "purchaseOrder/4711").status == 200
    assert server.control("POST", "expire-tokens", {"tenant": api.tenant})["expired"] == 1
    assert_error(api.get(RECORD + "purchaseOrder/4711"), 401, "INVALID_LOGIN")
    assert server.audit(api.tenant)[-1]["reason"] == "AccessTokenExpired"
    assert server.session(api.tenant).get(RECORD + "purchaseOrder/4711").status == 200


def test_the_clock_offset(server, api):
    tenant = api.tenant
    server.control("POST", "clock", {"tenant": tenant, "offsetSeconds": 3700})
    assert_error(api.get(RECORD + "purchaseOrder/4711"), 401, "INVALID_LOGIN")  # the token outlived its hour
    assert server.token_call(server.assertion(tenant)).json == {"error": "invalid_grant"}
    assert server.audit(tenant)[-1]["reason"] == "AssertionExpired"
    server.control("POST", "clock", {"tenant": tenant, "offsetSeconds": -1000})
    assert server.token_call(server.assertion(tenant)).json == {"error": "invalid_grant"}
    assert server.audit(tenant)[-1]["reason"] == "IssuedInFuture"
    server.control("POST", "clock", {"tenant": tenant, "offsetSeconds": -200})
    session = server.session(tenant)  # within the 300 s skew
    # Writes are dated by the tenant's clock, but never before what the tenant already has.
    before = max(po_times(session).values())
    assert session.patch("purchaseOrder", 4712, {"memo": "skewed"}).status == 204
    assert datetime.fromisoformat(session.po(4712)["lastModifiedDate"].replace("Z", "+00:00")) > before


# ----------------------------------------------------------------------------------------------
# The seed


def test_the_seed(server, api):
    pos = {ident: api.po(ident) for ident in PO_IDS}
    statuses = {po["status"]["id"] for po in pos.values()}
    assert statuses == set("ABCDEFGH")
    names = {"A": "Pending Supervisor Approval", "B": "Pending Receipt", "C": "Rejected by Supervisor",
             "D": "Partially Received", "E": "Pending Billing/Partially Received", "F": "Pending Bill",
             "G": "Fully Billed", "H": "Closed"}
    moments = []
    for po in pos.values():
        letter = po["status"]["id"]
        assert po["status"]["refName"] == names[letter]
        approval = {"A": "1", "C": "3"}.get(letter, "2")
        assert po["approvalStatus"] == {"id": approval, "refName": {"1": "Pending Approval", "2": "Approved",
                                                                    "3": "Rejected"}[approval]}
        assert po["supervisorApproval"] is (approval == "2")
        lines = po["item"]["items"]
        assert 1 <= len(lines) <= 3 and [line["line"] for line in lines] == list(range(1, len(lines) + 1))
        for line in lines:
            assert line["amount"] == round(line["quantity"] * line["rate"], 2)
        assert po["total"] == po["subtotal"] == round(sum(line["amount"] for line in lines), 2)
        received = sum(line["quantityReceived"] for line in lines)
        ordered = sum(line["quantity"] for line in lines)
        if letter in "ABC":
            assert received == 0
        if letter == "D":
            assert 0 < received < ordered and all(line["quantityBilled"] == 0 for line in lines)
        if letter in "FG":
            assert received == ordered
        if letter == "H":
            assert all(line["isClosed"] for line in lines)
        else:
            assert not any(line["isClosed"] for line in lines)
        created = datetime.fromisoformat(po["createdDate"].replace("Z", "+00:00"))
        modified = datetime.fromisoformat(po["lastModifiedDate"].replace("Z", "+00:00"))
        assert server.started - timedelta(days=60) <= created < modified
        moments.append(modified)
    assert any("custbody_external_ref" in po for po in pos.values())
    assert any("custcol_asset_tag" in line for po in pos.values() for line in po["item"]["items"])
    assert len(set(moments)) == len(moments), "distinct lastModifiedDates"
    assert moments != sorted(moments), "not in id order"
    oldest = server.started - timedelta(days=61)
    assert all(oldest <= m <= datetime.now(timezone.utc) - timedelta(hours=12) for m in moments)
    vendors = {ident: api.record("vendor", ident) for ident in (321, 322, 323)}
    assert vendors[323]["isInactive"] is True and not vendors[321]["isInactive"]
    assert vendors[321]["companyName"] == "Acme Industrial Supply"
    assert api.record("location", 7)["isInactive"] is True
    assert api.record("subsidiary", 2)["currency"]["refName"] == "Canadian Dollar"
    assert api.record("employee", 42)["entityId"] == "Jordan Buyer"
    assert [api.record("inventoryItem", i)["itemId"] for i in (880, 881, 882)] == ["BRG-6205", "SEAL-KIT-40", "GSK-100"]
    stock = api.rows("SELECT il.item, il.location, il.quantityonhand FROM inventoryitemlocations il WHERE il.item = 882")
    assert {r["location"] for r in stock} == {"5", "6"} and {r["quantityonhand"] for r in stock} == {"0"}


def test_records_and_suiteql_agree(api):
    rows = {r["id"]: r for r in api.rows(
        "SELECT t.id, t.tranid, t.status, t.foreigntotal, t.entity, t.approvalstatus, TO_CHAR(t.lastmodifieddate, "
        "'YYYY-MM-DD HH24:MI:SS') AS lm, TO_CHAR(t.createddate, 'YYYY-MM-DD HH24:MI:SS') AS created FROM transaction t")}
    for ident in PO_IDS:
        po, row = api.po(ident), rows[str(ident)]
        assert (row["tranid"], row["status"], row["entity"], row["approvalstatus"]) == (
            po["tranId"], po["status"]["id"], po["entity"]["id"], po["approvalStatus"]["id"])
        assert float(row["foreigntotal"]) == po["total"]
        assert row["lm"].replace(" ", "T") + "Z" == po["lastModifiedDate"]
        assert row["created"].replace(" ", "T") + "Z" == po["createdDate"]


# ----------------------------------------------------------------------------------------------
# Records


def test_record_options(server, api):
    plain = api.record("purchaseOrder", 4711)
    assert plain["item"] == {"links": [{"rel": "self", "href": f"{server.base}{RECORD}purchaseOrder/4711/item"}]}
    assert plain["expense"] == {"links": [{"rel": "self", "href": f"{server.base}{RECORD}purchaseOrder/4711/expense"}]}
    simple = api.record("purchaseOrder", 4711, simpleEnumFormat="true", expandSubResources="true")
    assert simple["status"] == "D" and simple["approvalStatus"] == "2" and simple["item"]["items"][0]["itemType"] == "InvtPart"
    chosen = api.record("purchaseOrder", 4711, fields="tranId,status")
    assert set(chosen) == {"links", "id", "tranId", "status"}
    assert_error(api.get(RECORD + "purchaseOrder/4711", {"fields": "tranId,nosuch"}), 400, "NONEXISTENT_FIELD",
                 param="fields")
    assert api.record("purchaseorder", 4711)["links"][0]["href"].endswith("/purchaseOrder/4711"), "case-insensitive"
    assert api.record("purchaseOrder", "eid:MWSEED004713")["id"] == "4713"
    assert "externalId" in api.record("purchaseOrder", 4713)
    line = api.get(RECORD + "purchaseOrder/4711/item/1").json
    assert line["links"][0]["href"].endswith("/purchaseOrder/4711/item/1") and line["custcol_asset_tag"] == "PUMP-17"
    assert api.get(RECORD + "purchaseOrder/4711/item").json["count"] == 2
    assert_error(api.get(RECORD + "purchaseOrder/4711/item/9"), 404, "NONEXISTENT_ID")
    assert_error(api.get(RECORD + "purchaseOrder/1"), 404, "NONEXISTENT_ID")
    assert_error(api.get(RECORD + "purchaseOrder/abc"), 404, "NONEXISTENT_ID")
    assert "does not exist" in assert_error(api.get(RECORD + "salesThing/1"), 400, "INVALID_RCRD_TYPE")
    assert api.get(RECORD + "purchaseOrder/4711").headers["content-type"] == \
        "application/vnd.oracle.resource+json; type=singular"


def test_other_record_types(api):
    item = api.record("inventoryItem", 880)
    assert item["itemType"] == {"id": "InvtPart", "refName": "InvtPart"} and item["displayName"] == "Ball bearing 6205-2RS"
    assert_error(api.get(RECORD + "inventoryItem/883"), 404, "NONEXISTENT_ID")
    assert api.record("servicePurchaseItem", 883)["itemType"]["id"] == "Service"
    service_line = api.po(4716)["item"]["items"][1]
    assert service_line["item"]["links"][0]["href"].endswith("/servicePurchaseItem/883") and "units" not in service_line
    assert api.ids("inventoryItem") == [880, 881, 882]
    assert api.record("subsidiary", 2)["fullName"] == "Parent Company : Acme Canada"
    assert api.record("subsidiary", 1)["country"] == {"id": "US", "refName": "United States"}
    assert api.record("location", 7)["fullName"] == "Main Plant : Old Depot"
    assert api.record("currency", 2)["symbol"] == "CAD"
    vendor = api.record("vendor", 323)
    assert "email" not in vendor and vendor["entityId"] == "Obsolete Parts Co"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", vendor["dateCreated"])


def test_links_are_absolute_on_the_host_used(server, api):
    port = server.base.rsplit(":", 1)[1]
    reply = api.get(RECORD + "purchaseOrder/4711", headers={"Host": f"tstdrv1234567.example:{port}"})
    assert reply.json["links"][0]["href"] == f"http://tstdrv1234567.example:{port}{RECORD}purchaseOrder/4711"
    assert reply.json["entity"]["links"][0]["href"] == f"http://tstdrv1234567.example:{port}{RECORD}vendor/321"


def test_paging(server, api):
    reply = api.get(RECORD + "purchaseOrder", {"limit": "4"})
    pages = []
    while True:
        assert reply.status == 200, reply
        pages.append(reply.json)
        following = [link["href"] for link in reply.json["links"] if link["rel"] == "next"]
        if not following:
            break
        reply = api.get(following[0])
    assert [int(i["id"]) for page in pages for i in page["items"]] == PO_IDS
    assert [(p["offset"], p["count"], p["hasMore"], p["totalResults"]) for p in pages] == [
        (0, 4, True, 11), (4, 4, True, 11), (8, 3, False, 11)]
    assert [[link["rel"] for link in p["links"]] for p in pages] == [
        ["next", "last", "self"], ["first", "previous", "next", "last", "self"], ["first", "previous", "last", "self"]]
    assert pages[0]["links"][1]["href"] == f"{server.base}{RECORD}purchaseOrder?limit=4&offset=8"
    whole = api.get(RECORD + "purchaseOrder").json
    assert whole["count"] == 11 and not whole["hasMore"] and [link["rel"] for link in whole["links"]] == ["self"]
    assert whole["links"][0]["href"].endswith("?limit=1000&offset=0")
    beyond = api.get(RECORD + "purchaseOrder", {"limit": "4", "offset": "40"}).json
    assert beyond["count"] == 0 and beyond["items"] == [] and not beyond["hasMore"]


@pytest.mark.parametrize("params, param", [({"limit": "0"}, "limit"), ({"limit": "1001"}, "limit"),
                                           ({"limit": "ten"}, "limit"), ({"limit": "-1"}, "limit"),
                                           ({"offset": "-1"}, "offset"), ({"limit": "4", "offset": "2"}, "offset"),
                                           ({"offset": "5"}, "offset")])
def test_paging_rules(api, params, param):
    assert_error(api.get(RECORD + "purchaseOrder", params), 400, "INVALID_PARAMETER", param=param)
    assert_error(api.call("POST", SUITEQL, params, {"q": "SELECT t.id FROM transaction t"}), 400, "INVALID_PARAMETER",
                 param=param)


def test_the_result_ceiling(flagged, tenant):
    session = flagged.session(tenant)
    pages = [session.get(RECORD + "purchaseOrder", {"limit": "2", "offset": str(o)}).json for o in (0, 2, 4)]
    assert [(p["count"], p["hasMore"], p["totalResults"]) for p in pages] == [(2, True, 11), (2, True, 11), (1, False, 11)]
    assert [link["href"] for link in pages[0]["links"] if link["rel"] == "last"][0].endswith("offset=4")
    assert_error(session.get(RECORD + "purchaseOrder", {"limit": "2", "offset": "6"}), 400, "INVALID_PARAMETER",
                 param="offset")
    assert len(session.rows("SELECT t.id FROM transaction t", limit=2)) == 5


def test_q_on_last_modified_date(api):
    times = po_times(api)
    ident, moment = sorted(times.items(), key=lambda kv: kv[1])[5]
    day = moment.replace(hour=0, minute=0, second=0)
    expect = {
        "ON": {i for i, m in times.items() if m.date() == moment.date()},
        "AFTER": {i for i, m in times.items() if m >= day + timedelta(days=1)},
        "ON_OR_AFTER": {i for i, m in times.items() if m >= day},
        "BEFORE": {i for i, m in times.items() if m < day},
        "ON_OR_BEFORE": {i for i, m in times.items() if m < day + timedelta(days=1)},
    }
    for operator, wanted in expect.items():
        assert set(api.ids("purchaseOrder", f'lastModifiedDate {operator} "{us(moment)}"')) == wanted, operator
    minute = f"{us(moment)} {moment:%H:%M}"
    assert api.ids("purchaseOrder", f'lastModifiedDate ON "{minute}"') == [ident]
    assert ident not in api.ids("purchaseOrder", f'lastModifiedDate AFTER "{minute}"')
    assert ident in api.ids("purchaseOrder", f'lastModifiedDate ON_OR_AFTER "{minute}"')
    twelve = f"{us(moment)} {(moment.hour + 11) % 12 + 1}:{moment:%M} {'pm' if moment.hour >= 12 else 'am'}"
    assert api.ids("purchaseOrder", f'lastModifiedDate ON "{twelve}"') == [ident]


def test_iso_dates_in_q_only_with_the_switch(api, flagged, tenant):
    day = (datetime.now(timezone.utc) - timedelta(days=90)).strftime("%Y-%m-%d")
    detail = assert_error(api.get(RECORD + "purchaseOrder", {"q": f'lastModifiedDate AFTER "{day}"'}), 400,
                          "INVALID_PARAMETER", param="q")
    assert detail.startswith("Invalid search query.") and f'Unparseable date: "{day}"' in detail
    page = flagged.session(tenant).get(RECORD + "purchaseOrder", {"q": f'lastModifiedDate AFTER "{day}"'})
    assert page.status == 200 and page.json["totalResults"] == 11


@pytest.mark.parametrize("rtype, q, wanted", [
    ("purchaseOrder", "id EQUAL 4711", [4711]),
    ("purchaseOrder", "id ANY_OF [4711, 4713]", [4711, 4713]),
    ("purchaseOrder", "id BETWEEN [4712, 4714]", [4712, 4713, 4714]),
    ("purchaseOrder", "id GREATER 4719", [4720, 4721]),
    ("purchaseOrder", "id GREATER_OR_EQUAL 4720", [4720, 4721]),
    ("purchaseOrder", "id LESS 4713", [4711, 4712]),
    ("purchaseOrder", "id EQUAL_NOT 4711 AND id LESS_OR_EQUAL 4713", [4712, 4713]),
    ("purchaseOrder", 'externalId IS "MWSEED004713"', [4713]),
    ("purchaseOrder", 'externalId IS "MWABCDEF1234"', []),
    ("purchaseOrder", 'memo START_WITH "gaskets"', [4713, 4721]),
    ("purchaseOrder", 'memo CONTAIN "PUMP"', [4711]),
    ("purchaseOrder", 'memo ENDWITH "stock"', [4717, 4721]),
    ("purchaseOrder", "memo EMPTY", [4712, 4716, 4720]),
    ("purchaseOrder", 'tranId IS "PO-004715"', [4715]),
    ("purchaseOrder", "custbody_expedite IS true", [4713]),
    ("purchaseOrder", 'custbody_external_ref IS "MK-PO-2026-0057"', [4720]),
    ("purchaseOrder", "entity ANY_OF [322]", [4712, 4714, 4717, 4719, 4721]),
    ("purchaseOrder", 'status ANY_OF ["B", "PurchOrd:D"]', [4711, 4713, 4719, 4721]),
    ("purchaseOrder", 'approvalStatus ANY_OF ["1"]', [4712, 4720]),
    ("purchaseOrder", "total GREATER 1000", [4711, 4715, 4718]),
    ("purchaseOrder", '(id EQUAL 4711 OR id EQUAL 4712) AND status ANY_OF ["A"]', [4712]),
    ("purchaseOrder", 'id EQUAL 4711 OR id EQUAL 4712 AND status ANY_OF ["A"]', [4711, 4712]),
    ("purchaseOrder", 'id equal 4711 or (memo CONTAIN "gloves" and currency ANY_OF [2])', [4711, 4719]),
    ("vendor", "isInactive IS true", [323]),
    ("vendor", "isInactive IS false", [321, 322]),
    ("vendor", 'companyName CONTAIN "north"', [322]),
    ("location", "subsidiary ANY_OF [1] AND isInactive IS false", [5, 6]),
])
def test_q_filters(api, rtype, q, wanted):
    assert api.ids(rtype, q) == wanted


@pytest.mark.parametrize("q, code", [("nosuchField IS \"x\"", "NONEXISTENT_FIELD"), ("item ANY_OF [880]", "INVALID_PARAMETER"),
                                     ('memo GREATER "x"', "INVALID_PARAMETER"), ("id EQUAL", "INVALID_PARAMETER"),
                                     ("id FOO 1", "INVALID_PARAMETER"), ("(id EQUAL 1", "INVALID_PARAMETER"),
                                     ('memo IS "unterminated', "INVALID_PARAMETER"),
                                     ('lastModifiedDate AFTER "13/45/2026"', "INVALID_PARAMETER")])
def test_bad_q_filters(api, q, code):
    detail = assert_error(api.get(RECORD + "purchaseOrder", {"q": q}), 400, code, param="q")
    assert detail.startswith("Invalid search query. Detailed unprocessed description follows.")


# ----------------------------------------------------------------------------------------------
# SuiteQL


def keyset_query(stamp, last_id):
    return ("SELECT t.id, TO_CHAR(t.lastmodifieddate, 'YYYY-MM-DD HH24:MI:SS') AS lastmodified FROM transaction t "
            f"WHERE t.type = 'PurchOrd' AND (t.lastmodifieddate > TO_TIMESTAMP('{stamp}', 'YYYY-MM-DD HH24:MI:SS') OR "
            f"(t.lastmodifieddate = TO_TIMESTAMP('{stamp}', 'YYYY-MM-DD HH24:MI:SS') AND t.id > {last_id})) "
            "ORDER BY t.lastmodifieddate, t.id")


def test_the_connectors_keyset_query(api):
    times = sorted(po_times(api).items(), key=lambda kv: (kv[1], kv[0]))
    ident, moment = times[4]
    stamp = moment.strftime("%Y-%m-%d %H:%M:%S")
    rows = api.rows(keyset_query(stamp, ident))
    assert [int(r["id"]) for r in rows] == [i for i, _ in times[5:]]
    assert [r["lastmodified"] for r in rows] == [m.strftime("%Y-%m-%d %H:%M:%S") for _, m in times[5:]]
    assert [int(r["id"]) for r in api.rows(keyset_query(stamp, ident - 1))] == [i for i, _ in times[4:]]
    assert set(rows[0]) == {"links", "id", "lastmodified"} and rows[0]["links"] == []


def test_the_connectors_vendor_query(api):
    first = min(po_times(api).values()) - timedelta(days=30)
    rows = api.rows("SELECT v.id, v.entityid, v.companyname, v.email, v.isinactive, v.currency, TO_CHAR(v.datecreated, "
                    "'YYYY-MM-DD HH24:MI:SS') AS created, TO_CHAR(v.lastmodifieddate, 'YYYY-MM-DD HH24:MI:SS') AS "
                    f"lastmodified FROM vendor v WHERE v.lastmodifieddate >= TO_TIMESTAMP('{first:%Y-%m-%d %H:%M:%S}', "
                    "'YYYY-MM-DD HH24:MI:SS') ORDER BY v.lastmodifieddate, v.id")
    by_id = {r["id"]: r for r in rows}
    assert set(by_id) == {"321", "322", "323"}
    assert [r["lastmodified"] for r in rows] == sorted(r["lastmodified"] for r in rows)
    assert by_id["323"]["isinactive"] == "T" and by_id["321"]["isinactive"] == "F"
    assert "email" not in by_id["323"], "a NULL column is left out of the row"
    assert by_id["321"]["email"] == "orders@acme-industrial.example" and by_id["321"]["currency"] == "1"
    assert by_id["321"]["created"] < by_id["321"]["lastmodified"]


def test_the_connectors_stock_query(api):
    rows = api.rows("SELECT il.item, il.location, il.quantityonhand, il.quantityavailable FROM inventoryitemlocations il "
                    "WHERE (il.item > 880 OR (il.item = 880 AND il.location > 5)) ORDER BY il.item, il.location")
    assert [(r["item"], r["location"]) for r in rows] == [("880", "6"), ("881", "5"), ("881", "6"), ("882", "5"), ("882", "6")]
    assert rows[0] == {"links": [], "item": "880", "location": "6", "quantityonhand": "12", "quantityavailable": "12"}


def test_the_connectors_external_id_query(api):
    assert api.rows("SELECT t.id FROM transaction t WHERE t.type = 'PurchOrd' AND t.externalid = 'MWABCDEF1234'") == []
    assert api.rows("SELECT t.id FROM transaction t WHERE t.type = 'PurchOrd' AND t.externalid = 'MWSEED004713'") == [
        {"links": [], "id": "4713"}]


@pytest.mark.parametrize("q, wanted", [
    ("select T.ID from TRANSACTION t where T.STATUS in ('B', 'D') order by T.ID desc",
     [{"id": "4721"}, {"id": "4719"}, {"id": "4713"}, {"id": "4711"}]),
    ("SELECT t.id AS po FROM transaction t WHERE t.status NOT IN ('A','B','C','D','E','F') ORDER BY t.id",
     [{"po": "4717"}, {"po": "4718"}]),
    ("SELECT t.id FROM transaction t WHERE t.status <> 'D' AND t.status != 'A' AND t.id <= 4714",
     [{"id": "4713"}, {"id": "4714"}]),
    ("SELECT t.id, t.memo FROM transaction t WHERE t.memo LIKE 'Gasket%' ORDER BY t.id",
     [{"id": "4713", "memo": "Gaskets for the line 3 shutdown"}, {"id": "4721", "memo": "Gaskets and bearings, restock"}]),
    ("SELECT t.id FROM transaction t WHERE t.memo IS NULL ORDER BY t.id", [{"id": "4712"}, {"id": "4716"}, {"id": "4720"}]),
    ("SELECT t.id FROM transaction t WHERE t.duedate IS NULL", [{"id": "4712"}]),
    ("SELECT t.id, BUILTIN.DF(t.currency), BUILTIN.DF(t.approvalstatus) status FROM transaction t WHERE t.id = 4719",
     [{"id": "4719", "expr1": "Canadian Dollar", "status": "Approved"}]),
    ("SELECT t.id FROM transaction t WHERE t.memo = 'Rejected: duplicate of PO-004713'", [{"id": "4714"}]),
    ("SELECT t.id FROM transaction t WHERE t.id IN (4711, 4712) AND t.foreigntotal > 100.5", [{"id": "4711"}]),
    ("SELECT t.id FROM transaction t WHERE t.id = '4711'", [{"id": "4711"}]),
    ("SELECT t.id FROM transaction t WHERE t.id > -1 AND t.custbody_expedite = 'T'", [{"id": "4713"}]),
    ("SELECT tl.transaction, tl.id, tl.mainline, tl.item, BUILTIN.DF(tl.item) AS itemname, tl.quantity, tl.quantityshiprecv,"
     " tl.netamount, BUILTIN.DF(tl.location) AS loc, tl.isclosed, tl.custcol_asset_tag FROM transactionline tl "
     "WHERE tl.transaction = 4711 ORDER BY tl.linesequencenumber",
     [{"transaction": "4711", "id": "0", "mainline": "T", "netamount": "1740", "loc": "Main Plant", "isclosed": "F"},
      {"transaction": "4711", "id": "1", "mainline": "F", "item": "880", "itemname": "BRG-6205", "quantity": "10",
       "quantityshiprecv": "4", "netamount": "240", "loc": "Main Plant", "isclosed": "F", "custcol_asset_tag": "PUMP-17"},
      {"transaction": "4711", "id": "2", "mainline": "F", "item": "881", "itemname": "SEAL-KIT-40", "quantity": "2",
       "quantityshiprecv": "0", "netamount": "1500", "loc": "Main Plant", "isclosed": "F"}]),
    ("SELECT * FROM transactionstatus WHERE trantype = 'PurchOrd' AND id IN ('A', 'H')",
     [{"id": "A", "trantype": "PurchOrd", "name": "Pending Supervisor Approval",
       "fullname": "Purchase Order : Pending Supervisor Approval"},
      {"id": "H", "trantype": "PurchOrd", "name": "Closed", "fullname": "Purchase Order : Closed"}]),
    ("SELECT l.id, l.fullname, l.parent, BUILTIN.DF(l.subsidiary) AS sub FROM location l WHERE l.isinactive = 'T'",
     [{"id": "7", "fullname": "Main Plant : Old Depot", "parent": "5", "sub": "Parent Company"}]),
    ("SELECT s.id, s.fullname, s.country FROM subsidiary s WHERE s.parent IS NOT NULL",
     [{"id": "2", "fullname": "Parent Company : Acme Canada", "country": "CA"}]),
    ("SELECT i.id, i.itemtype, i.stockunit FROM item i WHERE i.itemtype <> 'InvtPart' ORDER BY i.id",
     [{"id": "883", "itemtype": "Service"}, {"id": "884", "itemtype": "NonInvtPart", "stockunit": "Box"}]),
    ("SELECT c.symbol, c.exchangerate FROM currency c ORDER BY c.symbol", [{"symbol": "CAD", "exchangerate": "0.73"},
                                                                         {"symbol": "USD", "exchangerate": "1"}]),
    ("SELECT e.entityid FROM employee e", [{"entityid": "Jordan Buyer"}]),
])
def test_suiteql_grammar_and_values(api, q, wanted):
    assert api.rows(q) == [{"links": [], **row} for row in wanted]


def test_suiteql_dates(api):
    times = po_times(api)
    ident, moment = sorted(times.items(), key=lambda kv: kv[1])[3]
    rows = api.rows(f"SELECT t.id, t.createddate, t.lastmodifieddate, t.trandate, TO_CHAR(t.trandate, 'YYYY-MM-DD') AS d "
                    f"FROM transaction t WHERE t.id = {ident}")
    assert rows[0]["lastmodifieddate"] == us(moment), "a date-time without TO_CHAR is M/D/YYYY"
    assert re.fullmatch(r"\d{1,2}/\d{1,2}/\d{4}", rows[0]["createddate"])
    assert datetime.strptime(rows[0]["d"], "%Y-%m-%d").date() == datetime.strptime(rows[0]["trandate"], "%m/%d/%Y").date()
    on_day = {i for i, m in times.items() if m.date() >= moment.date()}
    got = api.rows(f"SELECT t.id FROM transaction t WHERE t.lastmodifieddate >= TO_DATE('{moment:%Y-%m-%d}', 'YYYY-MM-DD')")
    assert {int(r["id"]) for r in got} == on_day
    stamp = f"{moment:%Y-%m-%d %H:%M:%S}"
    exact = api.rows(f"SELECT t.id FROM transaction t WHERE t.lastmodifieddate = TO_TIMESTAMP('{stamp}', 'YYYY-MM-DD HH24:MI:SS')")
    assert exact == [{"links": [], "id": str(ident)}]


@pytest.mark.parametrize("q, fragment", [
    ("SELECT t.id FROM transactions t", "Unknown identifier 'transactions'"),
    ("SELECT x.id FROM transaction t", "Unknown identifier 'x'. Available identifiers are: {t=transaction}."),
    ("SELECT t.subsidiary FROM transaction t", "Unknown identifier 'subsidiary'"),
    ("SELECT t.id FROM transaction t WHERE t.total > 5", "Unknown identifier 'total'"),
    ("SELECT t.id FROM transaction t ORDER BY t.nope", "Unknown identifier 'nope'"),
    ("SELECT tl.quantitybilled FROM transactionline tl", "Unknown identifier 'quantitybilled'"),
    ("SELECT il.lastmodifieddate FROM inventoryitemlocations il", "Unknown identifier 'lastmodifieddate'"),
    ("SELECT t.id FROM transaction t WHERE", "Syntax error"),
    ("SELECT t.id transaction t", "Syntax error"),
    ("SELECT t.id FROM transaction t WHERE t.id = 1;", "Syntax error"),
    ("SELECT t.id FROM transaction t WHERE t.lastmodifieddate > '2026-01-01'", "TO_TIMESTAMP"),
    ("SELECT NVL(t.memo, 'x') FROM transaction t", "Unsupported function NVL"),
    ("SELECT t.id FROM transaction t WHERE t.lastmodifieddate > TO_TIMESTAMP('2026-01-01', 'YYYY-MM-DD HH24:MI:SS')",
     "does not match the format"),
    ("SELECT t.id FROM transaction t WHERE t.memo = 'open", "Syntax error"),
    ("DELETE FROM transaction", "Syntax error"),
])
def test_suiteql_refusals(api, q, fragment):
    detail = assert_error(api.suiteql(q), 400, "INVALID_PARAMETER", param="q")
    assert detail.startswith("Invalid search query. Detailed unprocessed description follows. Search error occurred: ")
    assert fragment in detail


def test_suiteql_bodies_and_the_prefer_header(server, api):
    assert_error(api.call("POST", SUITEQL, body=b"not json", headers={"Prefer": "transient"}), 400, "INVALID_CONTENT")
    assert_error(api.call("POST", SUITEQL, body={"query": "x"}, headers={"Prefer": "transient"}), 400, "INVALID_PARAMETER",
                 param="q")
    assert api.suiteql("SELECT t.id FROM transaction t", prefer=False).status == 200
    logged = server.requests(api.tenant)[-1]
    assert logged["body"] == {"q": "SELECT t.id FROM transaction t"} and "Prefer: transient is missing" in logged["notes"]
    api.suiteql("SELECT t.id FROM transaction t")
    assert server.requests(api.tenant)[-1]["notes"] == [] and server.requests(api.tenant)[-1]["headers"] == {
        "Prefer": "transient"}


# ----------------------------------------------------------------------------------------------
# Writes


def example_create_body():
    text = spec_text("record-writes.txt")
    part = text.split("A. Create a purchase order", 1)[1]
    return json.JSONDecoder().raw_decode(part[part.index("\n{") + 1:])[0]


def test_create_the_example_po(server, api):
    last_id, before = newest(api)
    reply = api.post("purchaseOrder", example_create_body(), headers={"X-NetSuite-PropertyNameValidation": "Error"})
    ident = created_id(reply)
    assert ident == 4722 and reply.headers["location"] == f"{server.base}{RECORD}purchaseOrder/4722"
    po = api.po(ident)
    assert po["tranId"] == "PO-004722" and po["externalId"] == "MK-PO-2026-0042"
    assert po["status"] == {"id": "A", "refName": "Pending Supervisor Approval"}
    assert po["approvalStatus"]["id"] == "1" and po["supervisorApproval"] is False
    lines = po["item"]["items"]
    assert [(line["line"], line["amount"], line["quantityReceived"], line["isClosed"]) for line in lines] == [
        (1, 240.0, 0.0, False), (2, 1500.0, 0.0, False)]
    assert lines[0]["custcol_asset_tag"] == "PUMP-17" and lines[1]["description"] == "Mechanical seal kit, 40 mm"
    assert lines[0]["location"]["id"] == "5" and lines[0]["units"] == "Each"
    assert po["total"] == 1740.0 and po["tranDate"] == "2026-01-20" and po["custbody_external_ref"] == "MK-PO-2026-0042"
    assert po["createdDate"] == po["lastModifiedDate"]
    assert datetime.fromisoformat(po["lastModifiedDate"].replace("Z", "+00:00")) > before
    stamp = before.strftime("%Y-%m-%d %H:%M:%S")
    assert [r["id"] for r in api.rows(keyset_query(stamp, last_id))] == ["4722"]
    again = api.post("purchaseOrder", example_create_body())
    assert "MK-PO-2026-0042" in assert_error(again, 400, "USER_ERROR", path="externalId")
    assert created_id(api.post("purchaseOrder", new_po_body())) == 4723, "a refused create uses no id"
    assert api.po(4723)["tranId"] == "PO-004723"


def test_create_defaults(api):
    ident = created_id(api.post("purchaseOrder", new_po_body(item={"items": [{"item": {"id": "881"}, "quantity": 2}]})))
    po = api.po(ident)
    line = po["item"]["items"][0]
    assert line["rate"] == 750.0 and line["amount"] == 1500.0 and line["itemType"]["id"] == "InvtPart"
    assert po["currency"]["id"] == "1" and po["tranDate"] == po["createdDate"][:10]
    assert po["custbody_expedite"] is False and "memo" not in po and "location" not in line


def test_create_refusals(api):
    reply = api.post("purchaseOrder", {})
    assert reply.status == 400
    details = reply.json["o:errorDetails"]
    assert [(d["o:errorCode"], d["o:errorPath"]) for d in details] == [("USER_ERROR", "entity"), ("USER_ERROR", "subsidiary"),
                                                                        ("USER_ERROR", "item")]
    assert details[0]["detail"].endswith("Please enter value(s) for: Vendor")
    assert details[1]["detail"].endswith("Please enter value(s) for: Subsidiary")
    assert_error(api.post("purchaseOrder", new_po_body(item={"items": []})), 400, "USER_ERROR", path="item")
    cases = [
        (new_po_body(entity={"id": "323"}), "entity", "Invalid entity reference key 323."),
        (new_po_body(entity={"id": "999"}), "entity", "Invalid entity reference key 999."),
        (new_po_body(entity="321"), "entity", None),
        (new_po_body(location={"id": "7"}), "location", "Invalid location reference key 7."),
        (new_po_body(subsidiary={"id": "9"}), "subsidiary", "Invalid subsidiary reference key 9."),
        (new_po_body(item={"items": [{"item": {"id": "880"}, "quantity": 1},
                                     {"item": {"id": "9999"}, "quantity": 1}]}), "item.items[1].item",
         "Error while accessing resource: You have entered an Invalid Field Value 9999 for the following field: item"),
        (new_po_body(item={"items": [{"item": {"id": "880"}, "quantity": 1, "location": {"id": "7"}}]}),
         "item.items[0].location", None),
        (new_po_body(item={"items": [{"item": {"id": "880"}, "quantity": -2}]}), "item.items[0].quantity", None),
        (new_po_body(item={"items": [{"item": {"id": "880"}, "quantity": "2"}]}), "item.items[0].quantity", None),
        (new_po_body(tranDate="1/20/2026"), "tranDate", None),
        (new_po_body(memo=12), "memo", None),
        (new_po_body(tranId="PO-1"), "tranId", None),
        (new_po_body(status={"id": "B"}), "status", None),
        (new_po_body(item={"items": [{"item": {"id": "880"}, "quantity": 1, "amount": 5}]}), "item.items[0].amount", None),
    ]
    for body, path, text in cases:
        detail = assert_error(api.post("purchaseOrder", body), 400, "INVALID_CONTENT", path=path)
        assert text is None or detail == text, detail
    detail = assert_error(api.post("purchaseOrder", new_po_body(item={"items": [{"quantity": 1}]})), 400, "USER_ERROR",
                          path="item.items[0].item")
    assert detail.endswith("Please enter value(s) for: Item")
    assert api.ids("purchaseOrder") == PO_IDS, "nothing was created"


def test_property_name_validation(server, api):
    body = new_po_body(memoo="typo", item={"items": [{"item": {"id": "880"}, "quantity": 1, "colour": "red"}]})
    assert assert_error(api.post("purchaseOrder", body, {"X-NetSuite-PropertyNameValidation": "Error"}), 400,
                        "INVALID_CONTENT", path="memoo") == "Invalid field name: memoo."
    del body["memoo"]
    assert_error(api.post("purchaseOrder", body, {"X-NetSuite-PropertyNameValidation": "error"}), 400, "INVALID_CONTENT",
                 path="item.items[0].colour")
    assert_error(api.post("purchaseOrder", new_po_body(custbody_unknown="x"), {"X-NetSuite-PropertyNameValidation": "ERROR"}),
                 400, "INVALID_CONTENT", path="custbody_unknown")
    body["memoo"] = "typo"
    ident = created_id(api.post("purchaseOrder", body))  # default Warning: dropped
    assert "memoo" not in api.po(ident)
    notes = server.requests(api.tenant)[-2]["notes"]
    assert "dropped unknown property memoo (warning)" in notes and "dropped unknown property item.items[0].colour (warning)" in notes
    created_id(api.post("purchaseOrder", body, {"X-NetSuite-PropertyNameValidation": "Ignore"}))
    assert_error(api.post("purchaseOrder", body, {"X-NetSuite-PropertyNameValidation": "Strict"}), 400, "INVALID_PARAMETER")
    assert_error(api.patch("purchaseOrder", 4712, {"memoo": "typo"}, headers={"X-NetSuite-PropertyNameValidation": "Error"}),
                 400, "INVALID_CONTENT", path="memoo")


def test_the_idempotency_key_is_logged_and_ignored(server, api):
    key = str(uuid.uuid4())
    first = created_id(api.post("purchaseOrder", new_po_body(), {"X-NetSuite-Idempotency-Key": key}))
    second = created_id(api.post("purchaseOrder", new_po_body(), {"X-NetSuite-Idempotency-Key": key}))
    assert second == first + 1
    logged = [r for r in server.requests(api.tenant) if r["method"] == "POST" and r["path"].endswith("purchaseOrder")]
    assert all(r["headers"]["X-NetSuite-Idempotency-Key"] == key for r in logged)
    assert all("X-NetSuite-Idempotency-Key ignored: the call is synchronous" in r["notes"] for r in logged)
    assert logged[0]["body"]["entity"] == {"id": "321"} and logged[0]["status"] == 204


def test_patch_header_fields(api):
    before = api.po(4712)
    latest = max(po_times(api).values())
    assert api.patch("purchaseOrder", 4712, {"memo": "Expedite", "dueDate": "2026-02-01", "location": {"id": "6"},
                                             "custbody_external_ref": "REF-1", "custbody_expedite": True}).status == 204
    after = api.po(4712)
    assert (after["memo"], after["dueDate"], after["location"]["id"], after["custbody_external_ref"]) == (
        "Expedite", "2026-02-01", "6", "REF-1")
    assert after["custbody_expedite"] is True
    assert {k: v for k, v in after.items() if k not in ("memo", "dueDate", "location", "custbody_external_ref",
                                                        "custbody_expedite", "lastModifiedDate")} == \
        {k: v for k, v in before.items() if k not in ("memo", "location", "custbody_external_ref", "custbody_expedite",
                                                      "lastModifiedDate")}
    assert datetime.fromisoformat(after["lastModifiedDate"].replace("Z", "+00:00")) > latest
    assert api.patch("purchaseOrder", 4712, {"memo": None}).status == 204
    assert "memo" not in api.po(4712)
    assert_error(api.patch("purchaseOrder", 4712, {"entity": None}), 400, "USER_ERROR", path="entity")
    assert_error(api.patch("purchaseOrder", 4712, {"entity": {"id": "323"}}), 400, "INVALID_CONTENT", path="entity")
    assert_error(api.patch("purchaseOrder", 9999, {"memo": "x"}), 404, "NONEXISTENT_ID")


def test_every_write_is_strictly_later(api):
    stamps = []
    for n in range(4):
        assert api.patch("purchaseOrder", 4720, {"memo": f"edit {n}"}).status == 204
        stamps.append(api.po(4720)["lastModifiedDate"])
    assert stamps == sorted(stamps) and len(set(stamps)) == 4


def test_patch_lines_keyed_by_line(api):
    assert api.patch("purchaseOrder", 4712, {"item": {"items": [
        {"line": 1, "quantity": 3}, {"item": {"id": "882"}, "quantity": 4, "rate": 3.0}]}}).status == 204
    lines = api.po(4712)["item"]["items"]
    assert [(l["line"], l["item"]["id"], l["quantity"], l["amount"]) for l in lines] == [
        (1, "880", 3.0, 72.0), (2, "884", 5.0, 48.5), (3, "882", 4.0, 12.0)]
    assert api.po(4712)["total"] == 132.5
    assert api.patch("purchaseOrder", 4712, {"item": {"items": [{"line": "7", "item": {"id": "880"}, "quantity": 1}]}}
                     ).status == 204
    assert [l["line"] for l in api.po(4712)["item"]["items"]] == [1, 2, 3, 4], "an unmatched line is added"
    assert api.patch("purchaseOrder", 4712, {"item": {"items": [{"line": 3}, {"line": 1, "rate": 20}]}},
                     params={"replace": "item"}).status == 204
    po = api.po(4712)
    assert [(l["line"], l["amount"]) for l in po["item"]["items"]] == [(1, 60.0), (3, 12.0)] and po["total"] == 72.0
    assert_error(api.patch("purchaseOrder", 4712, {"item": {"items": []}}, params={"replace": "item"}), 400,
                 "USER_ERROR", path="item")
    assert_error(api.patch("purchaseOrder", 4712, {}, params={"replace": "lines"}), 400, "INVALID_PARAMETER",
                 param="replace")
    assert_error(api.patch("purchaseOrder", 4712, {"item": {"items": [{"line": 1, "quantityReceived": 1}]}}), 400,
                 "INVALID_CONTENT", path="item.items[0].quantityReceived")
    rows = api.rows("SELECT tl.id, tl.quantity FROM transactionline tl WHERE tl.transaction = 4712 AND tl.mainline = 'F'")
    assert rows == [{"links": [], "id": "1", "quantity": "3"}, {"links": [], "id": "3", "quantity": "4"}]


def test_closing_lines_of_an_approved_po(api):
    assert api.patch("purchaseOrder", 4711, {"item": {"items": [{"line": 2, "isClosed": True}]}}).status == 204
    po = api.po(4711)
    assert [l["isClosed"] for l in po["item"]["items"]] == [False, True] and po["status"]["id"] == "D"
    assert api.patch("purchaseOrder", 4711, {"item": {"items": [{"line": 1, "isClosed": True}]}}).status == 204
    po = api.po(4711)
    assert po["status"] == {"id": "H", "refName": "Closed"}
    rows = api.rows("SELECT t.status, BUILTIN.DF(t.status) AS s FROM transaction t WHERE t.id = 4711")
    assert rows == [{"links": [], "status": "H", "s": "Purchase Order : Closed"}]
    lines = api.rows("SELECT tl.isclosed FROM transactionline tl WHERE tl.transaction = 4711 AND tl.mainline = 'F'")
    assert {r["isclosed"] for r in lines} == {"T"}
    # Closing the last open line of a partly received PO: quantities of the open lines decide.
    assert api.patch("purchaseOrder", 4715, {"item": {"items": [{"line": 2, "isClosed": True}]}}).status == 204
    assert api.po(4715)["status"]["id"] == "G"


@pytest.mark.parametrize("body, params", [
    ({"memo": "changed"}, None),
    ({"item": {"items": [{"line": 1, "isClosed": False}]}}, None),
    ({"item": {"items": [{"line": 1, "quantity": 2}]}}, None),
    ({"item": {"items": [{"line": 1, "isClosed": True, "rate": 1}]}}, None),
    ({"item": {"items": [{"item": {"id": "880"}, "quantity": 1}]}}, None),
    ({"item": {"items": [{"line": 1, "isClosed": True}]}}, {"replace": "item"}),
    ({"approvalStatus": {"id": "1"}}, None),
])
def test_an_approved_po_is_locked(api, body, params):
    before = api.po(4713)
    detail = assert_error(api.patch("purchaseOrder", 4713, body, params=params), 400, "USER_ERROR")
    assert detail == LOCKED
    assert api.po(4713) == before


def test_approving_a_new_po_locks_it(api):
    ident = created_id(api.post("purchaseOrder", new_po_body()))
    assert api.patch("purchaseOrder", ident, {"approvalStatus": {"id": "2"}}).status == 204
    po = api.po(ident)
    assert po["status"]["id"] == "B" and po["supervisorApproval"] is True
    assert assert_error(api.patch("purchaseOrder", ident, {"memo": "late"}), 400, "USER_ERROR") == LOCKED
    assert api.patch("purchaseOrder", ident, {}).status == 204, "an empty update saves the record as it is"
    assert api.patch("purchaseOrder", 4714, {"approvalStatus": "1"}).status == 204, "a rejected PO can be resubmitted"
    assert api.po(4714)["status"]["id"] == "A"


def test_delete(api):
    ident = created_id(api.post("purchaseOrder", new_po_body()))
    assert api.delete("purchaseOrder", ident).status == 204
    assert_error(api.get(f"{RECORD}purchaseOrder/{ident}"), 404, "NONEXISTENT_ID")
    assert_error(api.delete("purchaseOrder", ident), 404, "NONEXISTENT_ID")
    assert api.delete("purchaseOrder", 4711).status == 204
    assert 4711 not in api.ids("purchaseOrder")
    assert_error(api.delete("vendor", 322), 400, "USER_ERROR")
    assert_error(api.delete("inventoryItem", 881), 400, "USER_ERROR")
    vendor = created_id(api.post("vendor", {"companyName": "Short-lived Supply", "subsidiary": {"id": "1"}}))
    assert api.delete("vendor", vendor).status == 204
    assert created_id(api.post("purchaseOrder", new_po_body())) == ident + 1, "ids are not reused"


def test_vendor_writes(api):
    ident = created_id(api.post("vendor", {"companyName": "Delta Valves", "email": "sales@delta.example",
                                           "subsidiary": {"id": "2"}, "externalId": "V-DELTA"}))
    assert ident == 324
    vendor = api.record("vendor", ident)
    assert vendor["entityId"] == "Delta Valves" and vendor["currency"]["refName"] == "Canadian Dollar"
    assert vendor["isInactive"] is False and vendor["dateCreated"] == vendor["lastModifiedDate"]
    assert api.patch("vendor", ident, {"email": "orders@delta.example", "isInactive": True}).status == 204
    assert api.record("vendor", ident)["email"] == "orders@delta.example"
    assert api.ids("vendor", "isInactive IS true") == [323, 324]
    rows = api.rows("SELECT v.id, v.email FROM vendor v WHERE v.externalid = 'V-DELTA'")
    assert rows == [{"links": [], "id": "324", "email": "orders@delta.example"}]
    details = api.post("vendor", {}).json["o:errorDetails"]
    assert [d["o:errorPath"] for d in details] == ["companyName", "subsidiary"]
    assert_error(api.post("vendor", {"companyName": "Acme Industrial Supply", "subsidiary": {"id": "1"}}), 400, "USER_ERROR",
                 path="entityId")
    assert_error(api.post("vendor", {"companyName": "X", "subsidiary": {"id": "1"}, "externalId": "V-DELTA"}), 400,
                 "USER_ERROR", path="externalId")
    assert_error(api.post("purchaseOrder", new_po_body(entity={"id": str(ident)})), 400, "INVALID_CONTENT", path="entity")


def test_read_only_types_and_methods(api):
    assert_error(api.post("location", {"name": "New"}), 405, "INVALID_METHOD")
    assert_error(api.patch("currency", 1, {"name": "Dollar"}), 405, "INVALID_METHOD")
    assert_error(api.call("PUT", RECORD + "purchaseOrder/4711", body={}), 405, "INVALID_METHOD")
    assert_error(api.call("GET", SUITEQL), 405, "INVALID_METHOD")
    assert_error(api.post("purchaseOrder", b"{not json"), 400, "INVALID_CONTENT")
    assert_error(api.get("/services/rest/record/v2/purchaseOrder"), 404, "INVALID_URL")


# ----------------------------------------------------------------------------------------------
# Concurrency, faults


def parallel(calls):
    """Run the calls at once; their replies in order."""
    barrier = threading.Barrier(len(calls))
    replies = [None] * len(calls)

    def run(index, call):
        barrier.wait()
        replies[index] = call()
    threads = [threading.Thread(target=run, args=(n, call)) for n, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return replies


def test_the_concurrency_limit(server, api):
    tenant = api.tenant
    assert server.control("POST", "limits", {"tenant": tenant, "concurrency": 2, "latencyMs": 400}) == {
        "tenant": tenant, "limit": 2, "latencyMs": 400}
    started = time.monotonic()
    replies = parallel([lambda: api.get(RECORD + "purchaseOrder/4711")] * 3 +
                       [lambda: api.suiteql("SELECT t.id FROM transaction t")] * 3)
    assert time.monotonic() - started >= 0.4
    statuses = [r.status for r in replies]
    assert set(statuses) <= {200, 429} and statuses.count(200) >= 2 and statuses.count(429) >= 1, statuses
    refused = next(r for r in replies if r.status == 429)
    assert "retry-after" not in refused.headers
    if SPECS.is_dir():
        example = error_example("concurrency_limit_exceeded")
        assert refused.json == example["body"] and refused.headers["content-type"] == example["headers"]["Content-Type"]
    else:
        assert_error(refused, 429, "CONCURRENCY_LIMIT_EXCEEDED")
    stats = server.stats(tenant)
    assert stats["maxInFlight"] == 2 and stats["limit"] == 2 and stats["rejectedConcurrency"] == statuses.count(429)
    logged = [r for r in server.requests(tenant) if r["path"] != TOKEN_PATH]
    assert all(r["inFlight"] == 2 for r in logged if r["status"] == 429)
    # The token endpoint is not governed, and one call after another never meets the limit.
    server.control("POST", "limits", {"tenant": tenant, "concurrency": 1, "latencyMs": 0})
    assert all(api.get(RECORD + "currency/1").status == 200 for _ in range(10))
    server.control("POST", "limits", {"tenant": tenant, "latencyMs": 500})
    slow, token = parallel([lambda: api.get(RECORD + "currency/1"),
                            lambda: (time.sleep(0.1), server.token_call(server.assertion(tenant)))[1]])
    assert slow.status == 200 and token.status == 200


def test_tenants_have_their_own_limits(server, api):
    other = server.session(f"demo-{uuid.uuid4().hex[:12]}")
    server.control("POST", "limits", {"tenant": api.tenant, "concurrency": 1, "latencyMs": 300})
    replies = parallel([lambda: api.get(RECORD + "currency/1"), lambda: other.get(RECORD + "currency/1"),
                        lambda: other.get(RECORD + "currency/2")])
    assert [r.status for r in replies] == [200, 200, 200]
    assert server.stats(other.tenant)["limit"] == 5 and server.stats(api.tenant)["limit"] == 1


def test_faults(server, api):
    tenant = api.tenant
    server.control("POST", "faults", {"tenant": tenant, "fault": "429", "count": 2, "method": "POST",
                                      "path": "/query/v1/suiteql"})
    assert api.get(RECORD + "purchaseOrder/4711").status == 200, "other calls are not matched"
    for _ in range(2):
        assert_error(api.suiteql("SELECT t.id FROM transaction t"), 429, "CONCURRENCY_LIMIT_EXCEEDED")
    assert api.suiteql("SELECT t.id FROM transaction t").status == 200
    assert server.stats(tenant)["rejectedConcurrency"] == 2
    server.control("POST", "faults", {"tenant": tenant, "fault": "401"})
    assert_error(api.get(RECORD + "vendor/321"), 401, "INVALID_LOGIN")
    assert api.get(RECORD + "vendor/321").status == 200, "the token itself still works"
    server.control("POST", "faults", {"tenant": tenant, "fault": 500, "path": "/services/rest/record/v1/purchaseOrder"})
    assert "unexpected error" in assert_error(api.get(RECORD + "purchaseOrder/4712"), 500, "UNEXPECTED_ERROR")
    server.control("POST", "faults", {"tenant": tenant, "fault": "stall", "seconds": 0.6, "method": "PATCH"})
    started = time.monotonic()
    assert api.patch("purchaseOrder", 4712, {"memo": "slow"}).status == 204
    assert time.monotonic() - started >= 0.6
    assert api.po(4712)["memo"] == "slow"
    logged = server.requests(tenant)
    assert [r.get("fault") for r in logged if r.get("fault")] == ["429", "429", "401", "500", "stall"]
    other = server.session(f"demo-{uuid.uuid4().hex[:12]}")
    server.control("POST", "faults", {"tenant": tenant, "fault": "500", "count": 3})
    assert other.get(RECORD + "vendor/321").status == 200, "faults are per tenant"
    server.control("DELETE", "faults", tenant=tenant)
    assert api.get(RECORD + "vendor/321").status == 200
    assert server.call("POST", "/_standin/faults", body={"tenant": tenant, "fault": "503"}).status == 400


def test_faults_in_the_common_format(server, api):
    """The format the other stand-ins take (standin_control): responses consumed in order by matching calls."""
    tenant = api.tenant
    queued = server.control("POST", "faults", {"tenant": tenant, "match": "vendor", "method": "get",
                                               "responses": [{"status": 429}, {"stallSeconds": 0.6}, {"status": 401}]})
    assert queued == {"tenant": tenant, "pending": 3}
    assert api.get(RECORD + "purchaseOrder/4711").status == 200, "other calls are not matched"
    assert_error(api.get(RECORD + "vendor/321"), 429, "CONCURRENCY_LIMIT_EXCEEDED")
    started = time.monotonic()
    assert api.get(RECORD + "vendor/321").status == 200 and time.monotonic() - started >= 0.6
    assert_error(api.get(RECORD + "vendor/321"), 401, "INVALID_LOGIN")
    assert api.get(RECORD + "vendor/321").status == 200
    assert [r.get("fault") for r in server.requests(tenant) if r.get("fault")] == ["429", "stall", "401"]
    for bad in ({"status": 503}, {"delaySeconds": 1}, {"status": 429, "retryAfter": 1}, {"stallSeconds": "long"}):
        assert server.call("POST", "/_standin/faults", body={"tenant": tenant, "responses": [bad]}).status == 400, bad


# ----------------------------------------------------------------------------------------------
# Touch, logs, tenants, control


def test_touch(server, api):
    last_id, latest = newest(api)
    touched = server.control("POST", "touch", {"tenant": api.tenant, "type": "purchaseOrder", "id": "4713",
                                               "fields": {"memo": "Changed by a buyer"}})
    assert touched["memo"] == "Changed by a buyer" and touched["item"]["count"] == 2
    moment = datetime.fromisoformat(touched["lastModifiedDate"].replace("Z", "+00:00"))
    assert moment > latest
    assert [r["id"] for r in api.rows(keyset_query(latest.strftime("%Y-%m-%d %H:%M:%S"), last_id))] == ["4713"]
    assert api.ids("purchaseOrder", f'lastModifiedDate ON_OR_AFTER "{us(moment)} {moment:%H:%M}"') == [4713]
    for rtype, ident, fields in (("vendor", 322, {"email": "new@northwind.example"}),
                                 ("item", 882, {"displayName": "Gasket set, PTFE"}),
                                 ("location", 6, {"name": "Warehouse East 2"}), ("subsidiary", 2, {"isInactive": True}),
                                 ("item", 883, {"description": "Calibration"})):
        answer = server.control("POST", "touch", {"tenant": api.tenant, "type": rtype, "id": ident, "fields": fields})
        assert all(answer[k] == v for k, v in fields.items())
    assert api.record("servicePurchaseItem", 883)["description"] == "Calibration"
    rows = api.rows("SELECT v.id FROM vendor v WHERE v.lastmodifieddate > "
                    f"TO_TIMESTAMP('{latest:%Y-%m-%d %H:%M:%S}', 'YYYY-MM-DD HH24:MI:SS')")
    assert rows == [{"links": [], "id": "322"}]
    approved = server.control("POST", "touch", {"tenant": api.tenant, "type": "purchaseOrder", "id": "4720",
                                                "fields": {"approvalStatus": "2"}})
    assert approved["status"]["id"] == "B" and approved["supervisorApproval"] is True
    for body in ({"type": "purchaseOrder", "id": "4713", "fields": {"nosuch": 1}},
                 {"type": "purchaseOrder", "id": "4713", "fields": {"lastModifiedDate": "x"}},
                 {"type": "purchaseOrder", "id": "4713", "fields": {"entity": 999}},
                 {"type": "widget", "id": "1", "fields": {"memo": "x"}}):
        assert server.call("POST", "/_standin/touch", body={"tenant": api.tenant, **body}).status == 400
    assert server.call("POST", "/_standin/touch", body={"tenant": api.tenant, "type": "vendor", "id": "1",
                                                        "fields": {"email": "x"}}).status == 404


def test_the_request_log(server, api):
    tenant = api.tenant
    api.get(RECORD + "purchaseOrder", {"q": 'memo CONTAIN "pump"', "limit": "10"})
    api.patch("purchaseOrder", 4712, {"memo": "logged"}, headers={"X-NetSuite-PropertyNameValidation": "Error"})
    log = server.requests(tenant)
    assert [r["path"] for r in log] == [TOKEN_PATH, RECORD + "purchaseOrder", RECORD + "purchaseOrder/4712"]
    assert log[1]["query"] == {"q": 'memo CONTAIN "pump"', "limit": "10"} and log[1]["status"] == 200
    assert log[1]["inFlight"] == 0 and log[1]["body"] is None
    assert log[2]["body"] == {"memo": "logged"} and log[2]["status"] == 204
    assert log[2]["headers"] == {"X-NetSuite-PropertyNameValidation": "Error"}
    assert api.token not in json.dumps(server.control("GET", "requests"))
    server.control("DELETE", "requests", tenant=tenant)
    assert server.requests(tenant) == []
    api.get(RECORD + "currency/1")
    assert len(server.requests(tenant)) == 1


def test_tenants_are_isolated(server, api):
    other = server.session(f"demo-{uuid.uuid4().hex[:12]}")
    assert api.patch("purchaseOrder", 4712, {"memo": "only mine"}).status == 204
    created_id(api.post("purchaseOrder", new_po_body()))
    server.control("POST", "clock", {"tenant": api.tenant, "offsetSeconds": 100})
    assert "memo" not in other.po(4712) and other.ids("purchaseOrder") == PO_IDS
    assert api.ids("purchaseOrder") == PO_IDS + [4722]
    assert created_id(other.post("purchaseOrder", new_po_body())) == 4722
    assert all(r["tenant"] == other.tenant for r in server.requests(other.tenant))
    assert server.stats(other.tenant)["tokensIssued"] == 1
    assert server.control("POST", "expire-tokens", {"tenant": api.tenant})["expired"] == 1
    assert other.get(RECORD + "currency/1").status == 200


def test_control_endpoints(server):
    assert server.control("GET", "health") == {"ok": True}
    for method, endpoint, body in (("POST", "limits", {"tenant": "demo-x", "concurrency": 0}),
                                   ("POST", "limits", {"concurrency": 1}),
                                   ("POST", "clock", {"tenant": "demo-x", "offsetSeconds": "soon"}),
                                   ("POST", "faults", {"tenant": "demo-x", "fault": "429", "count": 0}),
                                   ("POST", "expire-tokens", {})):
        assert server.call(method, f"/_standin/{endpoint}", body=body).status == 400, endpoint
    assert server.call("GET", "/_standin/stats").status == 400
    assert server.call("GET", "/_standin/nothing").status == 404


def test_the_stand_in_starts_from_its_own_folder_alone(tmp_path, tenant):
    folder = tmp_path / "standins"
    folder.mkdir()
    for name in ("netsuite.py", "standin_http.py", "standin_control.py", "netsuite_seed.json",
                 "netsuite_demo_certificate.pem"):
        shutil.copy(SERVER.with_name(name), folder / name)
    served = start(script=folder / "netsuite.py", cwd=tmp_path)
    try:
        assert served.session(tenant).ids("purchaseOrder") == PO_IDS
    finally:
        stop(served.process)
