"""A local stand-in for SAP S/4HANA Cloud and SAP ECC (Gateway), for tests and local development.

The SAP connector talks OData V2 to SAP Gateway; this server answers on the same paths in the
same wire format, so the connector can be exercised without an SAP system. It serves three
services — API_PURCHASEORDER_PROCESS_SRV, API_MAINTENANCEORDER and API_EQUIPMENT — as its own
model describes them (sap_model.py, beside this file: entity sets, keys, the properties served
with their Edm types and sap: flags, navigation, function imports), serves each service's
`$metadata` written from that model, and refuses, records and reports whatever the model forbids
(an undeclared property, a filter on a non-filterable one, a write to a read-only one). The model
is a subset of SAP's own service descriptions, held to them by tests/standins/test_sap.py where
SAP's files are at hand, so a connector that works here speaks SAP's contract rather than this
server's habits. Nothing outside this folder is read: the stand-in starts on a bare checkout.

It behaves like Gateway where a connector meets it: Basic auth or an OAuth client-credentials
token, the CSRF token-and-cookie handshake for writes, server-driven paging with __next, SAP's
error body, and the business rules the connector must map (unknown or blocked supplier, a
released purchase order, maintenance order status changes). Each tenant (Basic user name or OAuth
client id) gets its own copy of deterministic seed data on first use. --flavour ecc serves the
same data as ECC does: every request needs sap-client=100 and purchase-order headers have no
LastChangeDateTime (neither in the records nor in `$metadata`). Control endpoints under
/_standin/ (no auth) let tests read the request log and the violations, inject faults, change a
user's password and change records as a user inside SAP would; all but the last two are the
control plane the stand-ins share (standin_control.py), with SAP's fault responses ({status,
retryAfter?, code?, message?}, {delaySeconds}, {stallSeconds}, {status: 403, csrf: true}).

    python3 infra/local/standins/sap.py --port PORT [--flavour s4hana|ecc] [--page-size N]

prints `sap stand-in (<flavour>) on http://127.0.0.1:PORT` once it listens (--port 0 picks a free port).
"""

import argparse
import base64
import html
import json
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from http import HTTPStatus
from http.server import ThreadingHTTPServer
from urllib.parse import parse_qsl, quote, unquote, urlsplit

import odata
import sap_model
import standin_http
from standin_control import ControlError, ControlPlane, faulted

DEMO_PASSWORD = "Millwright-Demo-1"
REALM = 'Basic realm="SAP NetWeaver Application Server"'
SESSION_COOKIE = "SAP_SESSIONID_MWD_100"
TOKEN_LIFETIME = 3600
WRITES = {"POST", "PUT", "PATCH", "MERGE", "DELETE"}
QUERY_SAFE = "$'(),:/*"  # left unencoded in __next links, as Gateway does
SYSTEM_OPTIONS = {"$filter", "$select", "$expand", "$orderby", "$top", "$skip", "$skiptoken", "$inlinecount", "$format"}
NOT_FOUND = "/IWBEP/CM_MGW_RT/020"
INVALID = "/IWBEP/CM_MGW_RT/004"
NOT_IMPLEMENTED = "/IWBEP/CM_MGW_RT/021"
FAULT = "/IWFND/CM_BEC/026"
RESOLUTION = {
    "s4hana": 'For backend administrators: use ADT feed reader "SAP Gateway Error Log" or run transaction '
    "/IWFND/ERROR_LOG on SAP Gateway hub system and search for entries with the timestamp above for more details",
    "ecc": "Run transaction /IWFND/ERROR_LOG on SAP Gateway hub system and search for entries with the timestamp "
    "above for more details",
}
SAP_NOTE = "See SAP Note 1797736 for error analysis (https://service.sap.com/sap/support/notes/1797736)"

# Master data every tenant shares. Supplier: name, city, postal code, street, house number, phone.
SUPPLIERS = {
    "17300001": ("Domestic Supplier 1", "Walldorf", "69190", "Dietmar-Hopp-Allee", "16", "06227 747474"),
    "17300002": ("Domestic Supplier 2", "Hamburg", "20095", "Moenckebergstrasse", "7", "040 3069940"),
    "17300003": ("Domestic Supplier 3", "Muenchen", "80331", "Marienplatz", "8", "089 2330000"),
    "17300004": ("Domestic Supplier 4", "Koeln", "50667", "Hohe Strasse", "52", "0221 2580000"),
    "17300005": ("Domestic Supplier 5", "Stuttgart", "70173", "Koenigstrasse", "26", "0711 2290000"),
    "17300006": ("Domestic Supplier 6", "Berlin", "10117", "Friedrichstrasse", "43", "030 2094000"),
    "17300009": ("Blocked Supplier 9", "Dresden", "01067", "Prager Strasse", "2", "0351 4860000"),
}
BLOCKED_SUPPLIERS = {"17300009"}
ACTIVE_SUPPLIERS = sorted(set(SUPPLIERS) - BLOCKED_SUPPLIERS)
# Plant: name, city, postal code, street, country.
PLANTS = {
    "1010": ("Plant 1 DE", "Hamburg", "20095", "Alsterufer", "DE"),
    "1710": ("Plant 1 US", "Palo Alto", "94304-1355", "Deer Creek", "US"),
}
# Material: short text, unit, material group, net price in EUR, net weight per unit in KG.
MATERIALS = {
    "TG11": ("Trad.Good 11,PD,Reorder Point", "PC", "L001", Decimal("40.00"), Decimal("0.900")),
    "TG12": ("Trad.Good 12,PD,Regular Proc.", "PC", "L001", Decimal("25.50"), Decimal("1.200")),
    "TG13": ("Trad.Good 13,PD,Batch-Fifo", "PC", "L002", Decimal("12.75"), Decimal("0.450")),
    "RM120": ("Raw Material 120,PD", "KG", "YBRM01", Decimal("3.20"), Decimal("1.000")),
}
PO_STATUSES = ("02", "03", "08", "02", "05")  # by purchase order number; 4500000005 is released
DELETED_POS = {8, 17}
MO_STATUSES = ("CRTD", "REL", "TECO", "CLSD")  # by maintenance order number; 4000003 is closed
MO_TEXTS = (
    "Mechanical Inspection for Pump",
    "Replace bearing on conveyor drive",
    "Lubricate compressor",
    "Calibrate pressure transmitter",
    "Repair leaking valve",
)
# Equipment: name, technical object type, manufacturer, model, gross weight in KG.
EQUIPMENT = (
    ("Centrifugal Pump P-101", "PUMP", "KSB", "Etanorm 050-032", "125.000"),
    ("Centrifugal Pump P-102", "PUMP", "KSB", "Etanorm 065-040", "140.000"),
    ("Air Compressor C-201", "COMPRESSOR", "Atlas Copco", "GA 37", "610.000"),
    ("Air Compressor C-202", "COMPRESSOR", "Atlas Copco", "GA 55", "820.000"),
    ("Belt Conveyor CV-301", "CONVEYOR", "Interroll", "RollerDrive EC5000", "950.000"),
    ("Control Valve V-401", "VALVE", "Samson", "3241", "24.500"),
    ("Control Valve V-402", "VALVE", "Samson", "3251", "31.000"),
    ("Pressure Transmitter PT-501", "SENSOR", "Endress+Hauser", "Cerabar PMC71", "1.200"),
    ("Electric Motor M-601", "MOTOR", "Siemens", "1LE1003", "210.000"),
    ("Gearbox G-701", "GEARBOX", "SEW-Eurodrive", "R97", "180.000"),
    ("Heat Exchanger HX-801", "EXCHANGER", "Alfa Laval", "M10-BFG", "420.000"),
    ("Cooling Tower CT-901", "TOWER", "Baltimore Aircoil", "VXT-120", "2400.000"),
    ("Forklift FL-01", "VEHICLE", "Linde", "E20", "3100.000"),
    ("Forklift FL-02", "VEHICLE", "Linde", "E25", "3300.000"),
    ("Packaging Line PL-1", "LINE", "Krones", "Variopac Pro", "5200.000"),
)
DELETED_EQUIPMENT = {13, 14}
MO_TRANSITIONS = {  # function import: (status it needs, status it sets)
    "ReleaseMaintenanceOrder": ("CRTD", "REL"),
    "SetMaintOrdToTechCompleted": ("REL", "TECO"),
    "ResetMaintOrdStsTechCompleted": ("TECO", "REL"),
    "SetMaintOrderStatusToClosed": ("TECO", "CLSD"),
}
PO_REQUIRED = ("PurchaseOrderType", "CompanyCode", "PurchasingOrganization", "PurchasingGroup", "Supplier")
# Maintenance order date-time properties and the date and time properties SAP derives from them.
MO_SPLITS = {
    "MaintOrdBasicStartDateTime": ("MaintOrdBasicStartDate", "MaintOrdBasicStartTime"),
    "MaintOrdBasicEndDateTime": ("MaintOrdBasicEndDate", "MaintOrdBasicEndTime"),
    "MaintOrdSchedldBscStrtDateTime": ("ScheduledBasicStartDate", "ScheduledBasicStartTime"),
    "MaintOrdSchedldBscEndDateTime": ("ScheduledBasicEndDate", "ScheduledBasicEndTime"),
}


class SapError(Exception):
    """An answer in SAP's error format; a violation is also recorded as a breach of the service's model."""

    def __init__(self, status, code, message, target="", details=None, violation=False, headers=()):
        super().__init__(message)
        self.status, self.code, self.message, self.target = status, code, message, target
        self.details = details or [(code, message, target)]
        self.violation, self.headers = violation, list(headers)


def violation(message):
    """The 400 that refuses a request the service's model (SAP's contract) does not allow."""
    return SapError(400, INVALID, message, violation=True)


def not_found(segment):
    """SAP's 404 for a path segment that names nothing."""
    return SapError(404, NOT_FOUND, f"Resource not found for segment '{segment}'")


@dataclass
class Reply:
    """An HTTP answer; returned counts the records of a collection answer."""

    status: int
    body: bytes = b""
    headers: list = field(default_factory=list)
    returned: int | None = None


class Answer(Exception):
    """Ends a request early with a ready reply (401, 403)."""

    def __init__(self, reply):
        super().__init__(reply.status)
        self.reply = reply


def json_reply(status, document, returned=None, headers=()):
    """A JSON answer as Gateway sends it."""
    head = [("Content-Type", "application/json; charset=utf-8"), ("dataserviceversion", "2.0"), *headers]
    return Reply(status, json.dumps(document).encode(), head, returned)


def unauthorized(text):
    """ICF's 401: a Basic challenge and a short HTML page."""
    page = (
        "<html><head><title>Logon Error Message</title></head>"
        f"<body><h1>401 Unauthorized</h1><p>{html.escape(text)}</p></body></html>"
    )
    return Reply(401, page.encode(), [("Content-Type", "text/html; charset=utf-8"), ("WWW-Authenticate", REALM)])


def csrf_required():
    """Gateway's 403 for a write without a valid CSRF token and session."""
    return Reply(
        403,
        b"CSRF token validation failed",
        [("Content-Type", "text/plain; charset=utf-8"), ("x-csrf-token", "Required")],
    )


def to_ms(moment):
    """moment cut to the millisecond: all SAP's JSON dates carry, so a stored time is exactly the served one."""
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def utc_now():
    """Now, to the millisecond."""
    return to_ms(datetime.now(timezone.utc))


def midnight(moment):
    """The start of moment's day (UTC), as Edm.DateTime dates are."""
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


def iso(moment):
    """A log time stamp."""
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class Service:
    """One OData service: its model and the $metadata document written from it."""

    name: str
    component: str
    model: odata.Model
    metadata: bytes


def load_services(flavour):
    """The services, from the stand-in's own model (sap_model.py); ECC's purchase-order header
    has no LastChangeDateTime."""
    services = {}
    for name, namespace, component, text in sap_model.SERVICES:
        model = odata.read_model(text, namespace)
        if flavour == "ecc" and name == "API_PURCHASEORDER_PROCESS_SRV":
            del model.sets["A_PurchaseOrder"].props["LastChangeDateTime"]
        services[name] = Service(name, component, model, odata.metadata_document(model))
    return services


def make(et, values):
    """A record of et: every property at its initial value, then values.

    LastChangeDateTime is kept even where the type lacks it (ECC's purchase-order header), since
    the system still knows when a record changed; it is just not served.
    """
    unknown = set(values) - set(et.props) - {"LastChangeDateTime"}
    if unknown:
        raise KeyError(f"{et.qualified} declares no {sorted(unknown)}")
    return {**{name: et.default(name) for name in et.props}, **values}


def split_datetimes(record):
    """Sets the maintenance-order date and time properties SAP derives from the date-times."""
    for source, (date_name, time_name) in MO_SPLITS.items():
        moment = record.get(source)
        record[date_name] = midnight(moment) if moment else None
        record[time_name] = moment - midnight(moment) if moment else timedelta(0)


def supplier_fields(number):
    """The header fields a purchase order takes from its supplier's master record."""
    name, city, postal, street, house, phone = SUPPLIERS[number]
    return {
        "Supplier": number,
        "AddressName": name,
        "AddressCityName": city,
        "AddressPostalCode": postal,
        "AddressStreetName": street,
        "AddressHouseNumber": house,
        "AddressPhoneNumber": phone,
        "AddressRegion": "",
        "AddressCountry": "DE",
        "AddressCorrespondenceLanguage": "EN",
        "Language": "EN",
        "PaymentTerms": "0004",
    }


def material_fields(number):
    """The item fields a purchase-order item takes from its material (none for a text item)."""
    if number not in MATERIALS:
        return {}
    text, unit, group, price, _ = MATERIALS[number]
    return {
        "Material": number,
        "PurchaseOrderItemText": text,
        "PurchaseOrderQuantityUnit": unit,
        "OrderPriceUnit": unit,
        "MaterialGroup": group,
        "NetPriceAmount": price,
    }


def plant_fields(number):
    """The delivery address an item takes from its plant."""
    name, city, postal, street, country = PLANTS.get(number, ("", "", "", "", ""))
    return {
        "Plant": number,
        "DeliveryAddressName": name,
        "DeliveryAddressCityName": city,
        "DeliveryAddressPostalCode": postal,
        "DeliveryAddressStreetName": street,
        "DeliveryAddressCountry": country,
    }


def item_defaults(currency):
    """What SAP proposes for a new purchase-order item."""
    return {
        "DocumentCurrency": currency,
        "NetPriceQuantity": Decimal(1),
        "PurchaseOrderItemCategory": "0",
        "PurchaseRequisitionItem": "0",
        "GoodsReceiptIsExpected": True,
        "InvoiceIsExpected": True,
        "IncotermsClassification": "EXW",
    }


def spread(start, index, count, oldest_days, newest_days):
    """Distinct change times for count records, oldest_days to newest_days before start, with milliseconds.

    The times are shuffled against the keys (7 is coprime to every count used), so ordering by
    change time is not ordering by number.
    """
    step = (timedelta(days=oldest_days - newest_days) - timedelta(seconds=1)) / (count - 1)
    return to_ms(start - timedelta(days=oldest_days) + step * (index * 7 % count)) + timedelta(
        milliseconds=index * 137 % 1000
    )


def seed_purchase_orders(model, start):
    """Thirty purchase orders 4500000001… with one to three items each."""
    header_et, item_et = model.sets["A_PurchaseOrder"], model.sets["A_PurchaseOrderItem"]
    headers, items = {}, {}
    for i in range(1, 31):
        number = f"{4500000000 + i}"
        changed = spread(start, i - 1, 30, 60, 1)
        created = midnight(changed) - timedelta(days=i % 5)
        deletion = "L" if i in DELETED_POS else ""
        status = PO_STATUSES[(i - 1) % len(PO_STATUSES)]
        headers[(number,)] = make(
            header_et,
            {
                **supplier_fields(ACTIVE_SUPPLIERS[(i - 1) % len(ACTIVE_SUPPLIERS)]),
                "PurchaseOrder": number,
                "CompanyCode": "1010",
                "PurchaseOrderType": "NB",
                "PurchasingDocumentDeletionCode": deletion,
                "PurchasingProcessingStatus": status,
                "CreatedByUser": "BUYER01",
                "CreationDate": created,
                "LastChangeDateTime": changed,
                "PurchasingOrganization": "1010",
                "PurchasingGroup": "001",
                "PurchaseOrderDate": created,
                "DocumentCurrency": "EUR",
                "ExchangeRate": "1.00000",
                "IncotermsClassification": "EXW",
            },
        )
        for n in range(1, 2 + i % 3):
            material = sorted(MATERIALS)[(i + n) % len(MATERIALS)]
            quantity = Decimal((i + n) % 7 + 1) * (Decimal("12.5") if MATERIALS[material][1] == "KG" else 5)
            item = make(
                item_et,
                {
                    **item_defaults("EUR"),
                    **material_fields(material),
                    **plant_fields("1010" if (i + n) % 3 else "1710"),
                    "PurchaseOrder": number,
                    "PurchaseOrderItem": str(10 * n),
                    "PurchasingInfoRecord": f"53{i:06d}{n:02d}",
                    "OrderQuantity": quantity,
                    "TaxCode": "V1",
                    "OverdelivTolrtdLmtRatioInPct": Decimal("10.0"),
                    "UnderdelivTolrtdLmtRatioInPct": Decimal("10.0"),
                    "IsCompletelyDelivered": status == "05" and n == 1,
                    "ItemNetWeight": quantity * MATERIALS[material][4],
                    "ItemWeightUnit": "KG",
                    "PurchasingDocumentDeletionCode": deletion,
                },
            )
            items[(number, item["PurchaseOrderItem"])] = item
    return {"A_PurchaseOrder": headers, "A_PurchaseOrderItem": items}


def seed_equipment(model, start):
    """Fifteen pieces of equipment 10000001…, valid until 9999-12-31."""
    et = model.sets["Equipment"]
    rows = {}
    for i, (name, kind, maker, model_number, weight) in enumerate(EQUIPMENT, 1):
        created = midnight(start) - timedelta(days=330 - 20 * i)
        record = make(
            et,
            {
                "Equipment": f"{10000000 + i}",
                "ValidityEndDate": datetime(9999, 12, 31, tzinfo=timezone.utc),
                "ValidityStartDate": created,
                "EquipmentName": name,
                "EquipmentCategory": "M",
                "TechnicalObjectType": kind,
                "GrossWeight": Decimal(weight),
                "GrossWeightUnit": "KG",
                "AssetManufacturerName": maker,
                "ManufacturerPartTypeName": model_number,
                "ManufacturerCountry": "DE",
                "ConstructionYear": str(2015 + i % 9),
                "ConstructionMonth": f"{i % 12 + 1:02d}",
                "ManufacturerSerialNumber": f"SN-{kind[:3]}-{4711 + i}",
                "MaintenancePlant": "1010",
                "PlantSection": "A01",
                "CompanyCode": "1010",
                "MaintenancePlanningPlant": "1010",
                "MaintenancePlannerGroup": "930",
                "CreationDate": created,
                "LastChangeDateTime": spread(start, i - 1, len(EQUIPMENT), 59, 2),
                "EquipmentIsMarkedForDeletion": i in DELETED_EQUIPMENT,
                "EquipmentIsAvailable": i not in DELETED_EQUIPMENT,
            },
        )
        rows[(record["Equipment"], record["ValidityEndDate"])] = record
    return {"Equipment": rows}


def seed_maintenance_orders(model, start, equipment):
    """Twenty maintenance orders 4000000…4000019 of type PM01, most of them on a piece of equipment."""
    et = model.sets["MaintenanceOrder"]
    pieces = sorted(equipment.values(), key=lambda r: r["Equipment"])
    rows = {}
    for i in range(20):
        number = f"{4000000 + i}"
        piece = pieces[i % len(pieces)] if i % 3 != 2 else None
        begins = midnight(start) - timedelta(days=45 - 2 * i) + timedelta(hours=6)
        record = make(
            et,
            {
                "MaintenanceOrder": number,
                "MaintOrderRoutingNumber": f"{1000000000 + 63 + i}",
                "MaintenanceOrderType": "PM01",
                "MaintenanceOrderDesc": MO_TEXTS[i % len(MO_TEXTS)],
                "MaintOrdBasicStartDateTime": begins,
                "MaintOrdBasicEndDateTime": begins + timedelta(days=1 + i % 3, hours=8, minutes=30),
                "MaintOrdSchedldBscStrtDateTime": begins,
                "MaintOrdSchedldBscEndDateTime": begins + timedelta(hours=7, minutes=3, seconds=45),
                "MaintenanceNotification": f"{10000000 + i}",
                "MainWorkCenterInternalID": "10000063",
                "MainWorkCenterTypeCode": "A",
                "MainWorkCenter": "RES-0300",
                "MainWorkCenterPlant": "1010",
                "WorkCenterInternalID": "0",
                "MaintenancePlanningPlant": "1010",
                "MaintenancePlant": "1010",
                "CompanyCode": "1010",
                "ControllingArea": "A000",
                "CostCenter": "10101301",
                "Equipment": piece["Equipment"] if piece else "",
                "EquipmentName": piece["EquipmentName"] if piece else "",
                "FunctionalLocation": "1010-SPA-SAC-PLAR1",
                "MaintenanceOrderPlanningCode": "1",
                "MaintenancePlannerGroup": "930",
                "MaintenanceActivityType": "YB4",
                "MaintPriority": str(1 + i % 4),
                "MaintPriorityType": "PM",
                "OrderProcessingGroup": "0",
                "ProfitCenter": "YB101",
                "ResponsibleCostCenter": "10101301",
                "WBSElementInternalID": "0",
                "ControllingObjectClass": "OC",
                "MaintenanceOrderInternalID": f"OR{number:0>12}",
                "MaintenanceObjectList": 203 + i,
                "MaintObjectLocAcctAssgmtNmbr": f"{1913 + i:012d}",
                "BasicSchedulingType": "1",
                "LastChangeDateTime": spread(start, i, 20, 58, 1),
                "CreatedByUser": "PLANNER01",
                "ControllingSettlementProfile": "YEAM01",
                "SystemStatusText": f"{MO_STATUSES[i % len(MO_STATUSES)]:<4} MANC NMAT PRC",
                "TechnicalObject": piece["Equipment"].zfill(18) if piece else "",
                "TechnicalObjectLabel": piece["Equipment"] if piece else "",
                "TechObjIsEquipOrFuncnlLoc": "EAMS_EQUI" if piece else "",
            },
        )
        split_datetimes(record)
        rows[(number,)] = record
    return {"MaintenanceOrder": rows}


def seed(services, start):
    """A tenant's fresh copy of the seed data: entity set -> {key tuple: record}."""
    data = seed_purchase_orders(services["API_PURCHASEORDER_PROCESS_SRV"].model, start)
    data.update(seed_equipment(services["API_EQUIPMENT"].model, start))
    data.update(seed_maintenance_orders(services["API_MAINTENANCEORDER"].model, start, data["Equipment"]))
    return data


class State:
    """Everything the server remembers; every access holds lock. `plane` (standin_control) holds each
    tenant's records (seeded on first use), the request log, the violations, the pending faults and
    the deferred touches, and answers /_standin/."""

    def __init__(self, services, flavour, page_size):
        self.lock = threading.Lock()
        self.services, self.flavour, self.page_size = services, flavour, page_size
        self.start = utc_now()
        self.last_stamp = self.start
        self.sessions = {}  # session id -> {"tenant", "token"}
        self.tokens = {}  # OAuth access token -> (tenant, expiry)
        self.passwords = {}  # user or OAuth client -> its password, where changed from DEMO_PASSWORD
        self.seeded = set(seed(services, self.start))  # seeding fails at start, not on a tenant's first request
        self.plane = ControlPlane(
            make=lambda tenant: seed(services, self.start),
            health={"status": "ok", "flavour": flavour},
            violations=True,
            stamp=lambda: iso(datetime.now(timezone.utc)),
            check_fault=check_fault,
        )
        self.plane.route("POST", "/_standin/touch", lambda request: touch(self, request.control_body(), request.base))
        self.plane.route("POST", "/_standin/password", lambda request: change_password(self, request.control_body()))

    def stamp(self):
        """A change time stamp: now, and later than every one before."""
        self.last_stamp = max(utc_now(), self.last_stamp + timedelta(milliseconds=1))
        return self.last_stamp

    def service_of(self, entity_set):
        """The service holding a seeded entity set, or None."""
        for service in self.services.values():
            if entity_set in service.model.sets and entity_set in self.seeded:
                return service
        return None


@dataclass
class Request:
    """One HTTP request as the handlers see it."""

    method: str
    path: str  # raw, still percent-encoded
    query: list  # decoded (name, value) pairs in order
    headers: object
    body: bytes
    origin: str  # http://host:port, for absolute links

    @property
    def params(self):
        """The query as a dict (the last of repeated names wins)."""
        return dict(self.query)

    def cookies(self):
        """The Cookie header's name -> value."""
        pairs = (part.strip().partition("=") for part in self.headers.get("Cookie", "").split(";"))
        return {name: value for name, _, value in pairs if name}


@dataclass
class Call:
    """An authenticated OData request being answered for one tenant by one service."""

    state: State
    request: Request
    tenant: str
    service: Service
    method: str  # after X-HTTP-Method tunnelling

    @property
    def model(self):
        """The service's model."""
        return self.service.model

    @property
    def data(self):
        """The tenant's records."""
        return self.state.plane.tenants.get(self.tenant)

    @property
    def root(self):
        """The service root URL."""
        return f"{self.request.origin}/sap/opu/odata/sap/{self.service.name}"


def error_reply(state, service, error):
    """SAP's JSON error body for error, as the service's application would send it."""
    now = datetime.now(timezone.utc)
    body = {
        "error": {
            "code": error.code,
            "message": {"lang": "en", "value": error.message},
            "innererror": {
                "application": {
                    "component_id": service.component if service else "",
                    "service_namespace": "/SAP/",
                    "service_id": service.name if service else "",
                    "service_version": "0001",
                },
                "transactionid": uuid.uuid4().hex.upper(),
                "timestamp": f"{now:%Y%m%d%H%M%S}.{now.microsecond:06d}0",
                "Error_Resolution": {"SAP_Transaction": RESOLUTION[state.flavour], "SAP_Note": SAP_NOTE},
                "errordetails": [
                    {
                        "code": code,
                        "message": message,
                        "propertyref": "",
                        "severity": "error",
                        "target": target,
                        "transition": False,
                    }
                    for code, message, target in error.details
                ],
            },
        }
    }
    return json_reply(error.status, body, headers=error.headers)


def basic_pair(headers):
    """(user, password) from a Basic Authorization header, or None."""
    scheme, _, value = headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, _, password = base64.b64decode(value.strip(), validate=True).decode("utf-8").partition(":")
    except ValueError:
        return None
    return user, password


def credentials(state, headers):
    """(tenant the request claims to be, whether its credentials hold)."""
    pair = basic_pair(headers)
    if pair:
        return pair[0] or None, bool(pair[0]) and pair[1] == state.passwords.get(pair[0], DEMO_PASSWORD)
    scheme, _, token = headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer":
        tenant, expiry = state.tokens.get(token.strip(), (None, 0))
        return tenant, expiry > time.time()
    return None, False


def issue_token(state, request):
    """POST /oauth/token: an access token for client credentials."""
    if request.method != "POST":
        return json_reply(405, {"error": "invalid_request", "error_description": "use POST"})
    form = dict(parse_qsl(request.body.decode("utf-8", "replace")))
    client, secret = basic_pair(request.headers) or (form.get("client_id"), form.get("client_secret"))
    if form.get("grant_type") != "client_credentials":
        return json_reply(400, {"error": "unsupported_grant_type", "error_description": "only client_credentials"})
    if not client or secret != state.passwords.get(client, DEMO_PASSWORD):
        return json_reply(401, {"error": "invalid_client", "error_description": "Bad credentials"})
    token = secrets.token_urlsafe(32)
    state.tokens[token] = (client, time.time() + TOKEN_LIFETIME)
    return json_reply(200, {"access_token": token, "token_type": "bearer", "expires_in": TOKEN_LIFETIME})


def csrf_fetch_headers(state, tenant, request):
    """The token and cookies a `X-CSRF-Token: Fetch` gets: the session's own, or a new session's."""
    sid = request.cookies().get(SESSION_COOKIE)
    session = state.sessions.get(sid)
    if not session or session["tenant"] != tenant:
        sid = secrets.token_urlsafe(24)
        session = state.sessions[sid] = {"tenant": tenant, "token": secrets.token_urlsafe(18)}
    return [
        ("x-csrf-token", session["token"]),
        ("Set-Cookie", f"{SESSION_COOKIE}={sid}; path=/; HttpOnly"),
        ("Set-Cookie", "sap-usercontext=sap-client=100; path=/"),
    ]


def csrf_valid(state, tenant, request):
    """Whether a write carries the session cookie and that session's token."""
    session = state.sessions.get(request.cookies().get(SESSION_COOKIE))
    return bool(session) and session["tenant"] == tenant and request.headers.get("X-CSRF-Token") == session["token"]


def service_at(state, path):
    """(service, rest of the path after the service root) for an OData path, or (None, None)."""
    prefix = "/sap/opu/odata/sap/"
    if not path.startswith(prefix):
        return None, None
    name, _, rest = path[len(prefix) :].partition("/")
    return state.services.get(name), rest


def fault_reply(state, request, tenant, fault):
    """The injected answer a fault entry describes."""
    if fault.get("csrf"):
        state.sessions = {sid: s for sid, s in state.sessions.items() if s["tenant"] != tenant}
        return csrf_required()
    status = int(fault["status"])
    headers = [("Retry-After", str(fault["retryAfter"]))] if "retryAfter" in fault else []
    error = SapError(status, fault.get("code", FAULT), fault.get("message", HTTPStatus(status).phrase), headers=headers)
    return error_reply(state, service_at(state, urlsplit(request.path).path)[0], error)


def serve(state, request):
    """Answer one request outside /_standin/ and log it."""
    with state.lock:
        tenant, valid = credentials(state, request.headers)
    path = urlsplit(request.path).path
    try:
        client = request.params.get("sap-client")
        if state.flavour == "ecc" and client != "100":
            raise Answer(unauthorized(" ".join(filter(None, ("Client", client, "is not available in this system")))))
        if path == "/oauth/token":
            with state.lock:
                reply = issue_token(state, request)
            tenant = dict(parse_qsl(request.body.decode("utf-8", "replace"))).get("client_id", tenant)
        else:
            if not valid:
                raise Answer(unauthorized("Logon failed: user name or password is not correct"))
            # A stall comes after the work: a client that stops waiting cannot know it was done.
            reply = faulted(
                state.plane.faults.take(tenant, request.method, request.path),
                lambda fault: locked(state, fault_reply, request, tenant, fault),
                lambda: locked(state, odata_request, request, tenant),
            )
    except Answer as answer:
        reply = answer.reply
    state.plane.requests.add(
        tenant,
        {
            "method": request.method,
            "path": path,
            "query": request.params,
            "status": reply.status,
            "returned": reply.returned,
            "csrf": "X-CSRF-Token" in request.headers,
        },
    )
    return reply


def locked(state, function, *args):
    """function(state, *args) with state.lock held."""
    with state.lock:
        return function(state, *args)


def odata_request(state, request, tenant):
    """Answer an authenticated OData request (state.lock held)."""
    path = urlsplit(request.path).path
    service, rest = service_at(state, path)
    method = request.method
    tunnelled = request.headers.get("X-HTTP-Method", "").upper()
    if method == "POST" and tunnelled in ("MERGE", "PATCH", "PUT", "DELETE"):
        method = tunnelled
    try:
        if method in WRITES and not csrf_valid(state, tenant, request):
            raise Answer(csrf_required())
        if service is None:
            raise not_found(path.rstrip("/").rsplit("/", 1)[-1])
        reply = dispatch(Call(state, request, tenant, service, method), rest)
    except odata.QueryError as error:
        reply = refuse(state, request, tenant, service, violation(str(error)))
    except SapError as error:
        reply = refuse(state, request, tenant, service, error)
    if method in ("GET", "HEAD") and request.headers.get("X-CSRF-Token", "").lower() == "fetch":
        reply.headers += csrf_fetch_headers(state, tenant, request)
    return reply


def refuse(state, request, tenant, service, error):
    """The error reply for error, recording it when it is a violation."""
    if error.violation:
        state.plane.violations.add(
            tenant, {"method": request.method, "path": urlsplit(request.path).path, "reason": error.message}
        )
    return error_reply(state, service, error)


def allow(call, *methods):
    """Refuse a method the addressed resource does not take."""
    if call.method not in methods and not (call.method == "HEAD" and "GET" in methods):
        raise SapError(
            405, NOT_IMPLEMENTED, f"Method '{call.method}' is not allowed here", headers=[("Allow", ", ".join(methods))]
        )


def dispatch(call, rest):
    """Route a request below a service root."""
    if rest in ("", "$metadata", "$batch"):
        return service_resource(call, rest)
    segments = [unquote(segment) for segment in rest.strip("/").split("/")]
    name, _, key_text = segments[0].partition("(")
    if name in call.model.functions and not key_text and len(segments) == 1:
        return function_import(call, call.model.functions[name])
    et = call.model.sets.get(name)
    if et is None:
        raise not_found(segments[0])
    count = segments[-1] == "$count"
    if count:
        segments.pop()
    if not key_text:
        if len(segments) > 1:
            raise not_found(segments[1])
        if count or call.method != "POST":
            allow(call, "GET")
            return read_collection(call, name, list(call.data.get(name, {}).values()), count)
        return create(call, name)
    if not key_text.endswith(")"):
        raise not_found(segments[0])
    key = odata.parse_key(key_text[:-1], et)
    record = call.data.get(name, {}).get(tuple(key[k] for k in et.keys))
    if record is None:
        raise not_found(segments[0])
    if len(segments) == 1:
        if count:
            raise not_found("$count")
        return entity(call, name, record)
    nav = et.navs.get(segments[1])
    if nav is None or nav.target not in call.model.sets:
        raise not_found(segments[1])
    if len(segments) > 2:
        raise not_found(segments[2])
    allow(call, "GET")
    rows = related(call, nav, record)
    if nav.many or count:
        return read_collection(call, nav.target, rows, count)
    if not rows:
        raise not_found(segments[1])
    return read_entity(call, nav.target, rows[0])


def service_resource(call, rest):
    """The service document, $metadata, or $batch (not supported)."""
    if rest == "$batch":
        raise SapError(501, NOT_IMPLEMENTED, "$batch is not supported by the stand-in; send the requests one by one")
    allow(call, "GET")
    if rest == "":
        return json_reply(200, {"d": {"EntitySets": list(call.model.sets)}})
    return Reply(200, call.service.metadata, [("Content-Type", "application/xml"), ("dataserviceversion", "2.0")])


def related(call, nav, record):
    """The records a navigation property of record leads to, in key order."""
    if not nav.pairs or nav.target not in call.model.sets:
        return []
    rows = [
        r
        for r in call.data.get(nav.target, {}).values()
        if all(r.get(there) == record.get(here) for here, there in nav.pairs)
    ]
    keys = call.model.sets[nav.target].keys
    return sorted(rows, key=lambda r: tuple(odata.sort_value(r[k]) for k in keys))


def render(call, set_name, record, select, expand):
    """One record as SAP sends it: __metadata, every (selected) property, navigation deferred or expanded."""
    et = call.model.sets[set_name]
    uri = f"{call.root}/{set_name}{odata.key_predicate(et, record)}"
    out = {"__metadata": {"id": uri, "uri": uri, "type": et.qualified}}
    for name, prop in et.props.items():
        if select is None or name in select:
            out[name] = odata.to_json(et, prop, record)
    for name, nav in et.navs.items():
        if select is not None and name not in select:
            continue
        if name not in expand:
            out[name] = {"__deferred": {"uri": f"{uri}/{name}"}}
            continue
        inner = select.get(name) if select else None
        rows = [render(call, nav.target, r, inner, expand[name]) for r in related(call, nav, record)]
        out[name] = {"results": rows} if nav.many else (rows[0] if rows else None)
    return out


def options(call, allowed):
    """The request's system query options, refusing unknown ones and ones not allowed here."""
    found = {name: value for name, value in call.request.query if name.startswith("$")}
    for name in found:
        if name not in SYSTEM_OPTIONS:
            raise violation(f"System query option '{name}' is invalid")
        if name not in allowed and name != "$format":
            raise violation(f"System query option '{name}' is not allowed on this resource")
    return found


def shape(call, et, found):
    """(select tree, expand tree) of the request."""
    expand = odata.parse_expand(found.get("$expand", ""), call.model, et)
    return odata.parse_select(found.get("$select", ""), call.model, et, expand), expand


def whole(found, name):
    """A non-negative integer option, or None when absent."""
    if name not in found:
        return None
    if not found[name].isdigit():
        raise violation(f"System query option '{name}' must be a non-negative integer, not '{found[name]}'")
    return int(found[name])


def skiptoken(found):
    """The offset an opaque $skiptoken stands for (0 without one)."""
    token = found.get("$skiptoken")
    if token is None:
        return 0
    try:
        offset = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        if offset.startswith("o") and offset[1:].isdigit():
            return int(offset[1:])
    except ValueError:
        pass
    raise violation(f"$skiptoken '{token}' was not issued by this service")


def next_link(call, offset, top):
    """The absolute __next URL: this request with $skiptoken (and what is left of $top)."""
    token = base64.urlsafe_b64encode(f"o{offset}".encode()).decode().rstrip("=")
    pairs = [(k, v) for k, v in call.request.query if k not in ("$skiptoken", "$top")]
    if top is not None:
        pairs.append(("$top", str(top)))
    pairs.append(("$skiptoken", token))
    query = "&".join(f"{quote(k, safe='$')}={quote(v, safe=QUERY_SAFE)}" for k, v in pairs)
    return f"{call.request.origin}{urlsplit(call.request.path).path}?{query}"


def read_collection(call, set_name, rows, count):
    """A collection (or its $count) with $filter, $orderby, paging, $inlinecount, $select and $expand."""
    et = call.model.sets[set_name]
    allowed = {"$filter"} if count else SYSTEM_OPTIONS
    found = options(call, allowed)
    if "$filter" in found:
        predicate = odata.parse_filter(found["$filter"], et)
        rows = [r for r in rows if predicate(r)]
    if count:
        return Reply(200, str(len(rows)).encode(), [("Content-Type", "text/plain; charset=utf-8")])
    rows = sorted(rows, key=lambda r: tuple(odata.sort_value(r[k]) for k in et.keys))
    for name, descending in reversed(odata.parse_orderby(found["$orderby"], et) if "$orderby" in found else []):
        rows.sort(key=lambda r: odata.sort_value(r.get(name)), reverse=descending)
    select, expand = shape(call, et, found)
    if found.get("$inlinecount", "none") not in ("allpages", "none"):
        raise violation(f"$inlinecount must be 'allpages' or 'none', not '{found['$inlinecount']}'")
    top, offset = whole(found, "$top"), skiptoken(found)
    begin = (whole(found, "$skip") or 0) + offset
    page = rows[begin : begin + (call.state.page_size if top is None else min(top, call.state.page_size))]
    d = {"__count": str(len(rows))} if found.get("$inlinecount") == "allpages" else {}
    d["results"] = [render(call, set_name, r, select, expand) for r in page]
    if begin + len(page) < len(rows) and (top is None or len(page) < top):
        d["__next"] = next_link(call, offset + len(page), None if top is None else top - len(page))
    # A user inside SAP changes records while a client pages through them.
    for deferred in call.state.plane.touches.due(call.tenant, set_name):
        touch(call.state, deferred, call.request.origin)
    return json_reply(200, {"d": d}, returned=len(page))


def read_entity(call, set_name, record):
    """One record with $select and $expand."""
    select, expand = shape(call, call.model.sets[set_name], options(call, {"$select", "$expand"}))
    return json_reply(200, {"d": render(call, set_name, record, select, expand)})


def entity(call, set_name, record):
    """GET, or a change to, one addressed record."""
    allow(call, "GET", "PATCH", "MERGE", "PUT", "DELETE")
    if call.method in ("GET", "HEAD"):
        return read_entity(call, set_name, record)
    if call.method == "DELETE":
        raise SapError(
            501, NOT_IMPLEMENTED, f"Method '{set_name.upper()}_DELETE_ENTITY' not implemented in the stand-in"
        )
    return update(call, set_name, record)


def payload(call):
    """The request's JSON object (unwrapped from {"d": …} as Gateway also accepts)."""
    try:
        body = json.loads(call.request.body or b"null")
    except ValueError:
        body = None
    if isinstance(body, dict) and list(body) == ["d"] and isinstance(body["d"], dict):
        body = body["d"]
    if not isinstance(body, dict):
        raise violation("The request body is not a JSON object")
    return body


def fields(et, body, permission):
    """(property values, navigation values) of a write body, refusing what et does not allow.

    permission is "creatable" or "updatable", the sap: annotation the write needs on each property.
    """
    values, navs = {}, {}
    for name, value in body.items():
        if name == "__metadata":
            continue
        if name in et.navs:
            navs[name] = value
            continue
        prop = et.props.get(name)
        if prop is None:
            raise violation(f"Property '{name}' is invalid: {et.qualified} declares no such property")
        if not getattr(prop, permission):
            raise violation(f"Property '{name}' is not {permission} (sap:{permission}=\"false\" on {et.qualified})")
        try:
            values[name] = odata.from_json(prop, value)
        except ValueError as error:
            raise violation(str(error)) from None
    return values, navs


def bump(call, set_name, record):
    """Stamp the change on record, or on the purchase order an item belongs to."""
    owner = call.data["A_PurchaseOrder"][(record["PurchaseOrder"],)] if set_name == "A_PurchaseOrderItem" else record
    owner["LastChangeDateTime"] = call.state.stamp()


def guard(call, set_name, record):
    """Refuse a change SAP's application would refuse for the record's status."""
    if set_name in ("A_PurchaseOrder", "A_PurchaseOrderItem"):
        order = call.data["A_PurchaseOrder"][(record["PurchaseOrder"],)]
        if order["PurchasingProcessingStatus"] == "05":
            number = order["PurchaseOrder"]
            raise SapError(400, "ME/164", f"Purchase order {number} is released; changes are not allowed")
    if set_name == "MaintenanceOrder" and record["SystemStatusText"].startswith("CLSD"):
        raise SapError(400, "BS/013", f"System status CLSD is active (ORD {record['MaintenanceOrder']})")


def update(call, set_name, record):
    """PATCH / MERGE / PUT: change the given updatable properties, answer 204."""
    et = call.model.sets[set_name]
    values, navs = fields(et, payload(call), "updatable")
    if navs:
        raise violation(f"Navigation property '{next(iter(navs))}' cannot be changed with {call.method}")
    for key in et.keys:
        if key in values and values[key] != record[key]:
            raise violation(f"Key property '{key}' cannot be changed")
    guard(call, set_name, record)
    record.update(values)
    if set_name == "MaintenanceOrder" and set(values) & set(MO_SPLITS):
        split_datetimes(record)
    bump(call, set_name, record)
    return Reply(204, headers=[("dataserviceversion", "2.0")])


def create(call, set_name):
    """POST to an entity set; only purchase orders (with deep-inserted items) can be created."""
    if set_name != "A_PurchaseOrder":
        raise SapError(
            501, NOT_IMPLEMENTED, f"Method '{set_name.upper()}_CREATE_ENTITY' not implemented in the stand-in"
        )
    header_et, item_et = call.model.sets["A_PurchaseOrder"], call.model.sets["A_PurchaseOrderItem"]
    values, navs = fields(header_et, payload(call), "creatable")
    unsupported = sorted(set(navs) - {"to_PurchaseOrderItem"})
    if unsupported:
        raise SapError(501, NOT_IMPLEMENTED, f"Deep insert of '{unsupported[0]}' is not supported by the stand-in")
    given = navs.get("to_PurchaseOrderItem", [])
    given = given.get("results") if isinstance(given, dict) else given
    if not isinstance(given, list) or not all(isinstance(item, dict) for item in given):
        raise violation('to_PurchaseOrderItem must be {"results": [items]} or an array of items')
    items = []
    for item in given:
        item_values, item_navs = fields(item_et, item, "creatable")
        if item_navs:
            raise SapError(
                501, NOT_IMPLEMENTED, f"Deep insert of '{next(iter(item_navs))}' is not supported by the stand-in"
            )
        items.append(item_values)
    errors = purchase_order_errors(values, items)
    if errors:
        raise SapError(400, *errors[0], details=errors)
    number = str(max(int(n) for (n,) in call.data["A_PurchaseOrder"]) + 1)
    today = midnight(utc_now())
    currency = values.get("DocumentCurrency") or "EUR"
    header = make(
        header_et,
        {
            **supplier_fields(values["Supplier"]),
            "DocumentCurrency": currency,
            "ExchangeRate": "1.00000",
            "PurchaseOrderDate": today,
            **values,
            "PurchaseOrder": number,
            "PurchasingProcessingStatus": "02",
            "CreationDate": today,
            "LastChangeDateTime": call.state.stamp(),
            "CreatedByUser": call.tenant.upper()[:12],
        },
    )
    call.data["A_PurchaseOrder"][(number,)] = header
    for item in items:
        record = make(
            item_et,
            {
                **item_defaults(currency),
                **material_fields(item.get("Material")),
                **plant_fields(item["Plant"]),
                **item,
                "PurchaseOrder": number,
            },
        )
        call.data["A_PurchaseOrderItem"][(number, record["PurchaseOrderItem"])] = record
    location = f"{call.root}/A_PurchaseOrder{odata.key_predicate(header_et, header)}"
    body = {"d": render(call, "A_PurchaseOrder", header, None, {"to_PurchaseOrderItem": {}})}
    return json_reply(201, body, headers=[("Location", location)])


def purchase_order_errors(values, items):
    """SAP's messages (code, text, target) against a new purchase order; numbers the items on the way."""
    errors = [("MEPO/002", f"Enter a value for {name}", name) for name in PO_REQUIRED if not values.get(name)]
    supplier = values.get("Supplier")
    if supplier and supplier not in SUPPLIERS:
        errors.append(("ME/083", f"Supplier {supplier} does not exist", "Supplier"))
    elif supplier in BLOCKED_SUPPLIERS:
        errors.append(("ME/042", f"Supplier {supplier} is blocked for purchasing", "Supplier"))
    if not items:
        errors.append(("MEPO/002", "Enter at least one item", "to_PurchaseOrderItem"))
    numbers = set()
    for item in items:
        given = item.get("PurchaseOrderItem", "")
        number = str(int(given)) if given.isdigit() else str(max(map(int, numbers), default=0) // 10 * 10 + 10)
        item["PurchaseOrderItem"] = number
        if number in numbers:
            errors.append(("MEPO/002", f"Item {number} is given twice", "PurchaseOrderItem"))
        numbers.add(number)
        if not item.get("Plant"):
            errors.append(("MEPO/002", f"Enter a value for Plant (item {number})", "Plant"))
        if item.get("OrderQuantity") is None or item["OrderQuantity"] <= 0:
            errors.append(("MEPO/002", f"Enter an order quantity greater than zero (item {number})", "OrderQuantity"))
        material = item.get("Material")
        if not material and not item.get("PurchaseOrderItemText"):
            errors.append(("MEPO/002", f"Enter a material or a short text (item {number})", "Material"))
        elif material and material not in MATERIALS:
            errors.append(
                ("M3/305", f"Material {material} does not exist or is not activated (item {number})", "Material")
            )
    return errors


def function_import(call, function):
    """A function import: maintenance-order status changes."""
    if call.method != function.method:
        raise SapError(
            405,
            NOT_IMPLEMENTED,
            f"Function import '{function.name}' is called with {function.method}, not {call.method}",
            violation=True,
        )
    params = {}
    for name, prop in function.params.items():
        if name in call.request.params:
            params[name] = odata.parse_literal(call.request.params[name], prop)
        elif not prop.nullable:
            raise violation(f"Mandatory parameter '{name}' of function import '{function.name}' is missing")
    if function.name not in MO_TRANSITIONS:
        raise SapError(501, NOT_IMPLEMENTED, f"Function import '{function.name}' not implemented in the stand-in")
    number = params["MaintenanceOrder"]
    order = call.data["MaintenanceOrder"].get((number,))
    if order is None:
        raise not_found(f"MaintenanceOrder('{number}')")
    needs, sets = MO_TRANSITIONS[function.name]
    status = order["SystemStatusText"].split()[0]
    if status != needs:
        raise SapError(400, "BS/013", f"System status {status} is active (ORD {number})")
    order["SystemStatusText"] = f"{sets:<4}{order['SystemStatusText'][4:]}"
    bump(call, "MaintenanceOrder", order)
    result = odata.EntityType(function.returns, [], function.result)
    body = {
        "__metadata": {"type": function.returns},
        **{n: odata.to_json(result, p, {}) for n, p in function.result.items()},
    }
    return json_reply(200, {"d": {function.name: body}})


def touch(state, payload, origin):
    """POST /_standin/touch: change a record as a user inside SAP would, stamping the change.
    With "afterNextPage": true, the change is made just after the tenant's next read of a page of
    that entity set (a client paging through the set meets a change between two pages)."""
    tenant, set_name, key, changes = (payload.get(k) for k in ("tenant", "entitySet", "key", "changes"))
    service = state.service_of(set_name) if isinstance(set_name, str) else None
    if not isinstance(tenant, str) or service is None or not isinstance(changes, dict):
        raise ValueError("need tenant, a seeded entitySet, key and changes")
    if payload.get("afterNextPage"):
        return 200, {"deferred": state.plane.touches.defer(tenant, set_name, payload)}
    et = service.model.sets[set_name]
    key = key if isinstance(key, dict) else {et.keys[0]: key}
    call = Call(state, Request("POST", "/_standin/touch", [], {}, b"", origin), tenant, service, "POST")
    matches = [r for r in call.data[set_name].values() if all(r.get(k) == v for k, v in key.items())]
    if len(matches) != 1:
        raise LookupError(f"{len(matches)} records of {set_name} match {key}")
    values = {}
    for name, value in changes.items():
        if name not in et.props:
            raise ValueError(f"{et.qualified} declares no property '{name}'")
        values[name] = odata.from_json(et.props[name], value)
    matches[0].update(values)
    if set_name == "MaintenanceOrder":
        split_datetimes(matches[0])
    bump(call, set_name, matches[0])
    return 200, {"d": render(call, set_name, matches[0], None, {})}


def check_fault(entry):
    """A response POST /_standin/faults takes: {status, retryAfter?, code?, message?} | {delaySeconds} |
    {stallSeconds} | {status: 403, csrf: true}; a csrf one answers 403 even without a status."""
    try:
        if not ({"status", "delaySeconds", "stallSeconds"} & entry.keys()) and not entry.get("csrf"):
            raise ValueError(f"fault {entry} has no status, csrf, delaySeconds or stallSeconds")
        HTTPStatus(int(entry.get("status", 403)))  # ValueError for a status HTTP does not have
        float(entry.get("delaySeconds", 0))
        float(entry.get("stallSeconds", 0))
    except (ValueError, TypeError) as error:
        raise ControlError(400, str(error)) from None
    return {"status": 403, **entry} if entry.get("csrf") else entry


def change_password(state, payload):
    """POST /_standin/password: a user's (or OAuth client's) new password, as its administrator
    would set it in SAP; the old one fails from the next request on."""
    if not isinstance(payload.get("tenant"), str) or not isinstance(payload.get("password"), str):
        raise ValueError("need tenant and password")
    state.passwords[payload["tenant"]] = payload["password"]
    return 200, {"tenant": payload["tenant"]}


def control(state, request):
    """Answer a /_standin/ request (no auth) as state.plane routes it."""
    try:
        with state.lock:
            status, document = state.plane.answer(request)
    except ControlError as error:
        status, document = error.status, {"error": str(error)}
    except LookupError as error:
        status, document = 404, {"error": str(error)}
    except (ValueError, TypeError, AttributeError) as error:
        status, document = 400, {"error": str(error)}
    return json_reply(status, document)


class Handler(standin_http.RequestHandler):
    """Hands a request to control() or serve(), writes the reply."""

    def version_string(self):
        """The Server header SAP sends."""
        return "SAP NetWeaver Application Server"

    def answer(self):
        """Answer any method."""
        state = self.server.state
        if self.route.startswith("/_standin/"):
            self.write(control(state, self))
        else:
            self.write(serve(state, Request(self.command, self.path, self.params, self.headers, self.body, self.base)))

    def failed(self):
        """The stand-in's own 500."""
        self.write(json_reply(
            500, {"error": {"code": "STANDIN/500", "message": {"lang": "en", "value": "stand-in failure"}}}
        ))

    def write(self, reply):
        """Send a Reply (its body not to HEAD)."""
        self.send_response(reply.status)
        for name, value in reply.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(reply.body)

    do_HEAD = do_MERGE = standin_http.RequestHandler.dispatch


def main():
    """Parse the command line, load the services, serve until interrupted."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True, help="port to listen on (0 picks a free one)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--flavour", choices=("s4hana", "ecc"), default="s4hana")
    parser.add_argument("--page-size", type=int, default=20, help="most records in one collection answer")
    args = parser.parse_args()
    server = ThreadingHTTPServer((args.host, args.port), Handler)
    server.state = State(load_services(args.flavour), args.flavour, args.page_size)
    standin_http.serve(server, f"sap stand-in ({args.flavour}) on http://{args.host}:{server.server_address[1]}")


if __name__ == "__main__":
    main()
