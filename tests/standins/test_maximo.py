"""Tests of the Maximo stand-in (infra/local/standins/maximo.py), and of its seed data against IBM's files.

The connector's tests trust the stand-in to answer like a real Maximo, so these check what it serves
against the behaviour the connector contract names: the lean record shape, hrefs, responseInfo and
paging, oslc.where / oslc.select / oslc.orderBy, tenants, writes, the approved-PO rule, status
changes, faults, the request log and the refusal of unknown attributes. The stand-in serves its own
seed data (infra/local/standins/maximo_seed.json) and reads nothing else.

Where IBM's own lean-format records are at hand (maximo/ under $MILLWRIGHT_VENDOR_SPECS, by default
../shared/specs beside the checkout, as in CI), the seed file and what is served are also judged by
them, read here independently of the server: every attribute the stand-in keeps or serves is one
IBM's records carry (or one IBM documents, EXTRAS), with the same JSON kind; every attribute IBM's
records carry is served; keys are encoded in hrefs in IBM's order; answers have IBM's top-level
shape. Without those files these tests are skipped with the folder named; the rest run.

Needs only pytest (in any venv of Python 3.11): `python -m pytest tests/standins` from the repo root.
The server runs as a subprocess on a port the OS picks.
"""

import base64
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
SERVER = REPO / "infra" / "local" / "standins" / "maximo.py"
SEED_FILE = SERVER.with_name("maximo_seed.json")
# IBM's own files (reference, not part of the repository), as connectors/vendor_specs.rs finds them.
SAMPLES = Path(os.environ.get("MILLWRIGHT_VENDOR_SPECS") or REPO.parent / "shared" / "specs") / "maximo"
MAX_PAGE = 20  # the server under test runs with --max-page-size 20, below the 25 seeded POs
PASSWORD = "Millwright-Demo-1"

# Each structure's key as its hrefs encode it (the samples' hrefs show the order).
KEYS = {"mxapipo": ("ponum", "revisionnum", "siteid"), "mxapiwodetail": ("siteid", "wonum"),
        "mxapiasset": ("assetnum", "siteid"), "mxapiinventory": ("itemnum", "itemsetid", "location", "siteid"),
        "mxapivendor": ("company", "orgid"), "mxapilocation": ("location", "siteid")}
# The sample records of each structure; mxapilocation's are the LOCATIONS record (an mxapioperloc
# member) in the asset sample.
SAMPLE_OF = {"mxapipo": ("mxapipo-list-sample.json", "/mxapipo/"),
             "mxapiwodetail": ("mxapiwodetail-list-with-nextPage-sample.json", "/mxapiwodetail/"),
             "mxapiasset": ("mxapiasset-list-sample.json", "/mxapiasset/"),
             "mxapiinventory": ("mxapiinventory-tool-sample.json", "/mxapiinventory/"),
             "mxapivendor": ("mxapivendor-list-sample.json", "/mxapivendor/"),
             "mxapilocation": ("mxapiasset-list-sample.json", "/mxapioperloc/")}
# Sample keys a real server does not send: the apps' UI counters and flags.
NOT_SENT = {"mxapipo": {"_id", "inspectCountNum", "receiveCountNum", "assetCountNum", "returnCountNum",
                        "receiptCountNum", "invalid", "rececount", "inspectcount"},
            "poline": {"item", "inspectedqty", "issuetype"}}
# Attributes the stand-in has beyond IBM's records, from IBM's documentation of the objects.
EXTRAS = {"mxapipo": {"revisionnum", "siteid", "orgid", "status", "status_description", "status_maxvalue",
                      "statusdate", "changedate", "currencycode", "totalcost", "requireddate", "poline",
                      "poline_collectionref"},
          "mxapiwodetail": {"siteid", "assetnum", "targstartdate", "targcompdate", "statusdate", "reportdate",
                            "actfinish", "changedate"},
          "mxapiasset": {"serialnum", "changedate"},
          "mxapiinventory": {"itemsetid", "curbaltotal", "avgcost", "changedate"},
          "mxapivendor": {"changedate"},
          "mxapilocation": {"parent", "changedate"},
          "poline": {"unitcost", "linecost"}}
PO_1001 = "_MTAwMS8wL0JFREZPUkQ-"  # 1001/0/BEDFORD
PO_1002 = "_MTAwMi8wL0JFREZPUkQ-"
PO_1003 = "_MTAwMy8wL0JFREZPUkQ-"


def sample_document(name):
    """One of IBM's files, read; skips the test, naming the folder, when IBM's files are absent."""
    if not SAMPLES.is_dir():
        pytest.skip(
            f"IBM's Maximo records are not at {SAMPLES} (set MILLWRIGHT_VENDOR_SPECS, or put them in "
            "../shared/specs beside the checkout): nothing is checked against them here"
        )
    return json.loads((SAMPLES / name).read_text())


def samples(structure):
    name, marker = SAMPLE_OF[structure]
    return [m for m in sample_document(name)["member"] if marker in (m.get("href") or "")]


def seed_records(structure):
    """The seed file's records of a structure, over its defaults, read here as plain JSON."""
    part = json.loads(SEED_FILE.read_text())[structure]
    return [{**part.get("defaults", {}), **record} for record in part["records"]]


def kind(value):
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    return {str: "string", list: "array", dict: "object", type(None): "null"}[type(value)]


def kinds(records):
    found = {}
    for record in records:
        for name, value in record.items():
            found.setdefault(name, set()).add(kind(value))
    return found


def decode_id(text):
    """A Maximo rest id back to its key values ('_' is base64's '+', '-' its '=' padding)."""
    return base64.b64decode(text.replace("_", "+").replace("-", "=")).decode()


def moment(text):
    return datetime.fromisoformat(text)


class Reply:
    def __init__(self, status, headers, data):
        self.status, self.headers, self.text = status, {k.lower(): v for k, v in headers.items()}, data.decode()
        self.json = json.loads(data) if data else None

    def __repr__(self):
        return f"<{self.status} {self.text[:300]}>"


class Client:
    """A plain HTTP client for the stand-in; `tenant` sends the apikey header."""

    def __init__(self, base):
        self.base = base

    def call(self, method, target, params=None, headers=None, body=None, tenant=None, raw_query=None):
        url = target if target.startswith("http") else self.base + target
        if params is not None:
            url += "?" + urlencode(params, quote_via=quote)
        if raw_query is not None:
            url += "?" + raw_query
        headers = dict(headers or {})
        if tenant is not None:
            headers["apikey"] = tenant
        data = None if body is None else json.dumps(body).encode()
        try:
            with urlopen(Request(url, data=data, method=method, headers=headers), timeout=30) as answer:
                return Reply(answer.status, dict(answer.headers), answer.read())
        except HTTPError as error:
            return Reply(error.code, dict(error.headers), error.read())

    def get(self, target, params=None, **kwargs):
        return self.call("GET", target, params=params, **kwargs)

    def post(self, target, body, params=None, **kwargs):
        return self.call("POST", target, params=params, body=body, **kwargs)

    def api(self, structure, rest=""):
        return f"/maximo/api/os/{structure}{rest}"

    def all(self, tenant, structure, **params):
        """Every member of a collection, following responseInfo.nextPage as the connector does."""
        reply = self.get(self.api(structure), {"lean": "1", "oslc.pageSize": str(MAX_PAGE), **params}, tenant=tenant)
        members = []
        while True:
            assert reply.status == 200, reply
            members += reply.json["member"]
            following = reply.json["responseInfo"].get("nextPage")
            if following is None:
                return members
            reply = self.get(following["href"], tenant=tenant)

    def record(self, tenant, structure, rest, **params):
        reply = self.get(self.api(structure, f"/{rest}"), {"lean": "1", **params}, tenant=tenant)
        assert reply.status == 200, reply
        return reply.json

    def patch(self, tenant, structure, rest, body, headers=None, params=None):
        return self.post(self.api(structure, f"/{rest}"), body, {"lean": "1", **(params or {})},
                         headers={"x-method-override": "PATCH", **(headers or {})}, tenant=tenant)

    def violations(self, tenant):
        return self.get("/_standin/violations", {"tenant": tenant}).json["violations"]


def start(script=SERVER, cwd=None):
    """A stand-in process and a Client of it (whose `started` is just before the process started)."""
    started = datetime.now(timezone.utc)  # the seed data is dated back from the stand-in's start
    process, origin = launch(script, "maximo", "--max-page-size", str(MAX_PAGE), cwd=cwd)
    served = Client(origin)
    served.started = started
    return process, served


@pytest.fixture(scope="module")
def client():
    process, served = start()
    yield served
    stop(process)


@pytest.fixture
def tenant():
    return f"demo-{uuid.uuid4().hex[:12]}"


def assert_refused(reply, status, code):
    assert reply.status == status, reply
    error = reply.json["Error"]
    assert error["reasonCode"] == code and error["statusCode"] == str(status), reply
    assert error["message"].startswith(f"{code} - "), reply
    return error["message"]


# What a record looks like.

def childkey_href(text):
    """The href Maximo gives a child row: its childkey, base64 as rest ids write it."""
    return "http://childkey#" + base64.b64encode(text.encode()).decode().replace("+", "_").replace("=", "-")


@pytest.mark.parametrize("structure", list(KEYS))
def test_records_have_hrefs_of_their_keys_and_rowstamps(client, tenant, structure):
    served = client.all(tenant, structure, **{"oslc.select": "*"})
    assert served, f"no records of {structure}"
    for record in served:
        assert re.fullmatch(r"\d+", record["_rowstamp"]), record["_rowstamp"]
        found = re.fullmatch(re.escape(f"{client.base}/maximo/api/os/{structure}/_") + r"([A-Za-z0-9_-]+)", record["href"])
        assert found, record["href"]
        assert decode_id(found.group(1)) == "/".join(str(record[k]) for k in KEYS[structure])
    served_keys = {k for r in served for k in r}
    assert not served_keys & NOT_SENT.get(structure, set()), "a real server does not send the apps' own keys"


def sample_kinds_of(structure):
    """The kinds of each attribute IBM's records of a structure carry; for WO, location is a string."""
    sample = samples(structure)
    assert sample, f"no sample records for {structure}"
    found = kinds(sample)
    # The WO sample's app selected location.location and location.description, which Maximo
    # answers as an object; the LOCATION attribute itself is a string.
    if structure == "mxapiwodetail":
        assert "location.location" in sample_document(SAMPLE_OF[structure][0])["responseInfo"]["href"]
        found["location"] = {"string"}
    return found


def assert_kinds(what, records, sample_kinds, extras):
    """Each record has only attributes IBM's records carry (or extras), with the kinds IBM's have."""
    allowed = set(sample_kinds) | extras
    for record in records:
        assert set(record) <= allowed, f"{what} has {set(record) - allowed}, which IBM's records do not"
        for name, value in record.items():
            if name in sample_kinds:
                assert kind(value) in sample_kinds[name], f"{what}.{name} is {kind(value)}, IBM's {sample_kinds[name]}"


@pytest.mark.parametrize("structure", list(KEYS))
def test_records_have_the_samples_attributes_and_kinds(client, tenant, structure):
    sample, sample_kinds = samples(structure), sample_kinds_of(structure)
    internal = any(name.endswith("_maxvalue") for record in sample for name in record)
    served = client.all(tenant, structure, **{"oslc.select": "*", **({"internalvalues": "1"} if internal else {})})
    assert_kinds(structure, served, sample_kinds, EXTRAS[structure])
    missing = set(sample_kinds) - NOT_SENT.get(structure, set()) - {k for r in served for k in r}
    assert not missing, f"{structure} never serves {missing}"
    for record in sample:  # IBM's hrefs encode the key in the same order
        parts = decode_id(record["href"].rsplit("/_", 1)[1]).split("/")
        assert all(parts[i] == str(record[k]) for i, k in enumerate(KEYS[structure]) if k in record), record["href"]


@pytest.mark.parametrize("structure", list(KEYS))
def test_the_seed_file_keeps_the_samples_attributes_and_kinds(structure):
    records = seed_records(structure)
    sample_kinds = sample_kinds_of(structure)
    assert records and all(set(KEYS[structure]) <= set(record) for record in records), "every record has its key"
    assert_kinds(f"the seed's {structure}", records, sample_kinds, EXTRAS[structure])
    if structure == "mxapipo":
        seed = json.loads(SEED_FILE.read_text())
        lines = [{**seed["mxapipo"]["line"], **line} for record in records for line in record["poline"]]
        line_kinds = kinds(sample_document("mxapipo-poline-sample.json")["member"])
        assert_kinds("the seed's poline", lines, line_kinds, EXTRAS["poline"])
    if structure == "mxapivendor":
        contact_kinds = kinds([c for v in samples("mxapivendor") for c in v["compcontact"]])
        assert_kinds("the seed's compcontact", [c for v in records for c in v["compcontact"]], contact_kinds, set())


def test_po_lines_are_children_of_their_po(client, tenant):
    pos = client.all(tenant, "mxapipo", **{"oslc.select": "*", "internalvalues": "1"})
    for po in pos:
        assert 1 <= len(po["poline"]) <= 3
        assert po["poline_collectionref"] == po["href"] + "/poline"
        for index, line in enumerate(po["poline"]):
            assert line["localref"] == f"{po['href']}/poline/{index}-{line['polineid']}"
            assert line["href"] == childkey_href(f"PO/POLINE/{line['polinenum']}/{po['ponum']}/{po['revisionnum']}/{po['siteid']}")
            assert re.fullmatch(r"\d+", line["_rowstamp"])
            assert line["ponum"] == po["ponum"]
            assert line["linecost"] == round(line["orderqty"] * line["unitcost"], 2)
        assert po["totalcost"] == round(sum(line["linecost"] for line in po["poline"]), 2)
        assert po["polinecount"] == len(po["poline"])


def test_po_lines_have_the_poline_samples_shape(client, tenant):
    sample = sample_document("mxapipo-poline-sample.json")["member"]
    pos = client.all(tenant, "mxapipo", **{"oslc.select": "*", "internalvalues": "1"})
    # IBM's child hrefs encode PO/POLINE/polinenum/ponum/revisionnum/siteid, as the stand-in's do; the
    # sample's third line is a hand-made copy of the second (same href and localref, another polinenum).
    for line in sample[:2]:
        assert decode_id(line["href"].split("#")[1]) == f"PO/POLINE/{line['polinenum']}/{line['ponum']}/0/{line['siteid']}"
    lines = [line for po in pos for line in po["poline"]]
    assert_kinds("poline", lines, kinds(sample), EXTRAS["poline"])
    served_keys = {k for line in lines for k in line}
    assert set(kinds(sample)) - NOT_SENT["poline"] <= served_keys and not served_keys & NOT_SENT["poline"]


def test_vendor_contacts_are_children_of_their_vendor(client, tenant):
    vendors = client.all(tenant, "mxapivendor", **{"oslc.select": "*"})
    for vendor in vendors:
        assert vendor["compcontact_collectionref"] == vendor["href"] + "/int_contact"
        for index, contact in enumerate(vendor["compcontact"]):
            assert contact["localref"] == f"{vendor['href']}/int_contact/{index}-{contact['compcontactid']}"
            assert contact["href"] == childkey_href(f"COMPANIES/COMPCONTACT/{vendor['company']}/{contact['contact']}/{vendor['orgid']}")
            assert re.fullmatch(r"\d+", contact["_rowstamp"])


def test_vendor_contacts_have_the_samples_shape(client, tenant):
    sample = [c for v in samples("mxapivendor") for c in v["compcontact"]]
    contacts = [c for vendor in client.all(tenant, "mxapivendor", **{"oslc.select": "*"}) for c in vendor["compcontact"]]
    assert_kinds("compcontact", contacts, kinds(sample), set())
    assert set(kinds(sample)) <= {k for contact in contacts for k in contact}


def test_internal_values_come_only_when_asked(client, tenant):
    plain = client.all(tenant, "mxapipo", **{"oslc.select": "ponum,status"})
    assert all(set(po) == {"href", "_rowstamp", "ponum", "status", "status_description"} for po in plain)
    internal = client.all(tenant, "mxapipo", **{"oslc.select": "status", "internalvalues": "1"})
    assert all(po["status_maxvalue"] == po["status"] for po in internal)


def test_the_seed(client, tenant):
    pos = client.all(tenant, "mxapipo", **{"oslc.select": "ponum,status,revisionnum,siteid,orgid,vendor,changedate"})
    assert [po["ponum"] for po in pos] == [str(n) for n in range(1001, 1026)]
    status = {po["ponum"]: po["status"] for po in pos}
    assert status["1001"] == "WAPPR" and status["1003"] == "APPR"
    assert sum(s == "APPR" for s in status.values()) >= 3 and set(status.values()) == {"WAPPR", "APPR", "INPRG", "CLOSE", "CAN"}
    assert all(po["revisionnum"] == 0 and po["siteid"] == "BEDFORD" and po["orgid"] == "EAGLENA" for po in pos)
    vendors = {v["company"]: v for v in client.all(tenant, "mxapivendor", **{"oslc.select": "company,type,disabled"})}
    assert vendors["BADVEND"]["disabled"] is True and len(vendors) == 7
    assert all(v["type"] == "V" and v["disabled"] is (c == "BADVEND") for c, v in vendors.items())
    assert all(vendors[po["vendor"]]["disabled"] is False for po in pos)
    wos = client.all(tenant, "mxapiwodetail", **{"oslc.select": "wonum,changedate"})
    assert [wo["wonum"] for wo in wos] == [str(n) for n in range(1000, 1020)]
    now = datetime.now(timezone.utc)
    for structure in KEYS:
        texts = [r["changedate"] for r in client.all(tenant, structure, **{"oslc.select": "changedate"})]
        assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", t) for t in texts), structure
        dates = [moment(t) for t in texts]
        assert len(set(dates)) == len(dates), f"{structure} has changedates in the same second"
        oldest = client.started.replace(microsecond=0) - timedelta(days=60)  # the stand-in keeps seconds
        assert all(oldest <= d <= now - timedelta(hours=23) for d in dates), structure
    other = f"demo-{uuid.uuid4().hex[:12]}"
    assert client.all(tenant, "mxapiasset", **{"oslc.select": "*"}) == client.all(other, "mxapiasset", **{"oslc.select": "*"})


# Collections.

def test_a_collection_without_select_lists_hrefs(client, tenant):
    members = client.all(tenant, "mxapiasset")
    assert members and all(set(m) == {"href"} for m in members)


def test_collection_shape_and_paging(client, tenant):
    path = client.api("mxapipo")
    params = {"lean": "1", "oslc.select": "ponum", "oslc.pageSize": "10", "collectioncount": "1"}
    first = client.get(path, params, tenant=tenant)
    assert set(first.json) == {"member", "href", "responseInfo"}
    assert first.json["href"] == f"{client.base}/maximo/api/os/mxapipo"
    info = first.json["responseInfo"]
    assert set(info) == {"href", "nextPage", "pagenum", "totalCount", "totalPages"}
    assert info["href"] == f"{client.base}{path}?{urlencode(params, quote_via=quote)}"
    assert (info["pagenum"], info["totalCount"], info["totalPages"]) == (1, 25, 3)
    assert len(first.json["member"]) == 10
    assert re.search(r"\?pageno=2&", info["nextPage"]["href"]) and "oslc.pageSize=10" in info["nextPage"]["href"]
    second = client.get(info["nextPage"]["href"], tenant=tenant)
    assert second.json["responseInfo"]["pagenum"] == 2 and "pageno=1" in second.json["responseInfo"]["previousPage"]["href"]
    third = client.get(second.json["responseInfo"]["nextPage"]["href"], tenant=tenant)
    assert len(third.json["member"]) == 5 and "nextPage" not in third.json["responseInfo"]
    ponums = [m["ponum"] for page in (first, second, third) for m in page.json["member"]]
    assert ponums == [str(n) for n in range(1001, 1026)]
    without_count = client.get(path, {"lean": "1", "oslc.pageSize": "30"}, tenant=tenant).json
    assert len(without_count["member"]) == MAX_PAGE, "the page size is capped by --max-page-size"
    assert set(without_count["responseInfo"]) == {"href", "nextPage", "pagenum"}


def test_collections_have_the_samples_top_level_shape(client, tenant):
    sample_tops = [sample_document(n) for n in ("mxapipo-list-sample.json", "mxapiasset-list-sample.json",
                                                "mxapiwodetail-list-with-nextPage-sample.json")]
    params = {"lean": "1", "oslc.select": "ponum", "oslc.pageSize": "10", "collectioncount": "1"}
    first = client.get(client.api("mxapipo"), params, tenant=tenant).json
    assert all(set(first) == set(doc) for doc in sample_tops)
    documented = {k for doc in sample_tops for k in doc["responseInfo"]} - {"schema"}
    assert set(first["responseInfo"]) <= documented


def ponums_where(client, tenant, where):
    return {m["ponum"] for m in client.all(tenant, "mxapipo", **{"oslc.select": "ponum", "oslc.where": where})}


def test_where_on_changedate(client, tenant):
    pos = client.all(tenant, "mxapipo", **{"oslc.select": "ponum,changedate"})
    when = {po["ponum"]: moment(po["changedate"]) for po in pos}
    cut = sorted(when.values())[10]
    after = {p for p, d in when.items() if d >= cut}
    assert ponums_where(client, tenant, f'changedate>="{cut.isoformat()}"') == after and len(after) == 15
    assert ponums_where(client, tenant, f'changedate>"{cut.isoformat()}"') == after - {p for p, d in when.items() if d == cut}
    assert ponums_where(client, tenant, f'changedate<"{cut.isoformat()}"') == set(when) - after
    shifted = cut.astimezone(timezone(timedelta(hours=2))).isoformat()
    assert ponums_where(client, tenant, f'changedate>="{shifted}"') == after
    assert ponums_where(client, tenant, f'changedate<="{cut.isoformat()}" and changedate>="{cut.isoformat()}"') == {
        p for p, d in when.items() if d == cut}
    unencoded = "lean=1&oslc.where=" + quote(f'changedate>="{cut.isoformat()}"', safe="+")
    reply = client.get(client.api("mxapipo"), raw_query=unencoded, tenant=tenant)
    assert "not URL-encoded" in assert_refused(reply, 400, "BMXAA8744E")
    reply = client.get(client.api("mxapipo"), {"lean": "1", "oslc.where": 'changedate>="2026-11-30"'}, tenant=tenant)
    assert_refused(reply, 400, "BMXAA8744E")


def test_where_operators(client, tenant):
    pos = {po["ponum"]: po for po in client.all(tenant, "mxapipo", **{"oslc.select": "ponum,status,vendor,description,totalcost"})}
    approved = {p for p, po in pos.items() if po["status"] == "APPR"}
    assert ponums_where(client, tenant, 'status="APPR"') == approved and "1003" in approved
    assert ponums_where(client, tenant, 'status!="APPR"') == set(pos) - approved
    assert ponums_where(client, tenant, 'status in ["APPR","CAN"]') == {p for p, po in pos.items() if po["status"] in ("APPR", "CAN")}
    assert ponums_where(client, tenant, 'status="APPR" and vendor="PLUS"') == {p for p in approved if pos[p]["vendor"] == "PLUS"}
    seals = ponums_where(client, tenant, 'description="%seal%"')
    assert seals and seals == {p for p, po in pos.items() if "seal" in po["description"].lower()}
    assert ponums_where(client, tenant, "totalcost>100") == {p for p, po in pos.items() if po["totalcost"] > 100}
    assert ponums_where(client, tenant, "revisionnum=0") == set(pos)
    with_asset = client.all(tenant, "mxapiwodetail", **{"oslc.select": "wonum,assetnum", "oslc.where": 'assetnum="*"'})
    without = client.all(tenant, "mxapiwodetail", **{"oslc.select": "wonum,assetnum", "oslc.where": 'assetnum!="*"'})
    assert with_asset and without and all("assetnum" in w for w in with_asset) and not any("assetnum" in w for w in without)
    assert len(with_asset) + len(without) == 20


def test_order_by(client, tenant):
    def order(text, field="changedate"):
        return [m[field] for m in client.all(tenant, "mxapipo", **{"oslc.select": "ponum,vendor,changedate", "oslc.orderBy": text})]

    ascending = order("+changedate")
    assert [moment(d) for d in ascending] == sorted(moment(d) for d in ascending)
    assert order("-changedate") == ascending[::-1]
    assert ascending != order("+ponum"), "the seed's change order differs from its key order"
    pairs = [(m["vendor"], m["ponum"]) for m in client.all(tenant, "mxapipo", **{"oslc.select": "vendor,ponum", "oslc.orderBy": "+vendor,-ponum"})]
    assert pairs == sorted(sorted(pairs, key=lambda p: p[1], reverse=True), key=lambda p: p[0])
    reply = client.get(client.api("mxapipo"), raw_query="lean=1&oslc.orderBy=+changedate", tenant=tenant)
    assert "not URL-encoded" in assert_refused(reply, 400, "BMXAA8744E")


def test_select_lists_and_child_selections(client, tenant):
    members = client.all(tenant, "mxapipo", **{"oslc.select": "ponum,status,poline{polinenum,itemnum}"})
    for po in members:
        assert set(po) == {"href", "_rowstamp", "ponum", "status", "status_description", "poline", "poline_collectionref"}
        assert all(set(line) == {"href", "localref", "_rowstamp", "polinenum", "itemnum"} for line in po["poline"])
    bare = client.all(tenant, "mxapipo", **{"oslc.select": "ponum,poline{*}", "ignorecollectionref": "1"})
    assert all("poline_collectionref" not in po and {"orderqty", "unitcost", "linecost"} <= set(po["poline"][0]) for po in bare)
    single = client.record(tenant, "mxapipo", PO_1001, **{"oslc.select": "ponum,totalcost"})
    assert set(single) == {"href", "_rowstamp", "ponum", "totalcost"}


def test_a_record_reads_as_its_member(client, tenant):
    member = next(m for m in client.all(tenant, "mxapipo", **{"oslc.select": "*"}) if m["ponum"] == "1001")
    assert client.record(tenant, "mxapipo", PO_1001) == member
    assert client.get(member["href"] + "?lean=1", tenant=tenant).json == member
    assert_refused(client.get(client.api("mxapipo", "/_Zm9vLzAvQkVERk9SRA--"), {"lean": "1"}, tenant=tenant), 404, "BMXAA8727E")


def test_the_error_body(client, tenant):
    reply = client.get(client.api("mxapipo", "/_Zm9v"), {"lean": "1"}, tenant=tenant)
    assert reply.status == 404 and reply.headers["content-type"].startswith("application/json")
    assert set(reply.json) == {"Error"}
    error = reply.json["Error"]
    assert set(error) == {"extendedError", "reasonCode", "message", "statusCode"}
    assert error["extendedError"] == {"moreInfo": {"href": f"{client.base}/maximo/api/error/messages/BMXAA8727E"}}
    assert error["statusCode"] == "404" and error["message"].startswith("BMXAA8727E - ")


def test_lean_is_required(client, tenant):
    assert_refused(client.get(client.api("mxapipo"), {"oslc.select": "ponum"}, tenant=tenant), 400, "BMXAA8744E")
    assert any("lean=1" in v["reason"] for v in client.violations(tenant))


# Who may call, and tenants.

def maxauth(user, password):
    return {"maxauth": base64.b64encode(f"{user}:{password}".encode()).decode()}


@pytest.mark.parametrize("headers", [{}, {"apikey": "live-123"}, {"apikey": ""}, maxauth("alice", "wrong"),
                                     {"maxauth": "not base64!"}, maxauth("", PASSWORD)])
def test_bad_credentials_get_401(client, headers):
    reply = client.get(client.api("mxapipo"), {"lean": "1"}, headers=headers)
    assert "You cannot log in" in assert_refused(reply, 401, "BMXAA7901E")


def test_maxauth_user_is_a_tenant(client, tenant):
    user = f"user{uuid.uuid4().hex[:8]}"
    patched = client.post(client.api("mxapipo", f"/{PO_1001}"), {"description": "by maxauth"}, {"lean": "1"},
                          headers={"x-method-override": "PATCH", **maxauth(user, PASSWORD)})
    assert patched.status == 204, patched
    again = client.get(client.api("mxapipo", f"/{PO_1001}"), {"lean": "1"}, headers=maxauth(user, PASSWORD)).json
    assert again["description"] == "by maxauth"
    assert client.record(tenant, "mxapipo", PO_1001)["description"] != "by maxauth"


def test_tenants_are_isolated(client, tenant):
    other = f"demo-{uuid.uuid4().hex[:12]}"
    before = client.record(other, "mxapipo", PO_1001)
    assert client.patch(tenant, "mxapipo", PO_1001, {"description": "only mine"}).status == 204
    assert client.record(tenant, "mxapipo", PO_1001)["description"] == "only mine"
    assert client.record(other, "mxapipo", PO_1001) == before


# Unknown and read-only attributes.

@pytest.mark.parametrize("params", [
    {"oslc.select": "ponum,bogus"}, {"oslc.select": "poline{polinenum,bogus}"}, {"oslc.select": "vendor.name"},
    {"oslc.select": "ponum{*}"}, {"oslc.where": 'bogus="x"'}, {"oslc.where": 'vendordesc="x"'},
    {"oslc.where": 'poline.itemnum="x"'}, {"oslc.where": 'status=="APPR"'}, {"oslc.orderBy": "+bogus"},
    {"oslc.pageSize": "0"}, {"pageno": "x"}])
def test_queries_with_unknown_attributes_are_refused(client, tenant, params):
    reply = client.get(client.api("mxapipo"), {"lean": "1", **params}, tenant=tenant)
    message = assert_refused(reply, 400, "BMXAA8744E")
    assert [v["reason"] for v in client.violations(tenant)] == [message]


def test_a_properties_header_with_unknown_attributes_is_refused(client, tenant):
    reply = client.patch(tenant, "mxapipo", PO_1001, {"description": "x"}, headers={"properties": "ponum,bogus"})
    assert "bogus" in assert_refused(reply, 400, "BMXAA8744E")
    assert client.record(tenant, "mxapipo", PO_1001)["description"] != "x", "a refused request changes nothing"


@pytest.mark.parametrize("body", [{"bogus": 1}, {"description": "x", "Description": "y"},
                                  {"poline": [{"polinenum": 1, "bogus": 2}]}, {"poline": {"polinenum": 1}},
                                  {"description": 5}, {"orderdate": "yesterday"}])
def test_update_bodies_with_unknown_attributes_or_kinds_are_refused(client, tenant, body):
    before = client.record(tenant, "mxapipo", PO_1001)
    assert_refused(client.patch(tenant, "mxapipo", PO_1001, body), 400, "BMXAA8744E")
    assert len(client.violations(tenant)) == 1
    assert client.record(tenant, "mxapipo", PO_1001) == before


@pytest.mark.parametrize("name,value", [("ponum", "9999"), ("revisionnum", 1), ("status", "APPR"), ("siteid", "X"),
                                        ("changedate", "2026-01-01T00:00:00+00:00"), ("_rowstamp", "1"),
                                        ("href", "x"), ("totalcost", 1), ("vendordesc", "x"), ("statusdate", None)])
def test_read_only_attributes_are_refused(client, tenant, name, value):
    before = client.record(tenant, "mxapipo", PO_1001)
    message = assert_refused(client.patch(tenant, "mxapipo", PO_1001, {name: value}), 400, "BMXAA4195E")
    assert message == f"BMXAA4195E - Field {name.upper()} is read-only."
    assert [v["reason"] for v in client.violations(tenant)] == [message]
    assert client.record(tenant, "mxapipo", PO_1001) == before


def test_read_only_line_attributes_are_refused(client, tenant):
    reply = client.patch(tenant, "mxapipo", PO_1001, {"poline": [{"polinenum": 1, "linecost": 3}]}, {"patchtype": "MERGE"})
    assert assert_refused(reply, 400, "BMXAA4195E") == "BMXAA4195E - Field LINECOST is read-only."


# Creates.

PO_BODY = {"siteid": "BEDFORD", "vendor": "PLUS", "description": "Pump seals", "requireddate": "2026-12-24T09:00:00-05:00",
           "poline": [{"itemnum": "230-00", "orderqty": 4, "unitcost": 2.5}, {"description": "Gasket kit", "orderqty": 1, "unitcost": 10}]}


def test_create_a_po_with_properties(client, tenant):
    before = datetime.now(timezone.utc).replace(microsecond=0)
    reply = client.post(client.api("mxapipo"), PO_BODY, {"lean": "1"}, headers={"properties": "*"}, tenant=tenant)
    assert reply.status == 201, reply
    po = reply.json
    assert reply.headers["location"] == po["href"] == f"{client.base}/maximo/api/os/mxapipo/_MTAyNi8wL0JFREZPUkQ-"
    assert (po["ponum"], po["revisionnum"], po["status"], po["vendor"], po["orgid"]) == ("1026", 0, "WAPPR", "PLUS", "EAGLENA")
    assert po["status_description"] == "Waiting on approval" and po["vendordesc"] == "Plus Conveyor Components LLC"
    assert before <= moment(po["orderdate"]) <= moment(po["changedate"]) <= datetime.now(timezone.utc)
    lines = po["poline"]
    assert [(l["polinenum"], l["linecost"], l["linetype"]) for l in lines] == [(1, 10.0, "ITEM"), (2, 10, "MATERIAL")]
    assert lines[0]["description"] == "Elbow, street, 90 deg, 1 in, galvanized", "an item line takes the item's description"
    assert po["totalcost"] == 20.0 and po["requireddate"] == "2026-12-24T14:00:00+00:00"
    assert client.get(reply.headers["location"] + "?lean=1", tenant=tenant).json == po
    assert ponums_where(client, tenant, f'changedate>="{before.isoformat()}"') == {"1026"}


def test_create_without_properties_answers_an_empty_201(client, tenant):
    reply = client.post(client.api("mxapipo"), {"siteid": "BEDFORD", "vendor": "ATI", "ponum": "7001"}, {"lean": "1"}, tenant=tenant)
    assert reply.status == 201 and reply.text == ""
    assert reply.headers["location"].endswith("/mxapipo/_NzAwMS8wL0JFREZPUkQ-")
    assert client.get(reply.headers["location"] + "?lean=1", tenant=tenant).json["ponum"] == "7001"


@pytest.mark.parametrize("change,code,text", [
    ({"vendor": "NOSUCH"}, "BMXAA4155E", "Company NOSUCH is not a valid vendor."),
    ({"vendor": "BADVEND"}, "BMXAA4155E", "Company BADVEND is not a valid vendor."),
    ({"vendor": None}, "BMXAA4195E", "A value is required for the VENDOR field on the PO object."),
    ({"siteid": None}, "BMXAA4195E", "A value is required for the SITEID field on the PO object."),
    ({"poline": [{"orderqty": 1}]}, "BMXAA4195E", "A value is required for the DESCRIPTION field on the POLINE object."),
    ({"poline": [{"itemnum": "230-00"}]}, "BMXAA4195E", "A value is required for the ORDERQTY field on the POLINE object."),
    ({"poline": [{"itemnum": "230-00", "orderqty": 0}]}, "BMXAA4195E", "A value greater than 0 is required"),
    ({"ponum": "1001"}, "BMXAA4129E", "Record already exists for PONUM=1001, REVISIONNUM=0, SITEID=BEDFORD."),
    ({"status": "APPR"}, "BMXAA4195E", "Field STATUS is read-only."),
])
def test_create_refusals(client, tenant, change, code, text):
    body = {k: v for k, v in {**PO_BODY, **change}.items() if v is not None}
    assert text in assert_refused(client.post(client.api("mxapipo"), body, {"lean": "1"}, tenant=tenant), 400, code)
    assert len(client.all(tenant, "mxapipo")) == 25


def test_create_a_work_order(client, tenant):
    body = {"siteid": "BEDFORD", "description": "Replace the belt", "location": "BR300", "wopriority": 2}
    reply = client.post(client.api("mxapiwodetail"), body, {"lean": "1"}, headers={"properties": "wonum,status,location"}, tenant=tenant)
    assert reply.status == 201, reply
    assert {k: reply.json[k] for k in ("wonum", "status", "location")} == {"wonum": "1020", "status": "WAPPR", "location": "BR300"}
    assert client.record(tenant, "mxapiwodetail", reply.headers["location"].rsplit("/", 1)[1])["reportdate"]
    assert reply.headers["location"].endswith("/mxapiwodetail/" + "_" + base64.b64encode(b"BEDFORD/1020").decode().replace("=", "-"))
    missing = client.post(client.api("mxapiwodetail"), {"siteid": "BEDFORD"}, {"lean": "1"}, tenant=tenant)
    assert "DESCRIPTION field on the WORKORDER" in assert_refused(missing, 400, "BMXAA4195E")
    nowhere = client.post(client.api("mxapiwodetail"), {**body, "location": "NOWHERE"}, {"lean": "1"}, tenant=tenant)
    assert assert_refused(nowhere, 400, "BMXAA2661E") == "BMXAA2661E - Location NOWHERE is not a valid location."


@pytest.mark.parametrize("structure", ["mxapiasset", "mxapiinventory", "mxapivendor", "mxapilocation"])
def test_other_structures_are_read_only(client, tenant, structure):
    assert_refused(client.post(client.api(structure), {"description": "x"}, {"lean": "1"}, tenant=tenant), 405, "BMXAA0024E")
    href = client.all(tenant, structure)[0]["href"]
    assert_refused(client.post(href + "?lean=1", {"description": "x"}, headers={"x-method-override": "PATCH"}, tenant=tenant),
                   405, "BMXAA0024E")


# Updates.

def test_update_answers_the_record_and_bumps_changedate_and_rowstamp(client, tenant):
    before = client.record(tenant, "mxapipo", PO_1002)
    reply = client.patch(tenant, "mxapipo", PO_1002, {"description": "Changed", "vendor": "WTI"}, {"properties": "*"})
    assert reply.status == 200, reply
    after = reply.json
    assert (after["description"], after["vendor"]) == ("Changed", "WTI")
    wti = client.all(tenant, "mxapivendor", **{"oslc.select": "company,name", "oslc.where": 'company="WTI"'})
    assert after["vendordesc"] == wti[0]["name"] == "Westbrook Technical Instruments"
    assert int(after["_rowstamp"]) > int(before["_rowstamp"]) and moment(after["changedate"]) > moment(before["changedate"])
    assert client.record(tenant, "mxapipo", PO_1002) == after
    quiet = client.patch(tenant, "mxapipo", PO_1002, {"description": "Again"})
    assert quiet.status == 204 and quiet.text == ""
    assert int(client.record(tenant, "mxapipo", PO_1002)["_rowstamp"]) > int(after["_rowstamp"])
    refused = client.patch(tenant, "mxapipo", PO_1002, {"vendor": "BADVEND"})
    assert_refused(refused, 400, "BMXAA4155E")
    assert client.record(tenant, "mxapipo", PO_1002)["vendor"] == "WTI"
    dated = client.patch(tenant, "mxapipo", PO_1002, {"orderdate": "2026-11-30T10:00:00+02:00"}, {"properties": "orderdate"})
    assert dated.json["orderdate"] == "2026-11-30T08:00:00+00:00", "date-times are kept in Maximo's form"


def test_a_change_based_on_a_stale_rowstamp_is_refused(client, tenant):
    read = client.record(tenant, "mxapipo", PO_1002)["_rowstamp"]
    fresh = client.patch(tenant, "mxapipo", PO_1002, {"description": "First"}, {"if-match": read, "properties": "*"})
    assert fresh.status == 200, fresh
    stale = client.patch(tenant, "mxapipo", PO_1002, {"description": "Second"}, {"if-match": read})
    assert_refused(stale, 412, "BMXAA8229W")
    assert client.record(tenant, "mxapipo", PO_1002)["description"] == "First", "the stale change was not applied"


def test_lines_merge_by_polinenum_or_are_replaced(client, tenant):
    before = client.record(tenant, "mxapipo", PO_1002)["poline"]
    assert len(before) == 2
    merged = client.patch(tenant, "mxapipo", PO_1002, {"poline": [{"polinenum": 1, "orderqty": 9}]},
                          {"patchtype": "MERGE", "properties": "*"}).json
    lines = merged["poline"]
    assert [l["polinenum"] for l in lines] == [1, 2] and lines[0]["orderqty"] == 9
    assert lines[0]["linecost"] == round(9 * lines[0]["unitcost"], 2) and lines[1] == before[1]
    assert merged["totalcost"] == round(lines[0]["linecost"] + lines[1]["linecost"], 2)
    added = client.patch(tenant, "mxapipo", PO_1002, {"poline": [{"description": "Extra", "orderqty": 2, "unitcost": 1}]},
                         {"patchtype": "MERGE", "properties": "poline{polinenum,description}"}).json
    assert [(l["polinenum"], l["description"]) for l in added["poline"]][2] == (3, "Extra") and len(added["poline"]) == 3
    replaced = client.patch(tenant, "mxapipo", PO_1002, {"poline": [{"itemnum": "900810", "orderqty": 1, "unitcost": 4}]},
                            {"properties": "totalcost,poline{*}"}).json
    assert [(l["polinenum"], l["itemnum"]) for l in replaced["poline"]] == [(1, "900810")] and replaced["totalcost"] == 4
    lowercase = client.patch(tenant, "mxapipo", PO_1002, {"poline": []}, {"patchtype": "merge"})
    assert "MERGE" in assert_refused(lowercase, 400, "BMXAA8744E")


def test_a_post_on_a_record_needs_the_method_override(client, tenant):
    reply = client.post(client.api("mxapipo", f"/{PO_1001}"), {"description": "x"}, {"lean": "1"}, tenant=tenant)
    assert "x-method-override" in assert_refused(reply, 400, "BMXAA8744E")
    reply = client.post(client.api("mxapipo", f"/{PO_1001}"), {}, {"lean": "1"}, headers={"x-method-override": "DELETE"}, tenant=tenant)
    assert_refused(reply, 400, "BMXAA8744E")


def test_an_approved_po_refuses_every_update(client, tenant):
    before = client.record(tenant, "mxapipo", PO_1003)
    assert before["status"] == "APPR"
    for body, headers in (({"description": "x"}, {}), ({"poline": [{"polinenum": 1, "orderqty": 2}]}, {"patchtype": "MERGE"}), ({}, {})):
        message = assert_refused(client.patch(tenant, "mxapipo", PO_1003, body, headers), 400, "BMXAA4179E")
        assert message == "BMXAA4179E - PO 1003 is approved. To change it, create a revision."
    assert client.record(tenant, "mxapipo", PO_1003) == before
    assert client.violations(tenant) == [], "a business rule is not a contract violation"


# Status changes.

def change_status(client, tenant, structure, rest, body, headers=None):
    return client.post(client.api(structure, f"/{rest}"), body, {"action": "wsmethod:changeStatus", "lean": "1"},
                       headers=headers, tenant=tenant)


def test_po_status_changes(client, tenant):
    before = client.record(tenant, "mxapipo", PO_1001)
    approved = change_status(client, tenant, "mxapipo", PO_1001, {"status": "APPR", "memo": "ok"}, {"x-method-override": "PATCH"})
    assert approved.status == 204, approved
    po = client.record(tenant, "mxapipo", PO_1001)
    assert (po["status"], po["status_description"]) == ("APPR", "Approved")
    assert po["statusdate"] == po["changedate"] and moment(po["changedate"]) > moment(before["changedate"])
    assert int(po["_rowstamp"]) > int(before["_rowstamp"])
    assert_refused(client.patch(tenant, "mxapipo", PO_1001, {"description": "x"}), 400, "BMXAA4179E")
    back = change_status(client, tenant, "mxapipo", PO_1001, {"status": "WAPPR"})
    assert assert_refused(back, 400, "BMXAA4590E") == "BMXAA4590E - The status cannot be changed from APPR to WAPPR."
    assert_refused(change_status(client, tenant, "mxapipo", PO_1001, {"status": "FOO"}), 400, "BMXAA4590E")
    started = change_status(client, tenant, "mxapipo", PO_1001, {"status": "INPRG"}, {"properties": "status"})
    assert started.status == 200 and started.json["status"] == "INPRG"
    assert_refused(change_status(client, tenant, "mxapipo", PO_1001, {"status": "CLOSE", "why": "x"}), 400, "BMXAA8744E")
    closed = change_status(client, tenant, "mxapipo", PO_1001, {"status": "CLOSE", "date": "2026-11-30T10:00:00+02:00"}, {"properties": "statusdate"})
    assert closed.json["statusdate"] == "2026-11-30T08:00:00+00:00"
    assert_refused(change_status(client, tenant, "mxapipo", PO_1001, {"status": "CAN"}), 400, "BMXAA4590E")


@pytest.mark.parametrize("path,allowed", [
    (["APPR", "INPRG", "COMP", "CLOSE"], True), (["CAN"], True), (["APPR", "COMP", "CLOSE"], True),
    (["APPR", "CAN"], True), (["INPRG"], False), (["COMP"], False), (["CLOSE"], False),
    (["APPR", "INPRG", "APPR"], False), (["APPR", "COMP", "CAN"], False)])
def test_work_order_status_moves(client, tenant, path, allowed):
    wo = "_" + base64.b64encode(b"BEDFORD/1000").decode().replace("=", "-")
    assert client.record(tenant, "mxapiwodetail", wo)["status"] == "WAPPR"
    replies = [change_status(client, tenant, "mxapiwodetail", wo, {"status": s}, {"properties": "status,statusdate,actfinish"})
               for s in path]
    if allowed:
        assert [r.json["status"] for r in replies] == path
        for reply, status in zip(replies, path):
            done = reply.json.get("actfinish")
            assert done == (None if status in ("APPR", "INPRG", "CAN") else replies[path.index("COMP")].json["statusdate"])
    else:
        assert_refused(replies[-1], 400, "BMXAA4590E")
        assert all(r.status == 200 for r in replies[:-1])


def test_read_only_structures_have_no_status_changes(client, tenant):
    href = client.all(tenant, "mxapiasset")[0]["href"]
    reply = client.post(href, {"status": "DECOMMISSIONED"}, {"action": "wsmethod:changeStatus", "lean": "1"}, tenant=tenant)
    assert_refused(reply, 405, "BMXAA0024E")


# Control endpoints.

def test_health(client):
    reply = client.get("/_standin/health")
    assert reply.status == 200 and reply.json == {"status": "ok"}


def test_faults(client, tenant):
    rule = {"tenant": tenant, "match": "mxapipo", "responses": [{"status": 503}, {"status": 429, "retryAfter": 1}, {"delaySeconds": 3}]}
    assert client.post("/_standin/faults", rule).status == 201
    assert client.post("/_standin/faults", {"tenant": tenant, "method": "POST", "responses": [{"status": 500}]}).status == 201
    params = {"lean": "1", "oslc.select": "ponum"}
    assert client.get(client.api("mxapiasset"), {"lean": "1"}, tenant=tenant).status == 200, "match limits the fault"
    assert client.get(client.api("mxapipo"), params, tenant=f"demo-{uuid.uuid4().hex}").status == 200, "faults are per tenant"
    unavailable = client.get(client.api("mxapipo"), params, tenant=tenant)
    assert_refused(unavailable, 503, "BMXAA4214E")
    throttled = client.get(client.api("mxapipo"), params, tenant=tenant)
    assert_refused(throttled, 429, "BMXAA4214E")
    assert throttled.headers["retry-after"] == "1"
    started = time.monotonic()
    assert client.get(client.api("mxapipo"), params, tenant=tenant).status == 200
    assert time.monotonic() - started >= 3
    started = time.monotonic()
    assert client.get(client.api("mxapipo"), params, tenant=tenant).status == 200 and time.monotonic() - started < 3
    assert_refused(client.patch(tenant, "mxapipo", PO_1002, {"description": "x"}), 500, "BMXAA4214E")
    assert client.patch(tenant, "mxapipo", PO_1002, {"description": "x"}).status == 204
    assert [r["status"] for r in client.get("/_standin/requests", {"tenant": tenant}).json["requests"]] == [200, 503, 429, 200, 200, 500, 204]
    for bad in ({"responses": [{"status": 503}]}, {"tenant": tenant, "responses": []},
                {"tenant": tenant, "responses": [{"status": 200}]}, {"tenant": tenant, "responses": [{"retryAfter": 1}]}):
        assert client.post("/_standin/faults", bad).status == 400


def test_a_stalled_fault_answers_late_and_faults_can_be_dropped(client, tenant):
    params = {"lean": "1", "oslc.select": "ponum"}
    assert client.post("/_standin/faults", {"tenant": tenant, "responses": [{"stallSeconds": 1}]}).status == 201
    started = time.monotonic()
    assert client.get(client.api("mxapipo"), params, tenant=tenant).status == 200
    assert time.monotonic() - started >= 1
    assert client.post("/_standin/faults", {"tenant": tenant, "responses": [{"status": 503}]}).status == 201
    assert client.call("DELETE", "/_standin/faults", {"tenant": tenant}).status == 200
    assert client.get(client.api("mxapipo"), params, tenant=tenant).status == 200
    assert client.get(client.api("mxapipo"), {"oslc.select": "ponum"}, tenant=tenant).status == 400
    assert len(client.violations(tenant)) == 1
    assert client.call("DELETE", "/_standin/violations", {"tenant": tenant}).status == 200
    assert client.violations(tenant) == []


def test_the_request_log(client, tenant):
    user = f"user{uuid.uuid4().hex[:8]}"
    client.get(client.api("mxapipo"), {"lean": "1", "oslc.where": 'status="APPR"', "oslc.select": "ponum", "apikey": tenant},
               tenant=tenant)
    client.get(client.api("mxapipo", f"/{PO_1001}"), {"lean": "1"}, tenant=tenant)
    client.patch(tenant, "mxapipo", PO_1001, {"description": "x"}, {"patchtype": "MERGE", "properties": "ponum"})
    client.get(client.api("mxapipo"), {"lean": "1"}, headers=maxauth(user, PASSWORD))
    requests = client.get("/_standin/requests", {"tenant": tenant}).json["requests"]
    assert [(r["method"], r["path"], r["status"], r["returned"]) for r in requests] == [
        ("GET", "/maximo/api/os/mxapipo", 200, len(ponums_where(client, tenant, 'status="APPR"'))),
        ("GET", f"/maximo/api/os/mxapipo/{PO_1001}", 200, None),
        ("POST", f"/maximo/api/os/mxapipo/{PO_1001}", 200, None)]
    assert requests[0]["query"] == {"lean": "1", "oslc.where": 'status="APPR"', "oslc.select": "ponum"}
    assert requests[0]["headers"] == {} and requests[2]["headers"] == {"x-method-override": "PATCH", "patchtype": "MERGE", "properties": "ponum"}
    assert all(r["tenant"] == tenant and moment(r["at"]) for r in requests)
    assert [moment(r["at"]) for r in requests] == sorted(moment(r["at"]) for r in requests)
    everything = client.get("/_standin/requests").text
    assert PASSWORD not in everything and maxauth(user, PASSWORD)["maxauth"] not in everything and user in everything
    assert client.call("DELETE", "/_standin/requests", {"tenant": tenant}).status == 200
    assert client.get("/_standin/requests", {"tenant": tenant}).json["requests"] == []
    assert client.get("/_standin/requests", {"tenant": user}).json["requests"], "clearing one tenant keeps the others"


def test_touch_changes_a_record_as_a_user_would(client, tenant):
    before = client.record(tenant, "mxapipo", PO_1002)
    reply = client.post("/_standin/touch", {"tenant": tenant, "objectStructure": "mxapipo", "key": "1002",
                                            "changes": {"description": "Changed in Maximo"}})
    assert reply.status == 200, reply
    touched = reply.json
    assert touched["description"] == "Changed in Maximo" and touched["href"] == before["href"]
    assert moment(touched["changedate"]) > moment(before["changedate"]) and int(touched["_rowstamp"]) > int(before["_rowstamp"])
    assert ponums_where(client, tenant, f'changedate>="{touched["changedate"]}"') == {"1002"}
    asset = client.post("/_standin/touch", {"tenant": tenant, "objectStructure": "mxapiasset", "key": "11300",
                                            "changes": {"status": "DECOMMISSIONED"}}).json
    assert asset["status_description"] == "Decommissioned" and asset["statusdate"] == asset["changedate"]
    for bad, status in (({"changes": {"bogus": 1}}, 400), ({"changes": {"changedate": "x"}}, 400), ({"key": "NOPE"}, 404),
                        ({"objectStructure": "mxapibogus"}, 400), ({"changes": {}}, 400)):
        body = {"tenant": tenant, "objectStructure": "mxapipo", "key": "1002", "changes": {"description": "y"}, **bad}
        assert client.post("/_standin/touch", body).status == status, bad


def test_a_touch_can_wait_for_the_next_page_read(client, tenant):
    """A user's change between two page reads, made once, just after the next page is answered."""
    request = {"tenant": tenant, "objectStructure": "mxapipo", "key": "1002", "changes": {"description": "Edited"}}
    assert client.post("/_standin/touch", {**request, "afterNextPage": True}).json == {"deferred": request}
    assert client.record(tenant, "mxapipo", PO_1002)["description"] != "Edited", "not before a page is read"
    params = {"lean": "1", "oslc.select": "ponum,description", "oslc.orderBy": "+changedate", "oslc.pageSize": "5"}
    page = client.get(client.api("mxapipo"), params, tenant=tenant).json["member"]
    assert all(po["description"] != "Edited" for po in page), "the page shows the record as it was"
    edited = client.record(tenant, "mxapipo", PO_1002)
    assert edited["description"] == "Edited"
    client.get(client.api("mxapipo"), params, tenant=tenant)
    assert client.record(tenant, "mxapipo", PO_1002)["_rowstamp"] == edited["_rowstamp"], "made once"


def test_the_stand_in_starts_from_its_own_folder_alone(tmp_path, tenant):
    folder = tmp_path / "standins"
    shutil.copytree(SERVER.parent, folder, ignore=shutil.ignore_patterns("__pycache__"))
    process, served = start(folder / "maximo.py", cwd=tmp_path)
    try:
        assert [po["ponum"] for po in served.all(tenant, "mxapipo", **{"oslc.select": "ponum"})] == [
            str(n) for n in range(1001, 1026)]
        assert len(served.all(tenant, "mxapivendor")) == len(seed_records("mxapivendor"))
    finally:
        stop(process)
