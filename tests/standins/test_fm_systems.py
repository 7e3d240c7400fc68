"""Tests of the FM:Systems FMInteract Web Service stand-in (infra/local/standins/fm_systems.py).

The FM:Systems connector is written against this stand-in, so these hold it to the wire format the
vendor-spec dossier gives (fm-systems/ under $MILLWRIGHT_VENDOR_SPECS, by default ../shared/specs
beside the checkout, as in CI): its example requests are accepted as they are, at the paths and with
the headers their comments give, and what comes back has the examples' structure, prefixes and
namespaces — the view example's answer is the example response itself, element for element, in both
result modes; the faults are the examples' faults; ?wsdl is the example WSDL with the stand-in's
address; the seed keeps the assumed catalogue's objects, columns, users and rows. Without the dossier
those tests are skipped with the folder named; the rest run: authentication from the body, grants,
each object, filters and procedure arguments (the @Since modified-date filter), escaping (a password
with <, & and ]]>), the envelope errors a WCF service gives, injected faults (SOAP fault, malformed
envelope, HTML page, plain text), tenants, touch, the request log and violations.

Needs only pytest: `python -m pytest tests/standins/test_fm_systems.py` from the repo root. The server
runs as a subprocess on a port the OS picks.
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
from urllib.request import Request, urlopen
from xml.etree import ElementTree as ET

import pytest
from standin_process import launch, stop

REPO = Path(__file__).resolve().parents[2]
SERVER = REPO / "infra" / "local" / "standins" / "fm_systems.py"
SEED_FILE = SERVER.with_name("fm_systems_seed.json")
DOSSIER = Path(os.environ.get("MILLWRIGHT_VENDOR_SPECS") or REPO.parent / "shared" / "specs") / "fm-systems"
EXAMPLES = DOSSIER / "examples"

SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
TEMPURI = "http://tempuri.org/"
ACTION = "http://tempuri.org/IFMInteractWebService/GetData"
PRODUCTION = "/FMIWebService/FMInteractWebService.svc"
TEST_PATH = "/TST_FMIWebservices/FMInteractWebService.svc"
XML = "text/xml; charset=utf-8"
PASSWORD = "Millwright-Demo-1"
ESCAPE_USER, ESCAPE_PASSWORD = "svc_escape", "Mw<Demo&Pass]]>1"
VIEWS = {"vw_WS_Sites": "SiteID", "vw_WS_Buildings": "BuildingID", "vw_WS_Floors": "FloorID",
         "vw_WS_Spaces": "SpaceID", "vw_WS_Assets": "AssetID", "vw_WS_WorkRequests": "WorkRequestID",
         "vw_WS_WorkOrders": "WorkOrderID"}
INVALID_CREDENTIALS = ("s:Client", "Invalid web service credentials.")


def not_available(name):
    return ("s:Client", f"Object '{name}' was not found or is not available to this web service user.")


# The dossier's files.

def example_path(name):
    """One of the dossier's files; skips the test, naming the folder, when the dossier is absent."""
    if not EXAMPLES.is_dir():
        pytest.skip(f"the FM:Systems dossier's examples are not at {EXAMPLES} (set MILLWRIGHT_VENDOR_SPECS, or put "
                    "the dossier in ../shared/specs beside the checkout): nothing is checked against them here")
    return EXAMPLES / name


def example_bytes(name):
    return example_path(name).read_bytes()


def example_http(name):
    """The request line's path and the headers an example's comment gives."""
    comment = re.search(rb"<!--(.*?)-->", example_bytes(name), re.S).group(1).decode()
    target = re.search(r"POST https://[^/\s]+(\S+) HTTP/1\.1", comment).group(1)
    headers = dict(re.findall(r"^\s*(Content-Type|SOAPAction): (.+?)\s*$", comment, re.M))
    return target, headers


def canonical(data, strip_text=True):
    """A document's C14N 2.0 form: comments and the XML declaration gone, prefixes and namespace
    declarations kept (faultcode's QName text keeps its prefix's), whitespace-only text dropped."""
    text = data.decode() if isinstance(data, bytes) else data
    return ET.canonicalize(text, strip_text=strip_text, qname_aware_tags=["faultcode"])


def shape(data):
    """A document's elements and attributes (qualified names), without text."""
    def walk(element):
        return (element.tag, sorted(element.attrib.items()), [walk(child) for child in element])
    return walk(ET.fromstring(data))


# The client.

class Reply:
    def __init__(self, status, headers, data):
        self.status, self.data = status, data
        self.headers = {k.lower(): v for k, v in headers.items()}
        self.text = data.decode("utf-8", "replace")

    def json(self):
        return json.loads(self.data)

    def result(self):
        """GetDataResult's text of a 200 answer."""
        assert self.status == 200 and self.headers["content-type"] == XML, self
        root = ET.fromstring(self.data)
        assert root.tag == f"{{{SOAP}}}Envelope", self
        (body,) = list(root)
        (response,) = list(body)
        assert response.tag == f"{{{TEMPURI}}}GetDataResponse", self
        (result,) = list(response)
        assert result.tag == f"{{{TEMPURI}}}GetDataResult", self
        return result.text or ""

    def rows(self):
        """The rows, each {column: text} (XML mode) or {column: value} (JSON mode), as served."""
        text = self.result()
        if text.lstrip().startswith("["):
            return json.loads(text)
        dataset = ET.fromstring(text)
        assert dataset.tag == "NewDataSet"
        assert all(table.tag == "Table" and all(len(cell) == 0 for cell in table) for table in dataset)
        return [{cell.tag: cell.text or "" for cell in table} for table in dataset]

    def fault(self):
        """(faultcode, faultstring) of a SOAP fault answer (HTTP 500)."""
        assert self.status == 500 and self.headers["content-type"] == XML, self
        fault = ET.fromstring(self.data).find(f"{{{SOAP}}}Body/{{{SOAP}}}Fault")
        assert fault is not None, self
        assert [child.tag for child in fault] == ["faultcode", "faultstring"], self
        assert fault.find("faultstring").get("{http://www.w3.org/XML/1998/namespace}lang") == "en-US"
        return fault.findtext("faultcode"), fault.findtext("faultstring")

    def __repr__(self):
        return f"<{self.status} {self.text[:400]}>"


def envelope(fields, wrapper=f"{{{TEMPURI}}}GetData", header=None, namespace=TEMPURI):
    """A GetData request built with ElementTree: fields are (name, text), each name in `namespace`
    (None: in none) unless it is qualified ({ns}name)."""
    root = ET.Element(f"{{{SOAP}}}Envelope")
    if header is not None:
        root.append(header)
    call = ET.SubElement(ET.SubElement(root, f"{{{SOAP}}}Body"), wrapper)
    for name, value in fields:
        qualified = name.startswith("{") or namespace is None
        ET.SubElement(call, name if qualified else f"{{{namespace}}}{name}").text = value
    return ET.tostring(root, encoding="utf-8")


def get_data_body(user, password, name, kind="View", parameters=None):
    fields = [("userName", user), ("password", password), ("objectName", name), ("objectType", kind)]
    return envelope(fields + ([("parameters", parameters)] if parameters is not None else []))


class Client:
    def __init__(self, base):
        self.base = base

    def call(self, method, target, data=None, headers=None):
        request = Request(self.base + target, data=data, method=method, headers=headers or {})
        try:
            with urlopen(request, timeout=30) as answer:
                return Reply(answer.status, dict(answer.headers), answer.read())
        except HTTPError as error:
            return Reply(error.code, dict(error.headers), error.read())

    def post_soap(self, data, path=PRODUCTION, action=f'"{ACTION}"', content_type=XML, headers=None):
        sent = {"Content-Type": content_type, **(headers or {})}
        if action is not None:
            sent["SOAPAction"] = action
        return self.call("POST", path, data, sent)

    def get_data(self, user, name, kind="View", parameters=None, password=PASSWORD, **kwargs):
        return self.post_soap(get_data_body(user, password, name, kind, parameters), **kwargs)

    def rows(self, user, name, kind="View", parameters=None, password=PASSWORD):
        return self.get_data(user, name, kind, parameters, password).rows()

    def control(self, method, path, body=None, **query):
        target = "/_standin/" + path + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")
        data = None if body is None else json.dumps(body).encode()
        return self.call(method, target, data, {"Content-Type": "application/json"} if data else {})

    def touch(self, body):
        return self.control("POST", "touch", body)

    def faults(self, tenant, *responses, **rule):
        reply = self.control("POST", "faults", {"tenant": tenant, "responses": list(responses), **rule})
        assert reply.status == 200, reply
        return reply

    def requests(self, tenant):
        return self.control("GET", "requests", tenant=tenant).json()["requests"]

    def violations(self, tenant):
        return self.control("GET", "violations", tenant=tenant).json()["violations"]


def start(script=SERVER, *args, cwd=None):
    process, origin = launch(script, "fm-systems", *args, cwd=cwd)
    return process, Client(origin)


@pytest.fixture(scope="module")
def client():
    process, served = start()
    yield served
    stop(process)


@pytest.fixture(scope="module")
def json_client():
    process, served = start(SERVER, "--result-format", "json")
    yield served
    stop(process)


@pytest.fixture
def tenant():
    return f"mw-{uuid.uuid4().hex[:12]}"


def seed():
    return json.loads(SEED_FILE.read_text("utf-8"))


def seed_rows(view):
    return next(o for o in seed()["objects"] if o["name"] == view)["rows"]


# The dossier's examples.

def send_example(client, name):
    path, headers = example_http(name)
    assert headers["Content-Type"] == XML and headers["SOAPAction"] == f'"{ACTION}"'
    return client.post_soap(example_bytes(name), path=path, action=headers["SOAPAction"],
                            content_type=headers["Content-Type"])


def test_the_view_example_is_answered_with_the_example_response(client):
    reply = send_example(client, "getdata-request.soap11.xml")
    assert reply.status == 200 and reply.headers["content-type"] == XML, reply
    example = example_bytes("getdata-response.soap11.xml")
    assert canonical(reply.data) == canonical(example), "the same envelope, prefixes and namespaces, and rows"
    assert reply.result() == ET.fromstring(example).findtext(f".//{{{TEMPURI}}}GetDataResult"), "even its layout"
    assert not reply.data.startswith(b"<?xml"), "WCF writes no XML declaration"


def test_the_json_mode_answers_the_json_example(json_client, client, tenant):
    reply = send_example(json_client, "getdata-request.soap11.xml")
    example = example_bytes("getdata-response.json-variant.soap11.xml")
    assert canonical(reply.data) == canonical(example)
    assert reply.rows()[1]["Department"] is None and reply.rows()[1]["Area"] == 240.0
    # A tenant's own mode, whatever the server's default.
    settings = client.control("POST", "settings", {"tenant": tenant, "resultFormat": "json"})
    assert settings.status == 200 and settings.json() == {"tenant": tenant, "resultFormat": "json"}
    rows = client.rows(tenant, "vw_WS_Spaces", parameters="@BuildingCode=HQ1;@FloorCode=03")
    assert rows == json.loads(ET.fromstring(example).findtext(f".//{{{TEMPURI}}}GetDataResult"))
    assert client.rows(f"other-{tenant}", "vw_WS_Sites")[0]["SiteID"] == "1", "other tenants keep XML"


def test_the_stored_procedure_example_is_accepted_on_the_test_path(client):
    path, _ = example_http("getdata-request.storedproc.soap11.xml")
    assert path == TEST_PATH
    reply = send_example(client, "getdata-request.storedproc.soap11.xml")
    assert shape(reply.data) == shape(example_bytes("getdata-response.soap11.xml"))
    rows = reply.rows()
    assert [r["WorkOrderID"] for r in rows] == ["91005", "91007", "91010", "91012"]
    assert all(r["ModifiedDate"] >= "2024-08-01T00:00:00" for r in rows), "@Since is inclusive"
    assert rows[0]["ModifiedDate"] == "2024-08-01T00:00:00", "a row modified at @Since itself is in"
    assert client.violations("svc_integration") == [], "the examples are what the WSDL says"


def test_bad_credentials_answer_the_example_fault(client):
    body = example_bytes("getdata-request.soap11.xml").replace(b"example-password", b"wrong-password")
    reply = client.post_soap(body)
    assert reply.fault() == INVALID_CREDENTIALS
    assert canonical(reply.data) == canonical(example_bytes("fault-invalid-credentials.soap11.xml"))


def test_an_unknown_action_answers_the_example_fault(client):
    action = "http://tempuri.org/IFMInteractWebService/SaveData"
    reply = client.post_soap(example_bytes("getdata-request.soap11.xml"), action=f'"{action}"')
    example = example_bytes("fault-action-not-supported.soap11.xml")
    code, text = reply.fault()
    assert code == "a:ActionNotSupported" and shape(reply.data) == shape(example)
    assert text.startswith(ET.fromstring(example).findtext(".//faultstring")), "WCF's text, not shortened"
    assert b'<faultcode xmlns:a="http://schemas.microsoft.com/ws/2005/05/addressing/none">a:ActionNotSupported' in reply.data


def test_an_injected_internal_error_answers_the_example_fault(client, tenant):
    body = example_bytes("getdata-request.soap11.xml").replace(b"svc_integration", tenant.encode())
    body = body.replace(b"example-password", PASSWORD.encode())
    client.faults(tenant, {"kind": "soapFault"})
    reply = client.post_soap(body)
    example = example_bytes("fault-internal-error.soap11.xml")
    code, text = reply.fault()
    assert code == "a:InternalServiceFault" and shape(reply.data) == shape(example)
    assert text.startswith(ET.fromstring(example).findtext(".//faultstring"))
    assert "<serviceDebug>" in text and b"&lt;serviceDebug&gt;" in reply.data, "escaped"
    assert client.post_soap(body).status == 200, "one call only"


@pytest.mark.parametrize("query", ["wsdl", "singleWsdl", "WSDL"])
@pytest.mark.parametrize("path", [PRODUCTION, TEST_PATH])
def test_wsdl_is_the_example_with_the_stand_ins_address(client, path, query):
    reply = client.call("GET", f"{path}?{query}")
    assert reply.status == 200 and reply.headers["content-type"] == XML
    served = ET.fromstring(reply.data)
    address = served.find(".//{http://schemas.xmlsoap.org/wsdl/soap/}address")
    assert address.get("location") == client.base + path
    example = example_bytes("FMInteractWebService.assumed.wsdl").decode()
    example = example.replace("https://acme.fmshosted.com/FMIWebService/FMInteractWebService.svc", client.base + path)
    assert canonical(reply.data) == canonical(example)


def test_the_seed_keeps_the_assumed_catalogue():
    catalogue = json.loads(example_path("standin-object-catalog.assumed.json").read_text())
    ours = {o["name"]: o for o in seed()["objects"]}
    assert list(ours) == [o["name"] for o in catalogue["objects"]], "the same objects, no more"
    users = {u["userName"]: u for u in seed()["webServiceUsers"]}
    for user in catalogue["webServiceUsers"]:
        assert users[user["userName"]] == user
    for obj in catalogue["objects"]:
        mine = ours[obj["name"]]
        assert (mine["type"], mine["key"]) == (obj["type"], obj["key"])
        if obj["type"] == "View":
            assert list(mine["columns"]) == obj["columns"], "the same columns in the same order"
            by_key = {row[obj["key"]]: row for row in mine["rows"]}
            for row in obj["rows"]:
                assert by_key[row[obj["key"]]] == {c: row.get(c) for c in obj["columns"]}, "the catalogue's rows as they are"
        else:
            assert mine["resultFrom"] == obj["resultFrom"] and mine["argumentToColumn"] == obj["argumentToColumn"]
            assert [{k: a[k] for k in a if k in b} for a, b in zip(mine["arguments"], obj["arguments"])] == obj["arguments"]


# Objects and rows.

@pytest.mark.parametrize("view", list(VIEWS))
def test_each_view_serves_its_rows_in_key_order_without_nulls(client, tenant, view):
    rows = client.rows(tenant, view)
    spec = next(o for o in seed()["objects"] if o["name"] == view)
    key, columns = VIEWS[view], list(spec["columns"])
    assert [int(r[key]) for r in rows] == sorted(row[key] for row in spec["rows"])
    for served, row in zip(rows, sorted(spec["rows"], key=lambda r: r[key])):
        assert list(served) == [c for c in columns if row[c] is not None], "column order, NULL left out"
        for column, text in served.items():
            kind = spec["columns"][column]
            if kind == "bool":
                assert text == ("true" if row[column] else "false")
            elif kind == "decimal":
                assert float(text) == row[column] and re.fullmatch(r"-?\d+(\.\d+)?", text)
            else:
                assert text == str(row[column])
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", served["ModifiedDate"]), "every view has a modified date"


def test_json_rows_have_every_column_and_typed_values(json_client, tenant):
    rows = json_client.rows(tenant, "vw_WS_WorkOrders")
    assert all(list(r) == list(seed_rows("vw_WS_WorkOrders")[0]) for r in rows)
    order = next(r for r in rows if r["WorkOrderID"] == 91013)
    assert order["AssignedTo"] is None and order["LaborHours"] is None and order["AssetID"] == 70030
    assert next(r for r in rows if r["WorkOrderID"] == 91001)["LaborHours"] == 0.75
    assert json_client.get_data(tenant, "vw_WS_Sites", parameters="SiteID=99").result() == "[]"


def test_locations_form_a_hierarchy_with_space_properties(client, tenant):
    sites = {r["SiteID"] for r in client.rows(tenant, "vw_WS_Sites")}
    buildings = client.rows(tenant, "vw_WS_Buildings")
    floors = client.rows(tenant, "vw_WS_Floors")
    spaces = client.rows(tenant, "vw_WS_Spaces")
    assert {b["SiteID"] for b in buildings} <= sites and {f["BuildingID"] for f in floors} <= {b["BuildingID"] for b in buildings}
    floor_codes = {f["FloorID"]: (next(b["BuildingCode"] for b in buildings if b["BuildingID"] == f["BuildingID"]), f["FloorCode"])
                   for f in floors}
    for space in spaces:
        assert floor_codes[space["FloorID"]] == (space["BuildingCode"], space["FloorCode"])
    for column in ("Area", "AreaUnit", "Capacity", "SpaceUse", "Department"):
        assert any(column in s for s in spaces), column
    assert {s["AreaUnit"] for s in spaces} == {"SF", "SM"}
    assert any(b["IsActive"] == "false" for b in buildings)
    assets = client.rows(tenant, "vw_WS_Assets")
    space_ids = {s["SpaceID"] for s in spaces}
    assert all(a["SpaceID"] in space_ids for a in assets if "SpaceID" in a) and any("SpaceID" not in a for a in assets)
    requests = client.rows(tenant, "vw_WS_WorkRequests")
    orders = {o["WorkOrderID"]: o for o in client.rows(tenant, "vw_WS_WorkOrders")}
    for request in requests:
        if "WorkOrderID" in request:
            assert orders[request["WorkOrderID"]]["WorkRequestID"] == request["WorkRequestID"]
    assert {r["Status"] for r in requests} | {o["Status"] for o in orders.values()} == {
        "New", "Assigned", "In Progress", "On Hold", "Completed", "Closed", "Cancelled"}


@pytest.mark.parametrize("parameters, expected", [
    ("@BuildingCode=HQ1;@FloorCode=03", [5012, 5013]),
    ("buildingcode=hq1;FLOORCODE=03;", [5012, 5013]),  # @ optional, names and values case-insensitive
    ('{"BuildingCode": "LAB2", "@IsOccupiable": true}', [5021, 5022]),
    ("@Capacity=12", [5012]),
    ('{"Capacity": 0}', [5013, 5020]),
    ('{"Department": null, "BuildingCode": "HQ1"}', [5001, 5013]),
    ("@Area=240.00", [5013]),
    ("@SpaceUse=Shipping%20%26%20Receiving", [5050]),
    ("@SpaceName=R%26D Lab <Clean Room> 1", [5021]),
    ("@ModifiedDate=2024-07-19T11:02:31", [5012, 5013]),
    ("@IsOccupiable=0;@BuildingCode=DT1", [5040]),
    ("  ", None),
])
def test_view_parameters_are_equality_filters(client, tenant, parameters, expected):
    rows = client.rows(tenant, "vw_WS_Spaces", parameters=parameters)
    everything = sorted(r["SpaceID"] for r in seed_rows("vw_WS_Spaces"))
    assert [int(r["SpaceID"]) for r in rows] == (everything if expected is None else expected)


@pytest.mark.parametrize("parameters, text", [
    ("@Bogus=1", "Unknown parameter '@Bogus' for 'vw_WS_Spaces'."),
    ("@Capacity=many", "Invalid value 'many' for parameter '@Capacity' of 'vw_WS_Spaces'."),
    ("@IsOccupiable=maybe", "Invalid value 'maybe' for parameter '@IsOccupiable' of 'vw_WS_Spaces'."),
    ("@ModifiedDate=yesterday", "Invalid value 'yesterday' for parameter '@ModifiedDate' of 'vw_WS_Spaces'."),
    ("@BuildingCode", "Invalid parameters: '@BuildingCode' is not @Name=Value."),
    ("@FloorCode=01;floorcode=02", "Invalid parameters: 'floorcode' is given twice."),
    ('{"BuildingCode": ["HQ1"]}', "Invalid parameters: the value of 'BuildingCode' is not a string, number, boolean or null."),
    ('["HQ1"]', "Invalid parameters: JSON parameters must be an object of names and values."),
])
def test_unreadable_or_unknown_parameters_are_client_faults(client, tenant, parameters, text):
    assert client.get_data(tenant, "vw_WS_Spaces", parameters=parameters).fault() == ("s:Client", text)


def test_stored_procedures_take_their_arguments(client, tenant):
    def ids(name, parameters, kind="StoredProcedure"):
        key = "SpaceID" if "Spaces" in name else "WorkOrderID"
        return [int(r[key]) for r in client.rows(tenant, name, kind, parameters)]

    assert ids("sp_WS_GetSpacesByBuilding", "@BuildingCode=LAB2") == [5020, 5021, 5022]
    assert ids("sp_WS_GetSpacesByBuilding", '{"@BuildingCode": "LAB2", "@FloorCode": "01"}', "SP") == [5021]
    assert ids("sp_WS_GetSpacesByBuilding", "@BuildingCode=LAB2;@FloorCode=", "Stored Procedure") == [5020, 5021, 5022]
    assert ids("sp_WS_GetWorkOrdersModifiedSince", "@Since=2024-08-06T09:12:44", "procedure") == [91007, 91010, 91012]
    assert ids("sp_WS_GetWorkOrdersModifiedSince", "@Since=2024-08-06T11:12:45%2B02:00") == [91010, 91012], "offset to UTC"
    assert ids("sp_WS_GetWorkOrdersModifiedSince", "Since=2024-08-06") == [91007, 91010, 91012]
    assert ids("sp_WS_GetWorkOrdersModifiedSince", "@Since=2030-01-01T00:00:00") == []
    procedure = "sp_WS_GetWorkOrdersModifiedSince"
    for parameters, text in (
            (None, f"Parameter '@Since' is required for '{procedure}'."),
            ('{"@Since": null}', f"Parameter '@Since' is required for '{procedure}'."),
            ("@Since=2024-08-01;@Status=Closed", f"Unknown parameter '@Status' for '{procedure}'."),
            ("@Since=last week", f"Invalid value 'last week' for parameter '@Since' of '{procedure}'.")):
        assert client.get_data(tenant, procedure, "StoredProcedure", parameters).fault() == ("s:Client", text)


@pytest.mark.parametrize("kind", ["View", "view", "V", " VIEW "])
def test_object_type_aliases(client, tenant, kind):
    assert len(client.rows(tenant, "VW_WS_SITES", kind)) == 3, "object names are case-insensitive too"


def test_unsupported_types_and_objects_of_the_other_type(client, tenant):
    assert client.get_data(tenant, "vw_WS_Sites", "Table").fault() == ("s:Client", "Unsupported object type 'Table'.")
    assert client.get_data(tenant, "vw_WS_Sites", "").fault() == ("s:Client", "Unsupported object type ''.")
    assert client.get_data(tenant, "vw_WS_Sites", "StoredProcedure").fault() == not_available("vw_WS_Sites")
    assert client.get_data(tenant, "sp_WS_GetSpacesByBuilding", "View").fault() == not_available("sp_WS_GetSpacesByBuilding")
    assert client.get_data(tenant, "vw_WS_Nothing").fault() == not_available("vw_WS_Nothing")


# Authentication and grants.

def test_credentials_come_from_the_body(client, tenant):
    assert client.get_data(tenant, "vw_WS_Sites", password="nope").fault() == INVALID_CREDENTIALS
    assert client.get_data(tenant, "vw_WS_Sites", password=PASSWORD + " ").fault() == INVALID_CREDENTIALS
    assert client.get_data("", "vw_WS_Sites").fault() == INVALID_CREDENTIALS
    no_password = envelope([("userName", tenant), ("objectName", "vw_WS_Sites"), ("objectType", "View")])
    assert client.post_soap(no_password).fault() == INVALID_CREDENTIALS
    nil = ET.fromstring(get_data_body(tenant, PASSWORD, "vw_WS_Sites"))
    nil.find(f".//{{{TEMPURI}}}password").set("{http://www.w3.org/2001/XMLSchema-instance}nil", "true")
    assert client.post_soap(ET.tostring(nil)).fault() == INVALID_CREDENTIALS
    basic = {"Authorization": "Basic " + "c3ZjX2ludGVncmF0aW9uOmV4YW1wbGUtcGFzc3dvcmQ="}
    assert client.get_data(tenant, "vw_WS_Sites", password="nope", headers=basic).fault() == INVALID_CREDENTIALS
    assert client.get_data("svc_integration", "vw_WS_Sites").fault() == INVALID_CREDENTIALS, "a seed user has its own"
    assert len(client.rows("svc_space_only", "vw_WS_Sites", password="example-password-2")) == 3
    everything = client.control("GET", "requests").text + client.control("GET", "violations").text
    assert PASSWORD not in everything and "example-password" not in everything and "nope" not in everything


def test_a_password_with_xml_special_characters(client, json_client):
    for server in (client, json_client):
        assert server.rows(ESCAPE_USER, "vw_WS_Sites", password=ESCAPE_PASSWORD), "escaped by ElementTree"
    body = get_data_body(ESCAPE_USER, ESCAPE_PASSWORD, "vw_WS_Sites")
    assert b"Mw&lt;Demo&amp;Pass]]&gt;1" in body
    # The same password in CDATA sections, as some SOAP stacks write it (]]> split across two).
    cdata = body.replace(b"Mw&lt;Demo&amp;Pass]]&gt;1", b"<![CDATA[Mw<Demo&Pass]]]]><![CDATA[>1]]>")
    assert cdata.count(b"CDATA") == 2 and client.post_soap(cdata).status == 200
    # And with numeric character references.
    refs = body.replace(b"Mw&lt;Demo&amp;Pass]]&gt;1", b"Mw&#60;Demo&#x26;Pass]]&#62;1")
    assert client.post_soap(refs).status == 200
    assert client.get_data(ESCAPE_USER, "vw_WS_Sites", password="Mw<Demo&Pass").fault() == INVALID_CREDENTIALS


def test_a_changed_password(client, tenant):
    assert client.control("POST", "settings", {"tenant": tenant, "password": "New <&]]> one"}).status == 200
    assert client.get_data(tenant, "vw_WS_Sites").fault() == INVALID_CREDENTIALS
    assert client.rows(tenant, "vw_WS_Sites", password="New <&]]> one")
    for bad in ({"tenant": tenant, "password": ""}, {"tenant": tenant, "resultFormat": "csv"}, {"password": "x"},
                {"tenant": tenant, "colour": "red"}):
        assert client.control("POST", "settings", bad).status == 400, bad


def test_objects_not_granted_are_not_available(client):
    user, password = "svc_space_only", "example-password-2"
    for name, kind in (("vw_WS_Assets", "View"), ("vw_WS_WorkOrders", "View"), ("sp_WS_GetSpacesByBuilding", "SP")):
        assert client.get_data(user, name, kind, "@BuildingCode=HQ1" if kind == "SP" else None,
                               password=password).fault() == not_available(name)
    granted = client.control("GET", "grants", tenant=user).json()
    assert granted == {"tenant": user, "granted": ["vw_WS_Buildings", "vw_WS_Floors", "vw_WS_Sites", "vw_WS_Spaces"]}


def test_grants_can_be_withdrawn_and_given_back(client, tenant):
    reply = client.control("POST", "grants", {"tenant": tenant, "revoke": ["vw_WS_Assets", "VW_WS_WORKORDERS"]})
    assert reply.status == 200 and "vw_WS_Assets" not in reply.json()["granted"]
    assert "vw_WS_WorkOrders" not in reply.json()["granted"] and "vw_WS_Spaces" in reply.json()["granted"]
    assert client.get_data(tenant, "vw_WS_Assets").fault() == not_available("vw_WS_Assets")
    assert client.get_data(tenant, "vw_ws_assets").fault() == not_available("vw_ws_assets"), "named as asked"
    assert client.rows(tenant, "vw_WS_Spaces")
    assert client.rows(f"other-{tenant}", "vw_WS_Assets"), "grants are per tenant"
    assert client.control("POST", "grants", {"tenant": tenant, "grant": ["vw_WS_Assets"]}).status == 200
    assert client.rows(tenant, "vw_WS_Assets")
    client.control("POST", "grants", {"tenant": tenant, "revoke": ["*"]})
    assert client.control("GET", "grants", tenant=tenant).json()["granted"] == []
    assert client.control("POST", "grants", {"tenant": tenant, "grant": ["*"]}).json()["granted"] == sorted(
        o["name"] for o in seed()["objects"])
    for bad in ({"tenant": tenant, "revoke": ["vw_WS_Bogus"]}, {"tenant": tenant, "revoke": "vw_WS_Assets"}, {"revoke": []}):
        assert client.control("POST", "grants", bad).status == 400, bad


# The envelope.

def test_lenient_reading_is_recorded_as_violations(client, tenant):
    # No namespace at all, another case, another order: read, as the dossier asks, and recorded.
    body = envelope([("ObjectType", "View"), ("OBJECTNAME", "vw_WS_Sites"), ("password", PASSWORD),
                     ("username", tenant), ("colour", "red")], wrapper="getdata", namespace=None)
    assert b"<getdata><ObjectType>View</ObjectType>" in body, "no namespace"
    assert len(client.post_soap(body, action=None).rows()) == 3
    reasons = [v["reason"] for v in client.violations(tenant)]
    assert any("no SOAPAction" in r for r in reasons) and any("not {http://tempuri.org/}GetData" in r for r in reasons)
    assert any("{http://tempuri.org/}objectType" in r for r in reasons) and any("order" in r for r in reasons)
    assert any("no field colour" in r for r in reasons)
    clean = f"clean-{tenant}"
    assert client.post_soap(get_data_body(clean, PASSWORD, "vw_WS_Sites"), action=ACTION).status == 200, "unquoted"
    assert client.violations(clean) == []


@pytest.mark.parametrize("content_type", ["application/soap+xml; charset=utf-8", "text/xml; charset=iso-8859-1",
                                          "application/json", ""])
def test_other_media_types_get_415(client, tenant, content_type):
    reply = client.post_soap(get_data_body(tenant, PASSWORD, "vw_WS_Sites"), content_type=content_type)
    assert reply.status == 415 and reply.data == b""
    assert "content type" in client.violations(tenant)[-1]["reason"]
    assert client.post_soap(get_data_body(tenant, PASSWORD, "vw_WS_Sites"), content_type="text/xml").status == 200


@pytest.mark.parametrize("body, reason", [
    (b"<s:Envelope xmlns:s='http://schemas.xmlsoap.org/soap/envelope/'><s:Body>", "not well-formed"),
    (b"not xml at all", "not well-formed"),
    (b"<Envelope><Body/></Envelope>", "not a SOAP 1.1 Envelope"),
    (b"<e:Envelope xmlns:e='http://www.w3.org/2003/05/soap-envelope'><e:Body/></e:Envelope>", "SOAP 1.2"),
    (b"<s:Envelope xmlns:s='http://schemas.xmlsoap.org/soap/envelope/'/>", "no Body"),
    (b"<?xml version='1.0'?><!DOCTYPE lol [<!ENTITY a 'aaaaaaaaaa'><!ENTITY b '&a;&a;&a;&a;&a;&a;'>]>"
     b"<s:Envelope xmlns:s='http://schemas.xmlsoap.org/soap/envelope/'><s:Body>&b;</s:Body></s:Envelope>", "DTD"),
    (b"<!DOCTYPE s [<!ENTITY x SYSTEM 'file:///etc/passwd'>]><s:Envelope xmlns:s='http://schemas.xmlsoap.org/soap/"
     b"envelope/'><s:Body><GetData xmlns='http://tempuri.org/'><userName>&x;</userName></GetData></s:Body></s:Envelope>", "DTD"),
    (b"<s:Envelope xmlns:s='http://schemas.xmlsoap.org/soap/envelope/'><s:Body>&undefined;</s:Body></s:Envelope>",
     "not well-formed"),
])
def test_unreadable_messages_get_400(client, body, reason):
    reply = client.post_soap(body)
    assert reply.status == 400 and reply.data == b"", reply
    last = client.control("GET", "violations").json()["violations"][-1]
    assert reason in last["reason"] and last["tenant"] is None, last


def test_body_faults_of_wcf(client, tenant):
    other = envelope([("userName", tenant)], wrapper=f"{{{TEMPURI}}}GetObjectList")
    code, text = client.post_soap(other).fault()
    assert code == "a:DeserializationFailed" and "'GetObjectList'" in text
    code, text = client.post_soap(other, action=None).fault()
    assert code == "a:ActionNotSupported" and text.startswith("The message with Action '' cannot be processed")
    twice = envelope([("userName", tenant), ("userName", tenant), ("password", PASSWORD)])
    assert client.post_soap(twice).fault()[0] == "a:DeserializationFailed"
    nested = ET.fromstring(get_data_body(tenant, PASSWORD, "vw_WS_Sites"))
    ET.SubElement(nested.find(f".//{{{TEMPURI}}}objectName"), "inner").text = "x"
    assert client.post_soap(ET.tostring(nested)).fault()[0] == "a:DeserializationFailed"
    security = ET.Element(f"{{{SOAP}}}Header")
    ET.SubElement(security, "{http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd}Security",
                  {f"{{{SOAP}}}mustUnderstand": "1"})
    fields = [("userName", tenant), ("password", PASSWORD), ("objectName", "vw_WS_Sites"), ("objectType", "View")]
    code, text = client.post_soap(envelope(fields, header=security)).fault()
    assert code == "s:MustUnderstand" and "'Security'" in text
    security[0].attrib.clear()
    assert client.post_soap(envelope(fields, header=security)).status == 200, "a header it need not understand is ignored"


def test_paths_and_methods(client, tenant):
    body = get_data_body(tenant, PASSWORD, "vw_WS_Sites")
    for path in (PRODUCTION, TEST_PATH, PRODUCTION.lower(), "/tst_fmiwebservices/fminteractwebservice.svc"):
        assert client.post_soap(body, path=path).status == 200, path
    for path in ("/FMInteractWebService.svc", "/FMIWebService/Other.svc", "/FMInteract/Default.aspx"):
        reply = client.post_soap(body, path=path)
        assert reply.status == 404 and reply.headers["content-type"].startswith("text/html"), path
    page = client.call("GET", PRODUCTION)
    assert page.headers["server"] == "Microsoft-IIS/10.0"
    assert page.status == 200 and "You have created a service" in page.text and f"{client.base}{PRODUCTION}?wsdl" in page.text
    assert client.call("PUT", PRODUCTION, body, {"Content-Type": XML}).status == 405
    assert client.call("GET", "/_standin/health").json() == {"status": "ok"}


# Escaping.

def test_values_with_markup_are_escaped_both_ways(client, json_client, tenant):
    (space,) = client.rows(tenant, "vw_WS_Spaces", parameters="@SpaceID=5021")
    assert space["SpaceName"] == "R&D Lab <Clean Room> 1" and space["Department"] == "Research & Development"
    tricky = "Close ]]> & <![CDATA[ x ]]> \"quoted\" 'apos' </GetDataResult> é ✓"
    for server in (client, json_client):
        touched = server.touch({"tenant": tenant, "object": "vw_WS_Spaces", "key": 5021, "fields": {"SpaceName": tricky}})
        assert touched.status == 200, touched
        (row,) = server.rows(tenant, "vw_WS_Spaces", parameters="@SpaceID=5021")
        assert row["SpaceName"] == tricky
        (row,) = server.rows(tenant, "vw_WS_Spaces", parameters=json.dumps({"SpaceName": tricky}))
        assert row["SpaceName"] == tricky, "a JSON parameter with markup filters too"
    assert client.touch({"tenant": tenant, "object": "vw_WS_Spaces", "key": 5021,
                         "fields": {"SpaceName": "bell \x07"}}).status == 400, "no text XML cannot carry"
    sites = client.get_data(tenant, "vw_WS_Sites")
    assert "Montréal – Site Est" in sites.result() and "Montr\u00e9al".encode() in sites.data, "UTF-8 on the wire"


# Faults injected for the connector's tests.

def test_injected_faults(client, tenant):
    client.faults(tenant,
                  {"kind": "soapFault", "faultcode": "Client", "faultstring": "Login <locked> & out"},
                  {"kind": "malformed"},
                  {"kind": "html"},
                  {"kind": "html", "status": 502},
                  {"kind": "plainText"},
                  {"status": 429, "retryAfter": 7},
                  {"kind": "soapFault", "faultcode": "ActionNotSupported", "status": 500, "retryAfter": 1})
    assert client.get_data(tenant, "vw_WS_Sites").fault() == ("s:Client", "Login <locked> & out")
    malformed = client.get_data(tenant, "vw_WS_Sites")
    assert malformed.status == 200 and malformed.headers["content-type"] == XML
    assert malformed.data.startswith(b"<s:Envelope") and b"GetDataResult" in malformed.data
    with pytest.raises(ET.ParseError):
        ET.fromstring(malformed.data)
    unavailable = client.get_data(tenant, "vw_WS_Sites")
    assert unavailable.status == 503 and unavailable.headers["content-type"].startswith("text/html")
    assert "HTTP Error 503. The service is unavailable." in unavailable.text
    assert unavailable.headers["server"] == "Microsoft-HTTPAPI/2.0", "HTTP.SYS answers, not the service"
    gateway = client.get_data(tenant, "vw_WS_Sites")
    assert gateway.status == 502 and "<HTML>" in gateway.text
    plain = client.get_data(tenant, "vw_WS_Sites")
    assert plain.status == 200 and plain.result().startswith("Error: Timeout expired.")
    throttled = client.get_data(tenant, "vw_WS_Sites")
    assert throttled.status == 429 and throttled.headers["retry-after"] == "7" and "text/html" in throttled.headers["content-type"]
    action = client.get_data(tenant, "vw_WS_Sites")
    assert action.fault()[0] == "a:ActionNotSupported" and action.headers["retry-after"] == "1"
    assert len(client.rows(tenant, "vw_WS_Sites")) == 3, "then the service answers again"
    log = client.requests(tenant)
    assert [r["injected"] for r in log] == ["soapFault", "malformed", "html", "html", "plainText", "html", "soapFault", None]
    assert [r["status"] for r in log] == [500, 200, 503, 502, 200, 429, 500, 200]


def test_faults_match_an_object_and_a_tenant_and_can_delay(client, tenant):
    client.faults(tenant, {"kind": "html", "status": 500}, match="vw_WS_Assets")
    client.faults(tenant, {"delaySeconds": 0.6})
    assert client.get_data(f"other-{tenant}", "vw_WS_Assets").status == 200, "faults are per tenant"
    assert client.get_data(tenant, "vw_WS_Assets", password="wrong").status == 500, "whatever the password"
    started = time.monotonic()
    assert client.get_data(tenant, "vw_WS_Sites").status == 200 and time.monotonic() - started >= 0.6
    client.faults(tenant, {"kind": "soapFault"})
    assert client.control("DELETE", "faults", tenant=tenant).status == 200
    assert client.get_data(tenant, "vw_WS_Sites").status == 200
    for bad in ({"kind": "teapot"}, {"kind": "html", "status": 99}, {"kind": "soapFault", "faultcode": "Nope"},
                {"kind": "malformed", "text": "x"}, {"status": 200}, {"kind": "plainText", "text": 5},
                {"kind": "html", "stallSeconds": 1}):
        assert client.control("POST", "faults", {"tenant": tenant, "responses": [bad]}).status == 400, bad


# Tenants and touches.

def test_tenants_are_isolated(client, tenant):
    other = f"other-{tenant}"
    reply = client.touch({"tenant": tenant, "object": "vw_WS_Assets", "key": 70021, "fields": {"Status": "Retired"}})
    assert reply.status == 200
    assert client.rows(tenant, "vw_WS_Assets", parameters="@AssetID=70021")[0]["Status"] == "Retired"
    assert client.rows(other, "vw_WS_Assets", parameters="@AssetID=70021")[0]["Status"] == "Active"
    assert client.rows("svc_integration", "vw_WS_Assets", password="example-password",
                       parameters="@AssetID=70021")[0]["Status"] == "Active"


def test_touch_changes_a_row_as_a_user_would(client, tenant):
    before = client.rows(tenant, "vw_WS_WorkOrders", parameters="@WorkOrderID=91001")[0]
    started = datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0)
    reply = client.touch({"tenant": tenant, "object": "vw_WS_WorkOrders", "id": "91001",
                          "fields": {"Status": "Closed", "LaborHours": 1, "CompletedDate": "2024-07-18T17:45:00+02:00"}})
    assert reply.status == 200, reply
    row = reply.json()["row"]
    assert reply.json()["object"] == "vw_WS_WorkOrders" and reply.json()["key"] == 91001
    assert row["Status"] == "Closed" and row["LaborHours"] == 1.0 and row["CompletedDate"] == "2024-07-18T15:45:00"
    first = datetime.fromisoformat(row["ModifiedDate"])
    assert first > datetime.fromisoformat(before["ModifiedDate"]) and abs(first - started) < timedelta(seconds=5)
    again = client.touch({"tenant": tenant, "object": "vw_WS_WorkOrders", "key": 91001, "fields": {"Priority": "2 - High"}})
    second = datetime.fromisoformat(again.json()["row"]["ModifiedDate"])
    assert second > first, "strictly later, even within the same second"
    served = client.rows(tenant, "vw_WS_WorkOrders", parameters="@WorkOrderID=91001")[0]
    assert served["ModifiedDate"] == again.json()["row"]["ModifiedDate"] and served["LaborHours"] == "1"
    since = client.rows(tenant, "sp_WS_GetWorkOrdersModifiedSince", "StoredProcedure", f"@Since={row['ModifiedDate']}")
    assert [r["WorkOrderID"] for r in since] == ["91001"], "what changed since, through the procedure"
    # A user adds a row and deletes one.
    added = client.touch({"tenant": tenant, "object": "vw_WS_WorkRequests",
                          "fields": {"RequestNumber": "WR-2024-0999", "Description": "New leak", "Status": "New"}})
    assert added.status == 201 and added.json()["key"] == 88021 and added.json()["row"]["ModifiedDate"] > row["ModifiedDate"]
    assert client.rows(tenant, "vw_WS_WorkRequests")[-1] == {
        "WorkRequestID": "88021", "RequestNumber": "WR-2024-0999", "Description": "New leak", "Status": "New",
        "ModifiedDate": added.json()["row"]["ModifiedDate"]}
    assert client.touch({"tenant": tenant, "object": "vw_WS_WorkRequests", "key": 88021, "delete": True}).json() == {
        "object": "vw_WS_WorkRequests", "key": 88021, "deleted": True}
    assert "88021" not in {r["WorkRequestID"] for r in client.rows(tenant, "vw_WS_WorkRequests")}
    for bad, status in (({"fields": {"Bogus": 1}}, 400), ({"fields": {"ModifiedDate": "2030-01-01T00:00:00"}}, 400),
                        ({"fields": {"WorkOrderID": 1}}, 400), ({"fields": {"LaborHours": "many"}}, 400),
                        ({"fields": {"AssetID": 1.5}}, 400), ({"fields": {"DueDate": "soon"}}, 400),
                        ({"fields": {}}, 400), ({"key": 1}, 404), ({"key": "x"}, 400),
                        ({"object": "sp_WS_GetWorkOrdersModifiedSince"}, 400), ({"tenant": ""}, 400),
                        ({"delete": True, "fields": {"Status": "x"}}, 400)):
        body = {"tenant": tenant, "object": "vw_WS_WorkOrders", "key": 91001, "fields": {"Status": "x"}, **bad}
        assert client.touch(body).status == status, bad


def test_a_touch_can_wait_for_the_next_read(client, tenant):
    change = {"tenant": tenant, "object": "vw_WS_Spaces", "key": 5002, "fields": {"Capacity": 3}}
    assert client.touch({**change, "afterNextRead": True}).json() == {"deferred": change}
    assert client.rows(tenant, "vw_WS_Spaces", parameters="@SpaceID=5002")[0]["Capacity"] == "2", "that read, as it was"
    changed = client.rows(tenant, "sp_WS_GetSpacesByBuilding", "SP", "@BuildingCode=HQ1;@FloorCode=01")
    assert next(r for r in changed if r["SpaceID"] == "5002")["Capacity"] == "3", "made once, after that read"


# Logs.

def test_the_request_log(client, tenant):
    client.get_data(tenant, "vw_WS_Spaces", parameters="@BuildingCode=HQ1")
    client.get_data(tenant, "vw_WS_Assets", password="wrong")
    client.post_soap(get_data_body(tenant, PASSWORD, "vw_WS_Sites"), path=TEST_PATH, action=None)
    log = client.requests(tenant)
    assert [(r["path"], r["objectName"], r["status"], r["faultcode"], r["returned"]) for r in log] == [
        (PRODUCTION, "vw_WS_Spaces", 200, None, 7), (PRODUCTION, "vw_WS_Assets", 500, "s:Client", None),
        (TEST_PATH, "vw_WS_Sites", 200, None, 3)]
    assert log[0]["soapAction"] == ACTION and log[0]["parameters"] == "@BuildingCode=HQ1" and log[0]["objectType"] == "View"
    assert log[2]["soapAction"] is None and all(r["tenant"] == tenant and r["method"] == "POST" for r in log)
    assert "wrong" not in json.dumps(log) and PASSWORD not in json.dumps(log)
    assert client.control("DELETE", "requests", tenant=tenant).json() == {"requests": []}
    assert client.requests(tenant) == []
    assert client.control("DELETE", "violations", tenant=tenant).status == 200 and client.violations(tenant) == []


def test_the_stand_in_starts_from_its_own_folder_alone(tmp_path, tenant):
    folder = tmp_path / "standins"
    shutil.copytree(SERVER.parent, folder, ignore=shutil.ignore_patterns("__pycache__"))
    process, served = start(folder / "fm_systems.py", cwd=tmp_path)
    try:
        assert len(served.rows(tenant, "vw_WS_Spaces")) == len(seed_rows("vw_WS_Spaces"))
    finally:
        stop(process)


def test_recent_dates_move_every_date_by_the_same_whole_days(tenant):
    process, served = start(SERVER, "--recent")
    try:
        views = ("vw_WS_Sites", "vw_WS_Spaces", "vw_WS_Assets", "vw_WS_WorkOrders")
        moved = {view: {int(r[next(iter(r))]): r for r in served.rows(tenant, view)} for view in views}
    finally:
        stop(process)
    newest = max(datetime.fromisoformat(r["ModifiedDate"]) for rows in moved.values() for r in rows.values())
    assert newest.date() == (datetime.now(timezone.utc) - timedelta(days=1)).date(), "the newest change was yesterday"
    shifts = set()
    for view in views:
        for row in seed_rows(view):
            served_row = moved[view][next(iter(row.values()))]
            for column, value in row.items():
                if isinstance(value, str) and re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", value):
                    shift = datetime.fromisoformat(served_row[column]) - datetime.fromisoformat(value)
                    shifts.add(shift)
    assert len(shifts) == 1 and next(iter(shifts)) % timedelta(days=1) == timedelta(0), shifts
