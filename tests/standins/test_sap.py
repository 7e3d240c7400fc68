"""Tests of the SAP stand-in (infra/local/standins/sap.py), and of its model against SAP's own files.

The stand-in carries its own model of the three services it serves (infra/local/standins/
sap_model.py) and writes its `$metadata` from it. These tests start it (both flavours) and hold
what it serves to that `$metadata`: every record carries exactly the declared properties in their
Edm form, and what the model forbids is refused and recorded. They also pin the behaviour a
connector depends on: auth, the CSRF handshake, paging, $filter on LastChangeDateTime, writes and
their business rules, tenant isolation, injected faults and the request log.

The model is worth having only if it is SAP's, so where SAP's files are at hand (sap-s4hana/ under
$MILLWRIGHT_VENDOR_SPECS, by default ../shared/specs beside the checkout, as in CI) the served
`$metadata` is judged by them, read here independently of the server: every entity set, key,
property (type, length, precision, nullability, sap: flags, unit), navigation property and function
import it declares must be SAP's (the EDMX; for API_EQUIPMENT, SAP's OpenAPI export), the records
must look like the sample records from SAP's sandbox, and the error body must fit SAP's schema.
Without those files these tests are skipped with the folder named; the rest run.

    python3 -m pytest tests/standins
"""

import base64
import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import time
import uuid
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from urllib.parse import quote, urlencode, urlsplit

import pytest

REPO = Path(__file__).resolve().parents[2]
SERVER = REPO / "infra" / "local" / "standins" / "sap.py"
# SAP's own files (reference, not part of the repository), as connectors/vendor_specs.rs finds them.
SPECS = Path(os.environ.get("MILLWRIGHT_VENDOR_SPECS") or REPO.parent / "shared" / "specs") / "sap-s4hana"
PASSWORD = "Millwright-Demo-1"
PO = "/sap/opu/odata/sap/API_PURCHASEORDER_PROCESS_SRV"
MO = "/sap/opu/odata/sap/API_MAINTENANCEORDER"
EQ = "/sap/opu/odata/sap/API_EQUIPMENT"
PO_EDMX = "purchase-order/API_PURCHASEORDER_PROCESS_SRV.edmx"
MO_EDMX = "maintenance-order/API_MAINTENANCEORDER.edmx"
EQ_OPENAPI = "equipment/OP_API_EQUIPMENT.json"
EDM = "{http://schemas.microsoft.com/ado/2008/09/edm}"
SAP = "{http://www.sap.com/Protocols/SAPData}"
M = "{http://schemas.microsoft.com/ado/2007/08/dataservices/metadata}"
WRITES = {"POST", "PUT", "PATCH", "MERGE", "DELETE"}
ODATA_SAFE = "$'"  # left unencoded in query strings, as OData clients send them
# entity set -> (service path, qualified entity type)
SETS = {
    "A_PurchaseOrder": (PO, "API_PURCHASEORDER_PROCESS_SRV.A_PurchaseOrderType"),
    "A_PurchaseOrderItem": (PO, "API_PURCHASEORDER_PROCESS_SRV.A_PurchaseOrderItemType"),
    "MaintenanceOrder": (MO, "cds_api_maintenanceorder.MaintenanceOrderType"),
    "Equipment": (EQ, "cds_api_equipment.EquipmentType"),
}
# The fields SAP's error body must have (the OpenAPI `error` schema's required lists).
ERROR_REQUIRED = {"document": {"error"}, "error": {"code", "message"}, "message": {"lang", "value"}}
NEW_ORDER = {
    "CompanyCode": "1010",
    "PurchaseOrderType": "NB",
    "Supplier": "17300002",
    "PurchasingOrganization": "1010",
    "PurchasingGroup": "001",
    "DocumentCurrency": "EUR",
    "to_PurchaseOrderItem": {
        "results": [
            {"Material": "TG11", "Plant": "1010", "OrderQuantity": "4", "PurchaseOrderQuantityUnit": "PC"},
            {
                "PurchaseOrderItemText": "Safety gloves",
                "Plant": "1010",
                "OrderQuantity": "12.5",
                "NetPriceAmount": "3.10",
            },
        ]
    },
}


class Response:
    """What the server answered."""

    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    def json(self):
        """The body as JSON."""
        return json.loads(self.body)

    @property
    def d(self):
        """The OData payload under "d"."""
        return self.json()["d"]


class Server:
    """A stand-in process on a free port."""

    def __init__(self, flavour, *extra, script=SERVER, cwd=None):
        self.flavour = flavour
        self.started = datetime.now(timezone.utc)
        command = [sys.executable, str(script), "--port", "0", "--flavour", flavour, *extra]
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=cwd)
        line = self.process.stdout.readline()
        match = re.fullmatch(rf"sap stand-in \({flavour}\) on http://127\.0\.0\.1:(\d+)\n", line)
        assert match, f"unexpected first line {line!r}"
        self.port = int(match[1])
        self.origin = f"http://127.0.0.1:{self.port}"
        self.ready = datetime.now(timezone.utc)

    def request(self, method, target, headers=None, body=None):
        """One HTTP exchange."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            connection.request(method, target, body=body, headers=headers or {})
            answer = connection.getresponse()
            return Response(answer.status, answer.headers, answer.read())
        finally:
            connection.close()

    def control(self, method, path, body=None):
        """A /_standin/ call's JSON answer (asserting 200)."""
        data = json.dumps(body).encode() if body is not None else None
        response = self.request(method, path, {"Content-Type": "application/json"}, data)
        assert response.status == 200, response.body
        return response.json()

    def violations(self, tenant):
        """The violations recorded for tenant."""
        return self.control("GET", f"/_standin/violations?tenant={quote(tenant)}")["violations"]

    def stop(self):
        """End the process."""
        self.process.terminate()
        self.process.wait(10)


class Client:
    """One tenant talking to the stand-in as a connector would: Basic auth, cookies, CSRF token."""

    def __init__(self, server, tenant, password=PASSWORD):
        self.server, self.tenant = server, tenant
        self.authorization = "Basic " + base64.b64encode(f"{tenant}:{password}".encode()).decode()
        self.cookies, self.token = {}, None

    def target(self, path, params):
        """path with its query (and sap-client=100 on ECC)."""
        params = {**({"sap-client": "100"} if self.server.flavour == "ecc" else {}), **(params or {})}
        return f"{path}?{urlencode(params, quote_via=quote, safe=ODATA_SAFE)}" if params else path

    def send(self, method, path, params=None, body=None, headers=None):
        """A request with this client's credentials, cookies and (for writes) CSRF token."""
        head = {"Authorization": self.authorization, "Accept": "application/json"}
        if self.cookies:
            head["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if method in WRITES and self.token:
            head["X-CSRF-Token"] = self.token
        if body is not None:
            head["Content-Type"] = "application/json"
            body = json.dumps(body).encode()
        head.update(headers or {})
        response = self.server.request(method, self.target(path, params), head, body)
        for cookie in response.headers.get_all("Set-Cookie") or []:
            name, _, value = cookie.split(";")[0].partition("=")
            self.cookies[name] = value
        return response

    def get(self, path, **params):
        """GET with $format=json, as the connector sends it."""
        return self.send("GET", path, {"$format": "json", **params})

    def fetch(self):
        """The CSRF handshake: fetch a token (and the session cookie)."""
        response = self.send("GET", f"{PO}/", headers={"X-CSRF-Token": "Fetch"})
        assert response.status == 200
        self.token = response.headers["x-csrf-token"]
        return response

    def write(self, method, path, body=None, params=None, headers=None):
        """A write after the CSRF handshake."""
        if self.token is None:
            self.fetch()
        return self.send(method, path, params, body, headers)

    def rows(self, path, **params):
        """Every record of a collection, following __next."""
        response = self.get(path, **params)
        rows = []
        while True:
            assert response.status == 200, response.body
            rows += response.d["results"]
            if "__next" not in response.d:
                return rows
            link = urlsplit(response.d["__next"])
            response = self.server.request("GET", f"{link.path}?{link.query}", {"Authorization": self.authorization})


@pytest.fixture(scope="module")
def s4():
    """An S/4HANA stand-in with the default page size."""
    server = Server("s4hana")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def ecc():
    """An ECC stand-in paging by 7."""
    server = Server("ecc", "--page-size", "7")
    yield server
    server.stop()


@pytest.fixture
def tenant():
    """A tenant no other test uses."""
    return f"T{uuid.uuid4().hex[:10]}"


@pytest.fixture
def sap(s4, tenant):
    """A client of the S/4HANA stand-in."""
    return Client(s4, tenant)


def vendor(file):
    """The path of one of SAP's files; skips the test, naming the folder, when SAP's files are absent."""
    if not SPECS.is_dir():
        pytest.skip(
            f"SAP's files are not at {SPECS} (set MILLWRIGHT_VENDOR_SPECS, or put them in ../shared/specs "
            "beside the checkout): nothing is checked against them here"
        )
    return SPECS / file


def edmx(data):
    """What an EDMX document declares, read with nothing but ElementTree: {"sets": {set: type},
    "types": {type: {"keys", "props": {name: attributes}, "navs": {name: (target type, multiplicity,
    {(property here, property there)})}}}, "complex": {type: {name: attributes}}, "functions": {name:
    attributes + "params": {name: attributes}}}, all types qualified by their namespace."""
    root = ET.fromstring(data)
    found = {"sets": {}, "types": {}, "complex": {}, "functions": {}}
    associations = {}
    for schema in root.iter(EDM + "Schema"):
        ns = schema.get("Namespace")
        for association in schema.findall(EDM + "Association"):
            ends = {e.get("Role"): (e.get("Type"), e.get("Multiplicity")) for e in association.findall(EDM + "End")}
            constraint = association.find(EDM + "ReferentialConstraint")
            if constraint is not None:
                principal, dependent = constraint.find(EDM + "Principal"), constraint.find(EDM + "Dependent")
                constraint = (
                    principal.get("Role"),
                    [r.get("Name") for r in principal.findall(EDM + "PropertyRef")],
                    [r.get("Name") for r in dependent.findall(EDM + "PropertyRef")],
                )
            associations[f"{ns}.{association.get('Name')}"] = (ends, constraint)
    for schema in root.iter(EDM + "Schema"):
        ns = schema.get("Namespace")
        for el in schema.findall(EDM + "EntityType"):
            navs = {}
            for nav in el.findall(EDM + "NavigationProperty"):
                ends, constraint = associations[nav.get("Relationship")]
                pairs = set()
                if constraint:
                    principal_role, principal, dependent = constraint
                    here_is_principal = principal_role == nav.get("FromRole")
                    pairs = set(zip(principal, dependent) if here_is_principal else zip(dependent, principal))
                navs[nav.get("Name")] = (*ends[nav.get("ToRole")], pairs)
            found["types"][f"{ns}.{el.get('Name')}"] = {
                "keys": [r.get("Name") for r in el.find(EDM + "Key").findall(EDM + "PropertyRef")],
                "props": {p.get("Name"): p.attrib for p in el.findall(EDM + "Property")},
                "navs": navs,
            }
        for el in schema.findall(EDM + "ComplexType"):
            props = {p.get("Name"): p.attrib for p in el.findall(EDM + "Property")}
            found["complex"][f"{ns}.{el.get('Name')}"] = props
        for container in schema.findall(EDM + "EntityContainer"):
            found["sets"].update((s.get("Name"), s.get("EntityType")) for s in container.findall(EDM + "EntitySet"))
            for function in container.findall(EDM + "FunctionImport"):
                params = {p.get("Name"): p.attrib for p in function.findall(EDM + "Parameter")}
                found["functions"][function.get("Name")] = {**function.attrib, "params": params}
    return found


def facets(attrib, parameter=False):
    """What a property's (or parameter's) EDMX attributes say, with SAP's defaults filled in."""
    decimal = attrib["Type"] == "Edm.Decimal"
    said = {
        "type": attrib["Type"],
        "max length": attrib.get("MaxLength"),
        "precision": attrib.get("Precision") if decimal else None,
        "scale": int(attrib.get("Scale") or 0) if decimal else None,
    }
    if parameter:  # a parameter is mandatory unless it says it is nullable
        return {**said, "mandatory": attrib.get("Nullable") != "true"}
    flags = {flag: attrib.get(SAP + flag) != "false" for flag in ("creatable", "updatable", "filterable", "sortable")}
    return {
        **said,
        **flags,
        "nullable": attrib.get("Nullable") != "false",
        "unit": attrib.get(SAP + "unit"),
        "semantics": attrib.get(SAP + "semantics"),
    }


def served_metadata(server, path):
    """The stand-in's $metadata of one service, read."""
    response = Client(server, "METADATA").get(f"{path}/$metadata")
    assert response.status == 200 and response.headers["Content-Type"].startswith("application/xml"), response.body
    return edmx(response.body)


def served_type(server, entity_set):
    """({property: attributes}, [navigation property]) of an entity set's type in the stand-in's $metadata."""
    path, type_name = SETS[entity_set]
    declared = served_metadata(server, path)
    assert declared["sets"][entity_set] == type_name
    return declared["types"][type_name]["props"], list(declared["types"][type_name]["navs"])


def sample(file):
    """The record of a vendor sample file (SAP sandbox values in a log envelope)."""
    return json.loads(vendor(file).read_text())["message"][0]


def from_wire(value):
    """A datetime from /Date(ms)/ or /Date(ms+0000)/."""
    return datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(
        milliseconds=int(re.fullmatch(r"/Date\((\d+)(\+0000)?\)/", value)[1])
    )


def literal(moment, fraction=3, zone="Z"):
    """A datetimeoffset literal."""
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if fraction:
        text += f".{moment.microsecond:06d}"[: fraction + 1].ljust(fraction + 1, "0")
    return f"datetimeoffset'{text}{zone}'"


def check_edm(name, value, attrib):
    """Assert value is what SAP sends for a property with these EDMX attributes."""
    edm, scale = attrib["Type"], int(attrib.get("Scale") or 0)
    if edm in ("Edm.DateTime", "Edm.DateTimeOffset") and value is None:
        assert attrib.get("Nullable") != "false", name
        return
    if edm == "Edm.String":
        assert isinstance(value, str) and len(value) <= int(attrib.get("MaxLength") or 10**6), (name, value)
    elif edm == "Edm.Boolean":
        assert isinstance(value, bool), (name, value)
    elif edm == "Edm.DateTime":
        assert re.fullmatch(r"/Date\(-?\d+\)/", value), (name, value)
    elif edm == "Edm.DateTimeOffset":
        assert re.fullmatch(r"/Date\(-?\d+[+-]\d{4}\)/", value), (name, value)
    elif edm == "Edm.Time":
        assert re.fullmatch(r"PT\d\dH\d\dM\d\dS", value), (name, value)
    elif edm == "Edm.Decimal":
        match = re.fullmatch(r"-?\d+(?:\.(\d+))?", value)
        assert match and len(match[1] or "") <= scale, (name, value)
    elif edm == "Edm.Int64":
        assert isinstance(value, str) and value.isdigit(), (name, value)
    else:
        assert isinstance(value, int) and not isinstance(value, bool), (name, value)


def check_openapi(name, value, schema):
    """Assert value fits a property schema of the OpenAPI export (SAP's hints for the Edm type)."""
    if value is None:
        assert schema.get("nullable"), name
        return
    example = str(schema.get("example", ""))
    if schema["type"] == "boolean":
        assert isinstance(value, bool), (name, value)
        return
    assert isinstance(value, str), (name, value)
    if schema.get("format") == "decimal":
        places = max(0, -int(f"{schema['multipleOf']:e}".split("e")[1]))
        match = re.fullmatch(r"-?\d+(?:\.(\d+))?", value)
        assert match and len(match[1] or "") <= places, (name, value)
    elif example.startswith("/Date("):
        assert re.fullmatch(r"/Date\(-?\d+([+-]\d{4})?\)/", value), (name, value)
    elif example.startswith("PT"):
        assert re.fullmatch(r"PT\d\dH\d\dM\d\dS", value), (name, value)
    else:
        assert len(value) <= schema.get("maxLength", 10**6), (name, value)


def kind(value):
    """The kind of a JSON value as the samples show it (their dates partly rewritten to ISO)."""
    if isinstance(value, dict):
        return "navigation" if "__deferred" in value or "results" in value else "object"
    if not isinstance(value, str):
        return type(value).__name__
    if re.fullmatch(r"/Date\(-?\d+\)/", value):
        return "Edm.DateTime"
    if re.fullmatch(r"/Date\(-?\d+[+-]\d{4}\)/", value):
        return "Edm.DateTimeOffset"
    if re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)", value):
        return "date"
    if re.fullmatch(r"PT\d\dH\d\dM\d\dS", value):
        return "time"
    if value.startswith("https://") and "/sap/opu/odata/sap/" in value:
        return "navigation"
    return "string"


def sap_error(response, status, code, target=None):
    """Assert an SAP error body (ERROR_REQUIRED, SAP's `error` schema, plus Gateway's innererror); answer error."""
    assert response.status == status, response.body
    assert response.headers["Content-Type"].startswith("application/json")
    document = response.json()
    assert ERROR_REQUIRED["document"] <= set(document)
    assert ERROR_REQUIRED["error"] <= set(document["error"])
    assert ERROR_REQUIRED["message"] <= set(document["error"]["message"])
    error = document["error"]
    assert error["code"] == code and error["message"]["lang"] == "en" and error["message"]["value"]
    inner = error["innererror"]
    assert set(inner["application"]) == {"component_id", "service_namespace", "service_id", "service_version"}
    assert re.fullmatch(r"[0-9A-F]{32}", inner["transactionid"])
    assert re.fullmatch(r"\d{14}\.\d{7}", inner["timestamp"])
    assert "1797736" in inner["Error_Resolution"]["SAP_Note"] and inner["Error_Resolution"]["SAP_Transaction"]
    keys = {"code", "message", "propertyref", "severity", "target", "transition"}
    assert inner["errordetails"] and all(set(detail) == keys for detail in inner["errordetails"])
    if target is not None:
        assert (code, target) in [(d["code"], d["target"]) for d in inner["errordetails"]]
    return error


def refused(server, client, response, words):
    """Assert a 400 spec violation, recorded for the client's tenant with words in its reason."""
    sap_error(response, 400, "/IWBEP/CM_MGW_RT/004")
    reasons = [v["reason"] for v in server.violations(client.tenant)]
    assert any(all(w in reason for w in words) for reason in reasons), reasons


# --- $metadata ---------------------------------------------------------------------------------------


def test_every_service_serves_its_metadata(s4, sap):
    namespaces = {PO: "API_PURCHASEORDER_PROCESS_SRV", MO: "cds_api_maintenanceorder", EQ: "cds_api_equipment"}
    for path, namespace in namespaces.items():
        declared = served_metadata(s4, path)
        assert {type_name.rsplit(".", 1)[0] for type_name in declared["types"]} == {namespace}
        assert sap.get(f"{path}/").d["EntitySets"] == list(declared["sets"])
        for type_name in declared["sets"].values():
            entity_type = declared["types"][type_name]
            assert entity_type["keys"] and set(entity_type["keys"]) <= set(entity_type["props"])
            assert all(entity_type["props"][key].get("Nullable") == "false" for key in entity_type["keys"])
            for target, _, pairs in entity_type["navs"].values():
                assert pairs and all(here in entity_type["props"] for here, _ in pairs)
                assert all(there in declared["types"][target]["props"] for _, there in pairs)
    functions = served_metadata(s4, MO)["functions"]
    assert set(functions) == {
        "ReleaseMaintenanceOrder",
        "SetMaintOrdToTechCompleted",
        "ResetMaintOrdStsTechCompleted",
        "SetMaintOrderStatusToClosed",
    }
    for function in functions.values():
        assert function[M + "HttpMethod"] == "POST"
        assert function["params"]["MaintenanceOrder"].get("Nullable") == "false", "the order is mandatory"


@pytest.mark.parametrize("path, file", [(PO, PO_EDMX), (MO, MO_EDMX)], ids=["purchase-order", "maintenance-order"])
def test_the_model_is_sap_s_edmx(s4, path, file):
    theirs = edmx(vendor(file).read_bytes())
    ours = served_metadata(s4, path)
    for entity_set, type_name in ours["sets"].items():
        assert theirs["sets"].get(entity_set) == type_name, f"SAP's {file} has no set {entity_set} of {type_name}"
        mine, sap_type = ours["types"][type_name], theirs["types"][type_name]
        assert mine["keys"] == sap_type["keys"], type_name
        for name, attrib in mine["props"].items():
            assert name in sap_type["props"], f"SAP's {type_name} has no property {name}"
            assert facets(attrib) == facets(sap_type["props"][name]), f"{type_name}.{name}"
        assert list(mine["props"]) == [name for name in sap_type["props"] if name in mine["props"]], "in SAP's order"
        for name, (target, many, pairs) in mine["navs"].items():
            assert sap_type["navs"].get(name) == (target, many, pairs), f"{type_name}/{name}"
    for type_name, props in ours["complex"].items():
        assert {n: facets(a) for n, a in props.items()} == {
            n: facets(a) for n, a in theirs["complex"][type_name].items() if n in props
        }, type_name
    for name, function in ours["functions"].items():
        assert name in theirs["functions"], f"SAP's {file} has no function import {name}"
        sap_function = theirs["functions"][name]
        for attribute in ("ReturnType", M + "HttpMethod", SAP + "action-for"):
            assert function.get(attribute) == sap_function.get(attribute), (name, attribute)
        assert {n: facets(a, parameter=True) for n, a in function["params"].items()} == {
            n: facets(a, parameter=True) for n, a in sap_function["params"].items()
        }, name


def openapi_facets(name, schema, create, update, sortable):
    """What SAP's OpenAPI export says about a property, in the terms of facets(): it writes each Edm
    type as a JSON type plus hints (format "decimal" with multipleOf and maximum for Edm.Decimal, a
    `/Date(…)/` example for dates, its time stamps titled "Time Stamp", a `PT…` example for Edm.Time),
    and says what is creatable and updatable by the -create and -update schemas, what is sortable by
    the $orderby values. It says nothing of filterability, units or semantics."""
    example, words = str(schema.get("example", "")), f"{schema.get('title', '')} {schema.get('description', '')}"
    said = {"type": "Edm.String", "max length": None, "precision": None, "scale": None}
    if schema.get("type") == "boolean":
        said["type"] = "Edm.Boolean"
    elif schema.get("format") == "decimal":
        digits = f"{Decimal(str(schema['maximum'])):f}".replace(".", "")
        scale = max(0, -Decimal(str(schema["multipleOf"])).as_tuple().exponent)
        said.update({"type": "Edm.Decimal", "precision": str(len(digits)), "scale": scale})
    elif example.startswith("/Date("):
        said["type"] = "Edm.DateTimeOffset" if "Time Stamp" in words else "Edm.DateTime"
    elif example.startswith("PT"):
        said["type"] = "Edm.Time"
    else:
        said["max length"] = str(schema["maxLength"])
    return {
        **said,
        "creatable": name in create,
        "updatable": name in update,
        "sortable": name in sortable,
        "nullable": schema.get("nullable", False),
    }


def test_the_equipment_model_is_sap_s_openapi_export(s4):
    document = json.loads(vendor(EQ_OPENAPI).read_text())
    schemas = document["components"]["schemas"]
    ours = served_metadata(s4, EQ)
    for entity_set, type_name in ours["sets"].items():
        single = [p for p in document["paths"] if re.fullmatch(rf"/{entity_set}\([^/]+\)", p)]
        assert len(single) == 1, f"SAP's export has no entity set {entity_set}"
        answer = document["paths"][single[0]]["get"]["responses"]["200"]["content"]["application/json"]
        assert answer["schema"]["properties"]["d"]["$ref"] == f"#/components/schemas/{type_name}"
        mine = ours["types"][type_name]
        assert mine["keys"] == re.findall(r"(\w+)=\w*'\{", single[0]), type_name
        orderby = [p for p in document["paths"][f"/{entity_set}"]["get"]["parameters"] if p.get("name") == "$orderby"]
        sortable = set(orderby[0]["schema"]["items"]["enum"])
        create = schemas[f"{type_name}-create"]["properties"]
        update = schemas[f"{type_name}-update"]["properties"]
        theirs = schemas[type_name]["properties"]
        for name, attrib in mine["props"].items():
            assert name in theirs and "type" in theirs[name], f"SAP's {type_name} has no property {name}"
            said = facets(attrib)
            del said["filterable"], said["unit"], said["semantics"]  # the export does not say
            assert said == openapi_facets(name, theirs[name], create, update, sortable), f"{type_name}.{name}"
        assert list(mine["props"]) == [name for name in theirs if name in mine["props"]], "in SAP's order"
        assert not mine["navs"], "the stand-in follows no navigation of the equipment service"


def test_ecc_metadata_lacks_the_purchase_order_change_time(s4, ecc):
    s4_model, ecc_model = served_metadata(s4, PO), served_metadata(ecc, PO)
    header = "API_PURCHASEORDER_PROCESS_SRV.A_PurchaseOrderType"
    assert "LastChangeDateTime" in s4_model["types"][header]["props"]
    del s4_model["types"][header]["props"]["LastChangeDateTime"]
    assert ecc_model == s4_model
    assert served_metadata(ecc, MO) == served_metadata(s4, MO), "maintenance orders keep it on ECC"


def test_the_error_body_is_sap_s_error_schema(sap):
    schema = json.loads(vendor(EQ_OPENAPI).read_text())["components"]["schemas"]["error"]
    error = schema["properties"]["error"]
    assert set(schema["required"]) == ERROR_REQUIRED["document"]
    assert set(error["required"]) == ERROR_REQUIRED["error"]
    assert set(error["properties"]["message"]["required"]) == ERROR_REQUIRED["message"]
    document = sap.get(f"{PO}/A_PurchaseOrder('4599999999')").json()
    assert set(document) == set(schema["properties"])
    assert set(document["error"]) <= set(error["properties"])
    strings = [name for name, prop in error["properties"].items() if prop.get("type") == "string"]
    assert all(isinstance(document["error"][name], str) for name in strings)
    assert isinstance(document["error"]["innererror"], dict)


def test_the_stand_in_starts_from_its_own_folder_alone(tmp_path):
    folder = tmp_path / "standins"
    shutil.copytree(SERVER.parent, folder, ignore=shutil.ignore_patterns("__pycache__"))
    server = Server("ecc", script=folder / "sap.py", cwd=tmp_path)
    try:
        client = Client(server, "T-ALONE")
        assert len(client.rows(f"{PO}/A_PurchaseOrder")) == 30
        assert edmx(client.get(f"{EQ}/$metadata").body)["sets"] == {"Equipment": SETS["Equipment"][1]}
    finally:
        server.stop()


# --- what records look like ------------------------------------------------------------------------


@pytest.mark.parametrize("entity_set", SETS)
def test_records_carry_every_declared_property_in_its_edm_form(sap, entity_set):
    path, type_name = SETS[entity_set]
    props, navs = served_type(sap.server, entity_set)
    rows = sap.rows(f"{path}/{entity_set}")
    assert rows
    for row in rows:
        assert list(row) == ["__metadata", *props, *navs]
        assert row["__metadata"]["type"] == type_name
        assert row["__metadata"]["uri"].startswith(f"{sap.server.origin}{path}/{entity_set}(")
        for name in props:
            check_edm(name, row[name], props[name])
        for name in navs:
            assert row[name] == {"__deferred": {"uri": f"{row['__metadata']['uri']}/{name}"}}


def test_equipment_records_follow_the_openapi_schema(sap):
    schema = json.loads(vendor(EQ_OPENAPI).read_text())["components"]["schemas"]["cds_api_equipment.EquipmentType"]
    rows = sap.rows(f"{EQ}/Equipment")
    assert len(rows) == 15
    for row in rows:
        assert row["__metadata"]["type"] == "cds_api_equipment.EquipmentType"
        for name, value in row.items():
            if name != "__metadata":
                assert name in schema["properties"], f"SAP's equipment has no {name}"
                check_openapi(name, value, schema["properties"][name])


@pytest.mark.parametrize(
    "file, path, keys",
    [
        (
            "purchase-order/purchase-order-header-01-sample.json",
            f"{PO}/A_PurchaseOrder('4500000002')",
            ["PurchaseOrder"],
        ),
        (
            "purchase-order/purchase-order-header-02-item-sample.json",
            f"{PO}/A_PurchaseOrderItem(PurchaseOrder='4500000002',PurchaseOrderItem='10')",
            ["PurchaseOrder", "PurchaseOrderItem"],
        ),
        (
            "purchase-order/purchase-order-item-01-sample.json",
            f"{PO}/A_PurchaseOrderItem(PurchaseOrder='4500000002',PurchaseOrderItem='20')",
            ["PurchaseOrder", "PurchaseOrderItem"],
        ),
        (
            "maintenance-order/maintenance-order-header-01-sample.json",
            f"{MO}/MaintenanceOrder('4000001')",
            ["MaintenanceOrder"],
        ),
        (
            "equipment/equipment-master-equipment-01-sample.json",
            f"{EQ}/Equipment(Equipment='10000003',ValidityEndDate=datetime'9999-12-31T00:00:00')",
            ["Equipment", "ValidityEndDate"],
        ),
    ],
)
def test_records_match_the_vendor_samples(sap, file, path, keys):
    theirs = sample(file)
    ours = sap.get(path).d
    shared = set(theirs) & set(ours)
    assert set(keys) <= shared and len(shared) >= 10, f"the record and SAP's sample share only {sorted(shared)}"
    for name in shared:
        value = theirs[name]
        if value == "":
            continue  # empty in SAP's sandbox: says nothing about the kind
        kind_theirs, kind_ours = kind(value), kind(ours[name])
        assert kind_ours == kind_theirs or (
            kind_theirs == "date" and kind_ours in ("Edm.DateTime", "Edm.DateTimeOffset")
        ), (name, value, ours[name])
        if kind_theirs == "navigation":
            segment = re.search(r"/sap/opu/odata/sap/\w+/\w+\(", value)[0]
            assert segment in ours[name]["__deferred"]["uri"] and value.endswith(f"/{name}")


# --- reading ---------------------------------------------------------------------------------------


def test_seed_data(s4, sap):
    orders = sap.rows(f"{PO}/A_PurchaseOrder")
    assert [o["PurchaseOrder"] for o in orders] == [str(4500000001 + i) for i in range(30)]
    statuses = [o["PurchasingProcessingStatus"] for o in orders]
    assert all(statuses.count(s) >= 3 for s in ("02", "03", "05", "08")) and set(statuses) == {"02", "03", "05", "08"}
    assert orders[4]["PurchasingProcessingStatus"] == "05"
    assert sum(o["PurchasingDocumentDeletionCode"] == "L" for o in orders) == 2
    assert {
        (
            o["CompanyCode"],
            o["PurchaseOrderType"],
            o["PurchasingOrganization"],
            o["PurchasingGroup"],
            o["DocumentCurrency"],
        )
        for o in orders
    } == {("1010", "NB", "1010", "001", "EUR")}
    assert {o["Supplier"] for o in orders} == {f"1730000{n}" for n in range(1, 7)}
    changed = [from_wire(o["LastChangeDateTime"]) for o in orders]
    assert len(set(changed)) == 30 and any(c.microsecond for c in changed)
    assert all(s4.started - timedelta(days=60) <= c <= s4.ready - timedelta(days=1) for c in changed)
    assert changed != sorted(changed), "change times should not simply follow the numbers"
    items = sap.rows(f"{PO}/A_PurchaseOrderItem")
    per_order = [sum(i["PurchaseOrder"] == o["PurchaseOrder"] for i in items) for o in orders]
    assert set(per_order) == {1, 2, 3}
    assert {i["Material"] for i in items} == {"TG11", "TG12", "TG13", "RM120"} and {i["Plant"] for i in items} == {
        "1010",
        "1710",
    }
    maintenance = sap.rows(f"{MO}/MaintenanceOrder")
    assert [m["MaintenanceOrder"] for m in maintenance] == [str(4000000 + i) for i in range(20)]
    assert {m["SystemStatusText"].split()[0] for m in maintenance} == {"CRTD", "REL", "TECO", "CLSD"}
    assert {m["MaintPriority"] for m in maintenance} == {"1", "2", "3", "4"} and {
        m["MaintenanceOrderType"] for m in maintenance
    } == {"PM01"}
    equipment = {e["Equipment"] for e in sap.rows(f"{EQ}/Equipment")}
    on_equipment = {m["Equipment"] for m in maintenance} - {""}
    assert on_equipment and on_equipment <= equipment and "" in {m["Equipment"] for m in maintenance}
    marked = sap.rows(f"{EQ}/Equipment", **{"$filter": "EquipmentIsMarkedForDeletion eq true"})
    assert len(marked) == 2


def test_single_entities_and_navigation(sap):
    order = sap.get(f"{PO}/A_PurchaseOrder('4500000003')").d
    assert order["PurchaseOrder"] == "4500000003"
    items = sap.get(f"{PO}/A_PurchaseOrder('4500000003')/to_PurchaseOrderItem").d["results"]
    assert items and {i["PurchaseOrder"] for i in items} == {"4500000003"}
    assert [i["PurchaseOrderItem"] for i in items] == [str(10 * (n + 1)) for n in range(len(items))]
    item = sap.get(f"{PO}/A_PurchaseOrderItem(PurchaseOrder='4500000003',PurchaseOrderItem='10')").d
    assert item == items[0]
    expanded = sap.get(f"{PO}/A_PurchaseOrder('4500000003')", **{"$expand": "to_PurchaseOrderItem"}).d
    assert expanded["to_PurchaseOrderItem"] == {"results": items}
    narrow = sap.get(
        f"{PO}/A_PurchaseOrder('4500000003')",
        **{"$expand": "to_PurchaseOrderItem", "$select": "PurchaseOrder,to_PurchaseOrderItem/Plant"},
    ).d
    assert set(narrow) == {"__metadata", "PurchaseOrder", "to_PurchaseOrderItem"}
    assert [set(i) for i in narrow["to_PurchaseOrderItem"]["results"]] == [{"__metadata", "Plant"}] * len(items)
    piece = sap.get(f"{EQ}/Equipment(Equipment='10000001',ValidityEndDate=datetime'9999-12-31T00:00:00')").d
    assert piece["Equipment"] == "10000001" and piece["ValidityEndDate"] == "/Date(253402214400000)/"
    assert piece["__metadata"]["uri"].endswith(
        "Equipment(Equipment='10000001',ValidityEndDate=datetime'9999-12-31T00%3A00%3A00')"
    )
    assert sap.get(f"{MO}/MaintenanceOrder('4000005')").d["MaintenanceOrder"] == "4000005"
    count = sap.send("GET", f"{PO}/A_PurchaseOrder/$count", {"$filter": "PurchasingProcessingStatus eq '05'"})
    assert count.status == 200 and count.body == b"6"


def test_select_limits_properties(sap):
    rows = sap.get(f"{PO}/A_PurchaseOrder", **{"$select": "PurchaseOrder,Supplier", "$top": "3"}).d["results"]
    assert [set(r) for r in rows] == [{"__metadata", "PurchaseOrder", "Supplier"}] * 3


def test_orderby(sap):
    rows = sap.rows(f"{PO}/A_PurchaseOrder", **{"$orderby": "LastChangeDateTime desc", "$select": "LastChangeDateTime"})
    stamps = [from_wire(r["LastChangeDateTime"]) for r in rows]
    assert stamps == sorted(stamps, reverse=True) and len(stamps) == 30
    rows = sap.rows(
        f"{PO}/A_PurchaseOrder", **{"$orderby": "Supplier,PurchaseOrder desc", "$select": "Supplier,PurchaseOrder"}
    )
    pairs = [(r["Supplier"], r["PurchaseOrder"]) for r in rows]
    assert pairs == sorted(pairs, key=lambda p: (p[0], -int(p[1])))


def test_server_driven_paging(sap):
    first = sap.get(f"{PO}/A_PurchaseOrder", **{"$inlinecount": "allpages", "$select": "PurchaseOrder"})
    assert first.d["__count"] == "30" and len(first.d["results"]) == 20
    link = first.d["__next"]
    assert (
        link.startswith(f"{sap.server.origin}{PO}/A_PurchaseOrder?")
        and "$skiptoken=" in link
        and "$select=PurchaseOrder" in link
    )
    second = sap.server.request("GET", link[len(sap.server.origin) :], {"Authorization": sap.authorization})
    assert len(second.json()["d"]["results"]) == 10 and "__next" not in second.json()["d"]
    numbers = [r["PurchaseOrder"] for r in first.d["results"] + second.json()["d"]["results"]]
    assert numbers == [str(4500000001 + i) for i in range(30)]
    within_top = sap.get(f"{PO}/A_PurchaseOrder", **{"$top": "25", "$skip": "2"})
    assert len(within_top.d["results"]) == 20 and "$top=5" in within_top.d["__next"]
    rest = sap.rows(f"{PO}/A_PurchaseOrder", **{"$top": "25", "$skip": "2", "$select": "PurchaseOrder"})
    assert [r["PurchaseOrder"] for r in rest] == [str(4500000003 + i) for i in range(25)]
    assert "__next" not in sap.get(f"{PO}/A_PurchaseOrder", **{"$top": "20"}).d
    log = sap.server.control("GET", f"/_standin/requests?tenant={sap.tenant}")["requests"]
    assert [
        (e["query"]["$top"] if "$top" in e["query"] else None, e["returned"]) for e in log if "$skiptoken" in e["query"]
    ] == [(None, 10), ("5", 5)]


def test_paging_keeps_the_filter_and_honours_the_page_size(ecc, tenant):
    client = Client(ecc, tenant)
    first = client.get(f"{PO}/A_PurchaseOrder", **{"$filter": "PurchasingProcessingStatus eq '02'"})
    assert len(first.d["results"]) == 7 and "$filter=" in first.d["__next"] and "sap-client=100" in first.d["__next"]
    rows = client.rows(f"{PO}/A_PurchaseOrder", **{"$filter": "PurchasingProcessingStatus eq '02'"})
    assert len(rows) == 12 and {r["PurchasingProcessingStatus"] for r in rows} == {"02"}


def test_filter_on_last_change(sap):
    rows = sap.rows(
        f"{PO}/A_PurchaseOrder", **{"$select": "PurchaseOrder,LastChangeDateTime,PurchasingProcessingStatus"}
    )
    stamps = {r["PurchaseOrder"]: from_wire(r["LastChangeDateTime"]) for r in rows}
    threshold = sorted(stamps.values())[20]
    newer = {n for n, s in stamps.items() if s > threshold}
    assert len(newer) == 9
    for text in (
        literal(threshold),
        literal(threshold, 7),
        literal(threshold, 3, "+00:00"),
        literal(threshold + timedelta(hours=2), 3, "+02:00"),
    ):
        found = sap.rows(f"{PO}/A_PurchaseOrder", **{"$filter": f"LastChangeDateTime gt {text}"})
        assert {r["PurchaseOrder"] for r in found} == newer, text
    found = sap.rows(f"{PO}/A_PurchaseOrder", **{"$filter": f"LastChangeDateTime ge {literal(threshold)}"})
    assert {r["PurchaseOrder"] for r in found} == newer | {n for n, s in stamps.items() if s == threshold}
    status = {r["PurchaseOrder"]: r["PurchasingProcessingStatus"] for r in rows}
    expression = (
        f"(LastChangeDateTime gt {literal(threshold)} and PurchasingProcessingStatus eq '02')"
        " or PurchaseOrder eq '4500000001'"
    )
    found = sap.rows(f"{PO}/A_PurchaseOrder", **{"$filter": expression})
    assert {r["PurchaseOrder"] for r in found} == {n for n in newer if status[n] == "02"} | {"4500000001"}
    found = sap.rows(f"{PO}/A_PurchaseOrder", **{"$filter": "not (PurchasingProcessingStatus ne '05')"})
    assert len(found) == 6
    day = sap.rows(f"{PO}/A_PurchaseOrder", **{"$filter": f"CreationDate le datetime'{threshold:%Y-%m-%d}T00:00:00'"})
    assert day and all(from_wire(r["CreationDate"]) <= threshold for r in day)


# --- what the description forbids ------------------------------------------------------------------


@pytest.mark.parametrize(
    "option, value", [("$select", "PurchaseOrder,Colour"), ("$filter", "Colour eq 'red'"), ("$orderby", "Colour desc")]
)
def test_undeclared_properties_are_refused(s4, sap, option, value):
    refused(s4, sap, sap.get(f"{PO}/A_PurchaseOrder", **{option: value}), ["Colour", "invalid"])
    assert s4.violations(sap.tenant)[-1]["path"] == f"{PO}/A_PurchaseOrder"


def test_non_filterable_and_mistyped_filters_are_refused(s4, sap):
    refused(
        s4,
        sap,
        sap.get(f"{MO}/MaintenanceOrder", **{"$filter": "SystemStatusText eq 'REL'"}),
        ["SystemStatusText", "not filterable"],
    )
    refused(
        s4,
        sap,
        sap.get(f"{MO}/MaintenanceOrder", **{"$orderby": "SystemStatusText"}),
        ["SystemStatusText", "not sortable"],
    )
    refused(
        s4,
        sap,
        sap.get(f"{PO}/A_PurchaseOrder", **{"$filter": "LastChangeDateTime gt datetime'2026-01-01T00:00:00'"}),
        ["LastChangeDateTime"],
    )
    refused(s4, sap, sap.get(f"{PO}/A_PurchaseOrder", **{"$filter": "Supplier eq 17300001"}), ["Supplier"])
    fine = sap.rows(f"{MO}/MaintenanceOrder", **{"$filter": "MaintPriority eq '1'"})
    assert len(fine) == 5 and {m["MaintPriority"] for m in fine} == {"1"}
    assert len(s4.violations(sap.tenant)) == 4


def test_writing_read_only_properties_is_refused(s4, sap):
    refused(
        s4,
        sap,
        sap.write("POST", f"{PO}/A_PurchaseOrder", {**NEW_ORDER, "PurchasingProcessingStatus": "05"}),
        ["PurchasingProcessingStatus", "creatable"],
    )
    refused(
        s4,
        sap,
        sap.write("PATCH", f"{PO}/A_PurchaseOrder('4500000001')", {"CreationDate": "/Date(1735689600000)/"}),
        ["CreationDate", "updatable"],
    )
    refused(
        s4,
        sap,
        sap.write("PATCH", f"{MO}/MaintenanceOrder('4000001')", {"MaintenanceOrderType": "PM02"}),
        ["MaintenanceOrderType", "updatable"],
    )
    refused(
        s4, sap, sap.write("PATCH", f"{PO}/A_PurchaseOrder('4500000001')", {"Colour": "red"}), ["Colour", "invalid"]
    )
    refused(
        s4,
        sap,
        sap.write("PATCH", f"{PO}/A_PurchaseOrder('4500000001')", {"CashDiscount1Days": 3}),
        ["CashDiscount1Days"],
    )
    assert sap.get(f"{PO}/A_PurchaseOrder", **{"$top": "1"}).status == 200
    assert len(sap.rows(f"{PO}/A_PurchaseOrder")) == 30, "a refused create must not create"


# --- auth, CSRF, ECC client ------------------------------------------------------------------------


def test_basic_auth(s4, tenant):
    for client in (Client(s4, tenant, "wrong"), None):
        response = client.get(f"{PO}/A_PurchaseOrder") if client else s4.request("GET", f"{PO}/A_PurchaseOrder")
        assert response.status == 401
        assert response.headers["WWW-Authenticate"] == 'Basic realm="SAP NetWeaver Application Server"'
        assert response.headers["Content-Type"].startswith("text/html") and b"<html>" in response.body
    assert Client(s4, tenant).get(f"{PO}/A_PurchaseOrder").status == 200


def test_a_changed_password_refuses_the_old_one(s4, tenant):
    s4.control("POST", "/_standin/password", {"tenant": tenant, "password": "New-Password-2"})
    assert Client(s4, tenant).get(f"{PO}/A_PurchaseOrder").status == 401
    assert Client(s4, tenant, "New-Password-2").get(f"{PO}/A_PurchaseOrder").status == 200
    assert Client(s4, "someone-else").get(f"{PO}/A_PurchaseOrder").status == 200, "only that user's password"
    form = urlencode({"grant_type": "client_credentials", "client_id": tenant, "client_secret": PASSWORD})
    assert s4.request("POST", "/oauth/token", {"Content-Type": "application/x-www-form-urlencoded"}, form).status == 401


def test_oauth_client_credentials(s4, tenant):
    form = urlencode({"grant_type": "client_credentials", "client_id": tenant, "client_secret": PASSWORD})
    issued = s4.request("POST", "/oauth/token", {"Content-Type": "application/x-www-form-urlencoded"}, form)
    assert issued.status == 200
    token = issued.json()
    assert token["token_type"] == "bearer" and token["expires_in"] == 3600 and token["access_token"]
    basic = "Basic " + base64.b64encode(f"{tenant}:{PASSWORD}".encode()).decode()
    again = s4.request(
        "POST",
        "/oauth/token",
        {"Authorization": basic, "Content-Type": "application/x-www-form-urlencoded"},
        "grant_type=client_credentials",
    )
    assert again.status == 200
    read = s4.request("GET", f"{PO}/A_PurchaseOrder?$top=1", {"Authorization": f"Bearer {token['access_token']}"})
    assert read.status == 200
    bad = urlencode({"grant_type": "client_credentials", "client_id": tenant, "client_secret": "nope"})
    assert s4.request("POST", "/oauth/token", {"Content-Type": "application/x-www-form-urlencoded"}, bad).status == 401
    assert s4.request("GET", f"{PO}/A_PurchaseOrder", {"Authorization": "Bearer forged"}).status == 401
    log = s4.control("GET", f"/_standin/requests?tenant={tenant}")["requests"]
    assert [(e["method"], e["path"], e["status"]) for e in log] == [
        ("POST", "/oauth/token", 200),
        ("POST", "/oauth/token", 200),
        ("GET", f"{PO}/A_PurchaseOrder", 200),
        ("POST", "/oauth/token", 401),
    ]
    assert token["access_token"] not in json.dumps(log) and PASSWORD not in json.dumps(log)


def test_ecc_needs_client_100(ecc, tenant):
    basic = {"Authorization": "Basic " + base64.b64encode(f"{tenant}:{PASSWORD}".encode()).decode()}
    for query, text in (
        ("", b"Client is not available in this system"),
        ("?sap-client=200", b"Client 200 is not available in this system"),
    ):
        response = ecc.request("GET", f"{PO}/A_PurchaseOrder{query}", basic)
        assert response.status == 401 and text in response.body
    assert ecc.request("GET", f"{PO}/A_PurchaseOrder?sap-client=100", basic).status == 200


def test_csrf_handshake(s4, sap, tenant):
    path = f"{PO}/A_PurchaseOrder('4500000001')"
    change = {"CorrespncExternalReference": "REF-1"}

    def blocked(response):
        """Assert Gateway's CSRF refusal."""
        assert response.status == 403 and response.headers["x-csrf-token"] == "Required"
        assert response.body == b"CSRF token validation failed"

    blocked(sap.send("PATCH", path, body=change))
    fetched = sap.fetch()
    cookies = fetched.headers.get_all("Set-Cookie")
    assert any(re.fullmatch(r"SAP_SESSIONID_MWD_100=[^;]+; path=/; HttpOnly", c) for c in cookies)
    assert "sap-usercontext=sap-client=100; path=/" in cookies
    assert sap.fetch().headers["x-csrf-token"] == sap.token, "the session keeps its token"
    head = sap.send("HEAD", f"{MO}/", headers={"X-CSRF-Token": "Fetch"})
    assert head.status == 200 and head.body == b"" and head.headers["x-csrf-token"] == sap.token
    blocked(sap.send("PATCH", path, body=change, headers={"Cookie": ""}))
    blocked(sap.send("PATCH", path, body=change, headers={"X-CSRF-Token": "forged"}))
    other = Client(s4, tenant + "x")
    other.fetch()
    blocked(sap.send("PATCH", path, body=change, headers={"X-CSRF-Token": other.token}))
    blocked(
        sap.send(
            "POST", f"{MO}/ReleaseMaintenanceOrder", {"MaintenanceOrder": "'4000000'"}, headers={"X-CSRF-Token": ""}
        )
    )
    blocked(sap.send("POST", f"{PO}/$batch", headers={"X-CSRF-Token": ""}))
    assert sap.send("PATCH", path, body=change).status == 204
    assert sap.get(path).d["CorrespncExternalReference"] == "REF-1"


# --- writes ----------------------------------------------------------------------------------------


def test_create_purchase_order(s4, sap):
    before = datetime.now(timezone.utc) - timedelta(seconds=1)
    created = sap.write("POST", f"{PO}/A_PurchaseOrder", NEW_ORDER)
    assert created.status == 201, created.body
    order = created.d
    assert order["PurchaseOrder"] == "4500000031"
    assert created.headers["Location"] == f"{s4.origin}{PO}/A_PurchaseOrder('4500000031')" == order["__metadata"]["uri"]
    assert order["PurchasingProcessingStatus"] == "02" and order["CreatedByUser"] == sap.tenant.upper()
    days = {
        moment.replace(hour=0, minute=0, second=0, microsecond=0) for moment in (before, datetime.now(timezone.utc))
    }
    assert from_wire(order["CreationDate"]) in days
    assert before <= from_wire(order["LastChangeDateTime"]) <= datetime.now(timezone.utc)
    items = order["to_PurchaseOrderItem"]["results"]
    assert [(i["PurchaseOrder"], i["PurchaseOrderItem"], i["OrderQuantity"]) for i in items] == [
        ("4500000031", "10", "4"),
        ("4500000031", "20", "12.500"),
    ]
    assert items[0]["PurchaseOrderItemText"] and items[1]["PurchaseOrderItemText"] == "Safety gloves"
    assert sap.get(f"{PO}/A_PurchaseOrder('4500000031')/to_PurchaseOrderItem").d["results"] == items
    bare = sap.write(
        "POST",
        f"{PO}/A_PurchaseOrder",
        {
            **NEW_ORDER,
            "to_PurchaseOrderItem": [
                {"Material": "RM120", "Plant": "1710", "OrderQuantity": "2", "PurchaseOrderItem": "30"}
            ],
        },
    )
    assert bare.status == 201 and bare.d["PurchaseOrder"] == "4500000032"
    assert [i["PurchaseOrderItem"] for i in bare.d["to_PurchaseOrderItem"]["results"]] == ["30"]
    assert s4.violations(sap.tenant) == []


@pytest.mark.parametrize(
    "change, code, target",
    [
        ({"Supplier": "17399999"}, "ME/083", "Supplier"),
        ({"Supplier": "17300009"}, "ME/042", "Supplier"),
        ({"CompanyCode": ""}, "MEPO/002", "CompanyCode"),
        ({"PurchasingGroup": None}, "MEPO/002", "PurchasingGroup"),
        ({"to_PurchaseOrderItem": {"results": [{"Material": "TG11", "OrderQuantity": "1"}]}}, "MEPO/002", "Plant"),
        (
            {"to_PurchaseOrderItem": {"results": [{"Material": "TG11", "Plant": "1010", "OrderQuantity": "0"}]}},
            "MEPO/002",
            "OrderQuantity",
        ),
        ({"to_PurchaseOrderItem": {"results": [{"Plant": "1010", "OrderQuantity": "1"}]}}, "MEPO/002", "Material"),
        (
            {"to_PurchaseOrderItem": {"results": [{"Material": "XX99", "Plant": "1010", "OrderQuantity": "1"}]}},
            "M3/305",
            "Material",
        ),
    ],
)
def test_create_is_checked_like_sap(s4, sap, change, code, target):
    body = {k: v for k, v in {**NEW_ORDER, **change}.items() if v is not None}
    error = sap_error(sap.write("POST", f"{PO}/A_PurchaseOrder", body), 400, code, target)
    assert error["innererror"]["application"]["component_id"] == "MM-PUR-PO"
    assert s4.violations(sap.tenant) == [], "a business error is not a violation"
    assert len(sap.rows(f"{PO}/A_PurchaseOrder")) == 30


def test_change_purchase_order(sap):
    path = f"{PO}/A_PurchaseOrder('4500000002')"
    before = from_wire(sap.get(path).d["LastChangeDateTime"])
    assert sap.write("PATCH", path, {"PaymentTerms": "0001"}).status == 204
    assert sap.write("MERGE", path, {"CorrespncInternalReference": "M-1"}).status == 204
    assert sap.write("POST", path, {"IncotermsClassification": "FCA"}, headers={"X-HTTP-Method": "MERGE"}).status == 204
    after = sap.get(path).d
    assert (after["PaymentTerms"], after["CorrespncInternalReference"], after["IncotermsClassification"]) == (
        "0001",
        "M-1",
        "FCA",
    )
    assert from_wire(after["LastChangeDateTime"]) > before
    item = f"{PO}/A_PurchaseOrderItem(PurchaseOrder='4500000002',PurchaseOrderItem='10')"
    assert sap.write("PATCH", item, {"OrderQuantity": "7"}).status == 204
    assert sap.get(item).d["OrderQuantity"] == "7"
    assert from_wire(sap.get(path).d["LastChangeDateTime"]) > from_wire(after["LastChangeDateTime"])
    released = (
        (f"{PO}/A_PurchaseOrder('4500000005')", {"PaymentTerms": "0001"}),
        (f"{PO}/A_PurchaseOrderItem(PurchaseOrder='4500000005',PurchaseOrderItem='10')", {"OrderQuantity": "1"}),
    )
    for target, change in released:
        error = sap_error(sap.write("PATCH", target, change), 400, "ME/164")
        assert "4500000005" in error["message"]["value"]


def test_maintenance_order_status_flow(s4, sap):
    path = f"{MO}/MaintenanceOrder('4000000')"
    assert sap.get(path).d["SystemStatusText"].startswith("CRTD ")
    declared = list(served_metadata(s4, MO)["complex"]["cds_api_maintenanceorder.DummyFunctionImportResult"])
    stamps = [from_wire(sap.get(path).d["LastChangeDateTime"])]
    for function, status in (
        ("ReleaseMaintenanceOrder", "REL"),
        ("SetMaintOrdToTechCompleted", "TECO"),
        ("ResetMaintOrdStsTechCompleted", "REL"),
        ("SetMaintOrdToTechCompleted", "TECO"),
        ("SetMaintOrderStatusToClosed", "CLSD"),
    ):
        response = sap.write("POST", f"{MO}/{function}", params={"MaintenanceOrder": "'4000000'"})
        assert response.status == 200, response.body
        assert response.d == {
            function: {"__metadata": {"type": "cds_api_maintenanceorder.DummyFunctionImportResult"}, "IsInvalid": False}
        }
        assert list(response.d[function])[1:] == declared
        order = sap.get(path).d
        assert order["SystemStatusText"] == f"{status:<4} MANC NMAT PRC"
        stamps.append(from_wire(order["LastChangeDateTime"]))
    assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)
    error = sap_error(
        sap.write("POST", f"{MO}/ReleaseMaintenanceOrder", params={"MaintenanceOrder": "'4000000'"}), 400, "BS/013"
    )
    assert error["message"]["value"] == "System status CLSD is active (ORD 4000000)"
    sap_error(sap.write("PATCH", path, {"MaintPriority": "1"}), 400, "BS/013")
    sap_error(
        sap.write("POST", f"{MO}/SetMaintOrderStatusToClosed", params={"MaintenanceOrder": "'4000001'"}), 400, "BS/013"
    )
    sap_error(
        sap.write("POST", f"{MO}/ReleaseMaintenanceOrder", params={"MaintenanceOrder": "'4999999'"}),
        404,
        "/IWBEP/CM_MGW_RT/020",
    )
    refused(s4, sap, sap.write("POST", f"{MO}/ReleaseMaintenanceOrder"), ["MaintenanceOrder", "missing"])
    assert (
        sap.write(
            "PATCH", f"{MO}/MaintenanceOrder('4000001')", {"MaintPriority": "1", "MaintenanceOrderDesc": "Urgent"}
        ).status
        == 204
    )
    changed = sap.get(f"{MO}/MaintenanceOrder('4000001')").d
    assert (changed["MaintPriority"], changed["MaintenanceOrderDesc"]) == ("1", "Urgent")


# --- tenants, faults, touch, the log ---------------------------------------------------------------


def test_tenants_are_isolated(s4, tenant):
    first, second = Client(s4, tenant), Client(s4, tenant + "b")
    path = f"{PO}/A_PurchaseOrder('4500000004')"
    assert first.write("PATCH", path, {"CorrespncExternalReference": "MINE"}).status == 204
    assert first.write("POST", f"{PO}/A_PurchaseOrder", NEW_ORDER).status == 201
    assert first.get(path).d["CorrespncExternalReference"] == "MINE"
    assert second.get(path).d["CorrespncExternalReference"] == ""
    assert len(first.rows(f"{PO}/A_PurchaseOrder")) == 31 and len(second.rows(f"{PO}/A_PurchaseOrder")) == 30


def test_concurrent_tenants_see_only_their_own_writes(s4, tenant):
    clients = [Client(s4, f"{tenant}{n}") for n in range(8)]

    def work(client):
        """Create orders and read them back, as one tenant."""
        created = [client.write("POST", f"{PO}/A_PurchaseOrder", NEW_ORDER).status for _ in range(3)]
        return created, len(client.rows(f"{PO}/A_PurchaseOrder", **{"$select": "PurchaseOrder"}))

    with ThreadPoolExecutor(len(clients)) as pool:
        results = list(pool.map(work, clients))
    assert results == [([201, 201, 201], 33)] * len(clients)


def test_bad_fault_entries_are_refused(s4, tenant):
    for entry in ({"status": 999}, {"delaySeconds": "soon"}, {"retryAfter": 1}):
        response = s4.request("POST", "/_standin/faults", {}, json.dumps({"tenant": tenant, "responses": [entry]}))
        assert response.status == 400, entry


def test_faults(s4, sap):
    s4.control(
        "POST",
        "/_standin/faults",
        {
            "tenant": sap.tenant,
            "match": "A_PurchaseOrder",
            "method": "GET",
            "responses": [{"status": 503}, {"status": 429, "retryAfter": 1}],
        },
    )
    sap_error(sap.get(f"{PO}/A_PurchaseOrder"), 503, "/IWFND/CM_BEC/026")
    assert Client(s4, sap.tenant + "z").get(f"{PO}/A_PurchaseOrder").status == 200, "faults are per tenant"
    assert sap.get(f"{MO}/MaintenanceOrder").status == 200, "faults match their path"
    limited = sap.get(f"{PO}/A_PurchaseOrder")
    assert limited.status == 429 and limited.headers["Retry-After"] == "1"
    assert sap.get(f"{PO}/A_PurchaseOrder").status == 200
    path = f"{PO}/A_PurchaseOrder('4500000006')"
    sap.fetch()
    s4.control(
        "POST",
        "/_standin/faults",
        {"tenant": sap.tenant, "method": "PATCH", "responses": [{"status": 403, "csrf": True}]},
    )
    for _ in range(2):  # the fault, then the token it invalidated
        response = sap.write("PATCH", path, {"PaymentTerms": "0002"})
        assert response.status == 403 and response.headers["x-csrf-token"] == "Required"
    sap.fetch()
    assert sap.write("PATCH", path, {"PaymentTerms": "0002"}).status == 204
    s4.control("POST", "/_standin/faults", {"tenant": sap.tenant, "responses": [{"delaySeconds": 1}]})
    began = time.monotonic()
    assert sap.get(f"{EQ}/Equipment").status == 200
    assert time.monotonic() - began >= 1
    # A stall comes after the work: the change is made before the answer is late.
    s4.control("POST", "/_standin/faults", {"tenant": sap.tenant, "method": "PATCH", "responses": [{"stallSeconds": 1}]})
    sap.fetch()
    began = time.monotonic()
    assert sap.write("PATCH", path, {"PaymentTerms": "0003"}).status == 204
    assert time.monotonic() - began >= 1
    assert sap.get(path).d["PaymentTerms"] == "0003"


def test_touch(s4, sap):
    rows = sap.rows(f"{PO}/A_PurchaseOrder", **{"$select": "PurchaseOrder,LastChangeDateTime"})
    newest = max(from_wire(r["LastChangeDateTime"]) for r in rows)
    touched = s4.control(
        "POST",
        "/_standin/touch",
        {
            "tenant": sap.tenant,
            "entitySet": "A_PurchaseOrder",
            "key": "4500000003",
            "changes": {"PurchasingDocumentDeletionCode": "L"},
        },
    )["d"]
    assert touched["PurchaseOrder"] == "4500000003" and touched["PurchasingDocumentDeletionCode"] == "L"
    assert from_wire(touched["LastChangeDateTime"]) >= s4.started
    since = sap.rows(f"{PO}/A_PurchaseOrder", **{"$filter": f"LastChangeDateTime gt {literal(newest)}"})
    assert [r["PurchaseOrder"] for r in since] == ["4500000003"] and since[0] == touched
    piece = s4.control(
        "POST",
        "/_standin/touch",
        {"tenant": sap.tenant, "entitySet": "Equipment", "key": "10000004", "changes": {"EquipmentName": "Renamed"}},
    )["d"]
    assert piece["EquipmentName"] == "Renamed" and from_wire(piece["LastChangeDateTime"]) >= s4.started
    order = s4.control(
        "POST",
        "/_standin/touch",
        {"tenant": sap.tenant, "entitySet": "MaintenanceOrder", "key": "4000002", "changes": {"MaintPriority": "1"}},
    )["d"]
    assert order["MaintPriority"] == "1" and from_wire(order["LastChangeDateTime"]) >= s4.started
    assert (
        Client(s4, sap.tenant + "q").get(f"{PO}/A_PurchaseOrder('4500000003')").d["PurchasingDocumentDeletionCode"]
        == ""
    )


def test_a_touch_can_wait_for_the_next_page_read(s4, sap):
    """A user's change between two page reads: a client paging by offset then skips a record."""
    request = {"tenant": sap.tenant, "entitySet": "A_PurchaseOrder", "key": "4500000001", "changes": {"PaymentTerms": "ZB99"}}
    assert s4.control("POST", "/_standin/touch", {**request, "afterNextPage": True}) == {"deferred": request}
    query = {"$orderby": "LastChangeDateTime asc,PurchaseOrder asc", "$select": "PurchaseOrder,PaymentTerms"}
    first = sap.get(f"{PO}/A_PurchaseOrder", **query).d
    assert first["results"][0]["PurchaseOrder"] == "4500000001" and first["results"][0]["PaymentTerms"] != "ZB99"
    # The change was made after that page: the order moved to the end, and the next page by
    # offset starts one record further on than the client expects.
    everything = sap.rows(f"{PO}/A_PurchaseOrder", **query)
    assert everything[-1] == {**everything[-1], "PurchaseOrder": "4500000001", "PaymentTerms": "ZB99"}
    second = sap.get(f"{PO}/A_PurchaseOrder", **query, **{"$skip": str(len(first["results"]))}).d["results"]
    shown = {r["PurchaseOrder"] for r in first["results"] + second}
    skipped = {r["PurchaseOrder"] for r in everything} - shown
    assert skipped == {everything[len(first["results"]) - 1]["PurchaseOrder"]}, "the record that moved up a place"


def test_request_log(s4, sap):
    sap.get(f"{PO}/A_PurchaseOrder", **{"$top": "3", "$filter": "Supplier eq '17300001'"})
    sap.write("PATCH", f"{PO}/A_PurchaseOrder('4500000007')", {"PaymentTerms": "0003"})
    log = s4.control("GET", f"/_standin/requests?tenant={sap.tenant}")["requests"]
    assert [(e["method"], e["status"], e["returned"], e["csrf"]) for e in log] == [
        ("GET", 200, 3, False),
        ("GET", 200, None, True),
        ("PATCH", 204, None, True),
    ]
    assert log[0]["path"] == f"{PO}/A_PurchaseOrder" and log[0]["query"] == {
        "$format": "json",
        "$top": "3",
        "$filter": "Supplier eq '17300001'",
    }
    assert log[0]["tenant"] == sap.tenant and log[0]["at"] <= log[1]["at"] <= log[2]["at"]
    text = json.dumps(log)
    assert PASSWORD not in text and sap.authorization.split()[1] not in text and sap.token not in text
    s4.control("DELETE", f"/_standin/requests?tenant={sap.tenant}")
    assert s4.control("GET", f"/_standin/requests?tenant={sap.tenant}")["requests"] == []
    assert s4.control("GET", "/_standin/health")["status"] == "ok"


def test_not_found(s4, sap):
    error = sap_error(sap.get(f"{PO}/A_Colour"), 404, "/IWBEP/CM_MGW_RT/020")
    assert error["message"]["value"] == "Resource not found for segment 'A_Colour'"
    sap_error(sap.get(f"{PO}/A_PurchaseOrder('4599999999')"), 404, "/IWBEP/CM_MGW_RT/020")
    sap_error(sap.get("/sap/opu/odata/sap/API_NOTHING_SRV/Things"), 404, "/IWBEP/CM_MGW_RT/020")
    sap_error(sap.get("/somewhere/else"), 404, "/IWBEP/CM_MGW_RT/020")


# --- ECC -------------------------------------------------------------------------------------------


def test_ecc_purchase_orders_have_no_change_time(ecc, tenant):
    client = Client(ecc, tenant)
    props, navs = served_type(ecc, "A_PurchaseOrder")
    assert "LastChangeDateTime" not in props
    rows = client.rows(f"{PO}/A_PurchaseOrder")
    assert len(rows) == 30 and all(list(r) == ["__metadata", *props, *navs] for r in rows)
    refused(
        ecc,
        client,
        client.get(f"{PO}/A_PurchaseOrder", **{"$filter": f"LastChangeDateTime gt {literal(datetime(2026, 1, 1))}"}),
        ["LastChangeDateTime", "invalid"],
    )
    refused(
        ecc,
        client,
        client.write(
            "PATCH", f"{PO}/A_PurchaseOrder('4500000001')", {"LastChangeDateTime": "/Date(1735689600000+0000)/"}
        ),
        ["LastChangeDateTime", "invalid"],
    )
    changed = client.rows(
        f"{MO}/MaintenanceOrder", **{"$filter": f"LastChangeDateTime gt {literal(datetime(2000, 1, 1))}"}
    )
    assert len(changed) == 20, "maintenance orders keep their change time on ECC"
