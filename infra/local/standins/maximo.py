"""A local stand-in for IBM Maximo's REST API (the OSLC JSON API of Maximo 7.6 and MAS Manage).

The Maximo connector's tests and local dev talk to this server instead of a real Maximo. It serves
six object structures under /maximo/api/os/ — mxapipo (with its poline children), mxapiwodetail,
mxapiasset, mxapiinventory, mxapivendor, mxapilocation — in Maximo's lean JSON format, and behaves
the way a connector depends on: oslc.select / oslc.where / oslc.orderBy, oslc.pageSize + pageno
paging with responseInfo.nextPage, collectioncount, creates (properties header, Location), updates
(x-method-override: PATCH, patchtype: MERGE), status changes (action=wsmethod:changeStatus), the
approved-PO rule, and Maximo's error body. Where Maximo would be lenient or silently do something
else, the stand-in is strict on purpose so that a connector bug shows: unknown attributes in
oslc.select / oslc.where / oslc.orderBy / bodies, a missing lean=1, a '+' that was not URL-encoded,
a read-only attribute in a body are refused with 400 and recorded at /_standin/violations.

Authentication: header `apikey: demo-…` (the key is the tenant) or `maxauth: base64(user:password)`
with the password Millwright-Demo-1 (the user is the tenant). Each tenant gets its own copy of the
seed data on first use, so concurrent tests never see each other's writes.

The seed data is the stand-in's own, in maximo_seed.json beside this file: a small plant at site
BEDFORD with its vendors, locations, assets, inventory, work orders and purchase orders, each record
its stored attributes in the lean JSON form. At start-up the server dates the records back from
its start (changedate and the other dates, distinct and in an order unlike key order), numbers the
PO lines and fills what follows from other records: costs, item descriptions and, as the attribute
sets Maximo's own apps select show them, aliases through a related object (`vendordesc`,
`polinecount`, `matreceiptinput`, `assetdesc`, `assetnumber`, `assetisrunning`, `locationdesc`,
`childcount`, …), served as ordinary attributes. A structure knows the attributes, and their kinds,
its seed records have. The attribute set of each structure is IBM's: the attributes of the lean
records in IBM's Maximo app fixtures, and where those lack them, attributes IBM documents
(`changedate` on every object, `status`/`statusdate`/`revisionnum`/`siteid`/`orgid`/`currencycode`/
`totalcost`/`requireddate` on PO, `unitcost`/`linecost` on POLINE, `siteid`/`assetnum`/
`targstartdate`/`targcompdate`/`statusdate`/`reportdate`/`actfinish` on WORKORDER, `serialnum` on
ASSET, `itemsetid`/`curbaltotal`/`avgcost` on INVENTORY, `parent` on LOCATIONS);
tests/standins/test_maximo.py holds the seed file and what is served to IBM's fixtures where those
files are at hand. Nothing outside this folder is read: the stand-in starts on a bare checkout.

    python3 infra/local/standins/maximo.py --port 8901 [--host 127.0.0.1] [--max-page-size 100]

prints `maximo stand-in on http://127.0.0.1:8901` once it listens (--port 0 picks a free port).
Control endpoints (no auth, JSON), the common ones served by standin_control.py (see there):
GET /_standin/health; GET and DELETE /_standin/requests[?tenant=T] and /_standin/violations[?tenant=T];
POST /_standin/faults {"tenant", "match"?, "method"?, "responses": [{"status", "retryAfter"?} |
{"delaySeconds"} | {"stallSeconds"}]} (answered 201 with the rule queued) and DELETE
/_standin/faults[?tenant=T]; and this stand-in's POST /_standin/touch {"tenant", "objectStructure",
"key", "changes"} (with "afterNextPage": true, the change waits for the tenant's next read of a page
of that structure).
"""

import argparse
import base64
import copy
import json
import math
import operator
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from http.server import ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote, urlencode

from standin_control import ControlError, ControlPlane, faulted
from standin_http import RequestHandler, serve

DEMO_PASSWORD = "Millwright-Demo-1"
API = "/maximo/api/os/"
SEED_FILE = Path(__file__).with_name("maximo_seed.json")
ORG, ITEMSET = "EAGLENA", "SET1"
ALL = "*"  # a selection of every attribute

# Reason codes. Maximo's own for these cases: BMXAA7901E (login), BMXAA8744E (query not parsed),
# BMXAA4195E ("A value is required for …"), BMXAA2661E (invalid location), BMXAA0024E, BMXAA4129E and
# BMXAA4214E. BMXAA8727E, BMXAA4179E, BMXAA4155E, BMXAA4590E, and BMXAA4195E for a read-only field,
# are the codes the connector contract names. Unknown attributes, which Maximo ignores or fails on
# in other ways, get the query-parser code.
LOGIN = "BMXAA7901E"
NOT_FOUND = "BMXAA8727E"
NOT_UNDERSTOOD = "BMXAA8744E"
READ_ONLY = "BMXAA4195E"
REQUIRED = "BMXAA4195E"
APPROVED = "BMXAA4179E"
INVALID_VENDOR = "BMXAA4155E"
INVALID_STATUS = "BMXAA4590E"
INVALID_LOCATION = "BMXAA2661E"
EXISTS = "BMXAA4129E"
CHANGED_MEANWHILE = "BMXAA8229W"  # "… has been updated by another user", on a stale If-Match
NOT_ALLOWED = "BMXAA0024E"
UNKNOWN_ERROR = "BMXAA4214E"
PLUS_HINT = " (a '+' that is not URL-encoded arrives as a space)"

# Synonym domains (value -> description) as IBM documents them; where a sample shows a text, it is its.
PO_STATUS = {"WAPPR": "Waiting on approval", "APPR": "Approved", "INPRG": "In progress",
             "CLOSE": "Closed", "CAN": "Canceled"}
WO_STATUS = {"WAPPR": "Waiting on approval", "APPR": "Approved", "INPRG": "In progress",
             "COMP": "Completed", "CLOSE": "Closed", "CAN": "Canceled"}
RECEIPTS = {"NONE": "No Parts received", "PARTIAL": "Some parts received", "COMPLETE": "All parts received"}
LOCASSETSTATUS = {"OPERATING": "Operating", "NOT READY": "Not Ready", "DECOMMISSIONED": "Decommissioned"}
LOCTYPE = {"OPERATING": "Operating Location", "STOREROOM": "Storeroom Location"}
COMPTYPE = {"V": "Vendor", "M": "Manufacturer", "C": "Courier"}
ITEMSTATUS = {"ACTIVE": "Active", "PENDOBS": "Pending Obsolescence", "OBSOLETE": "Obsolete",
              "PLANNING": "Planning"}
LINETYPE = {"ITEM": "Item", "MATERIAL": "Material", "SERVICE": "Service", "TOOL": "Tool"}
LOTTYPE = {"NOLOT": "Item without Lot", "LOT": "Lot"}

PO_MOVES = {"WAPPR": {"APPR", "CAN"}, "APPR": {"INPRG", "CLOSE", "CAN"}, "INPRG": {"CLOSE", "CAN"}}
WO_MOVES = {"WAPPR": {"APPR", "CAN"}, "APPR": {"INPRG", "COMP", "CAN"}, "INPRG": {"COMP", "CAN"},
            "COMP": {"CLOSE"}}

OPERATORS = {"=": operator.eq, "!=": operator.ne, ">": operator.gt, ">=": operator.ge,
             "<": operator.lt, "<=": operator.le}
AND = re.compile(r"\s+and\s+", re.I)
COMMA = re.compile(r",")
TERM = re.compile(r"\s*([A-Za-z_][\w.]*)\s*(>=|<=|!=|=|>|<)\s*(.+?)\s*", re.S)
IN_TERM = re.compile(r"\s*([A-Za-z_][\w.]*)\s+in\s*\[(.*)\]\s*", re.S | re.I)
SELECT_ITEM = re.compile(r"\s*([\w.\-]+)\s*(?:\{(.*)\})?\s*", re.S)


class Refusal(Exception):
    """A Maximo error answer; `violation` marks a request that breaks the API contract itself."""

    def __init__(self, status, code, text, violation=False):
        super().__init__(f"{code} - {text}")
        self.status, self.code, self.violation = status, code, violation


def misuse(text):
    """A request the API contract does not allow: 400, recorded as a violation."""
    return Refusal(400, NOT_UNDERSTOOD, text, violation=True)


def query_error(text):
    return misuse(f"The OSLC query was not parsed. {text}")


def required(attribute, mbo):
    return Refusal(400, REQUIRED, f"A value is required for the {attribute.upper()} field on the {mbo} object.")


def not_allowed(action, mbo):
    return Refusal(405, NOT_ALLOWED, f"The action {action} is not allowed on object {mbo}. Verify the business "
                   "rules for the object and define the appropriate action for the object.")


def now():
    return datetime.now(timezone.utc).replace(microsecond=0)


def iso(moment):
    """Maximo's date-time form: ISO 8601, seconds, with the offset (here always +00:00)."""
    return moment.astimezone(timezone.utc).isoformat()


def parse_iso(text):
    """An ISO 8601 date-time with a UTC offset, or None."""
    try:
        moment = datetime.fromisoformat(text)
    except (TypeError, ValueError):
        return None
    return moment if moment.tzinfo else None


def rest_id(values):
    """Maximo's id for key values: base64 of the values joined by '/', written as the samples' hrefs
    write it ('+' as '_', '=' padding as '-'). Printable ASCII keys without '?' never give a '/'."""
    raw = base64.b64encode("/".join(str(v) for v in values).encode()).decode()
    return raw.replace("+", "_").replace("=", "-")


def kind(value):
    """The JSON kind of a value, with ISO date-times told apart from other strings."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "datetime" if parse_iso(value) else "string"
    return "json"


def fits(expected, value):
    """Whether a body value has the kind of the attribute it sets (any value fits a JSON attribute)."""
    return expected == "json" or kind(value) == expected or (expected == "string" and isinstance(value, str))


def one(records, **match):
    """The first record whose attributes equal `match`, or None."""
    return next((r for r in records if all(r.get(k) == v for k, v in match.items())), None)


def without_nulls(record):
    """Maximo's lean JSON leaves out attributes that have no value."""
    return {k: v for k, v in record.items() if v is not None}


def seed_times(start, count, offset):
    """Distinct change times between 60 and 1 days before `start`, in an order unlike key order."""
    order = sorted(range(count), key=lambda i: ((i * 37) % 101, i))
    step = (59 * 86400 - 10) // max(count - 1, 1)
    times = [None] * count
    for slot, index in enumerate(order):
        times[index] = start - timedelta(days=60) + timedelta(seconds=offset + slot * step)
    return times


def split_outside(text, separator):
    """Split on a separator pattern found outside "quotes", [brackets] and {braces}."""
    parts, depth, quoted, start, i = [], 0, False, 0, 0
    while i < len(text):
        ch = text[i]
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch in "[{":
            depth += 1
        elif not quoted and ch in "]}":
            depth -= 1
        elif not quoted and depth == 0:
            found = separator.match(text, i)
            if found and found.end() > i:
                parts.append(text[start:i])
                start = i = found.end()
                continue
        i += 1
    parts.append(text[start:])
    return parts


class Seed:
    """The stand-in's seed data, read at start-up from maximo_seed.json (see the module docstring)."""

    def __init__(self, path=SEED_FILE):
        self.data = json.loads(Path(path).read_text("utf-8"))
        self.items = [(item["itemnum"], item["description"]) for item in self.data["items"]]
        self.line = self.data["mxapipo"]["line"]

    def records(self, structure):
        """A structure's records, each over the structure's defaults (fresh copies; nulls left out, as lean JSON does)."""
        part = self.data[structure]
        defaults = part.get("defaults", {})
        return [without_nulls(copy.deepcopy({**defaults, **record})) for record in part["records"]]


@dataclass
class Child:
    """A child object of a structure, served as an array inside its parent."""
    relation: str  # the URL segment of its localref and of the parent's <name>_collectionref
    uid: str  # its unique id, which its localref names
    childkey: Callable  # (parent, child) -> the key values its http://childkey# href encodes
    domains: dict
    writable: frozenset = frozenset()


class Structure:
    """One object structure: its key, domains, derived attributes, children, seed and write rules."""

    name = mbo = main = ""
    key = ()
    domains = {}
    derived = {}  # attribute -> f(tenant data, record), aliases of related records' attributes
    children = {}
    creatable = updatable = frozenset()  # empty: the structure is read-only through the API
    required = ()
    moves = {}

    def learn(self, records):
        """Take the attribute kinds, and so the known attributes, from the seeded records."""
        self.kinds = {}
        self.child_kinds = {name: {} for name in self.children}
        for record in records:
            for attribute, value in record.items():
                if attribute in self.children:
                    for row in value:
                        for name, item in row.items():
                            self.child_kinds[attribute].setdefault(name, kind(item))
                elif attribute != "_rowstamp":
                    self.kinds.setdefault(attribute, kind(value))

    def names(self):
        """Every name a select clause or a body may use."""
        return (set(self.kinds) | set(self.derived) | set(self.children) | {"href", "_rowstamp"}
                | {f"{d}_description" for d in self.domains})

    def child_names(self, name):
        """Every name a child selection or a child row of a body may use."""
        child = self.children[name]
        return (set(self.child_kinds[name]) | {"href", "localref", "_rowstamp"}
                | {f"{d}_description" for d in child.domains})

    def queryable(self, attribute):
        """The kind of an attribute oslc.where and oslc.orderBy may use; refuses any other name."""
        name = attribute.lower()
        if self.kinds.get(name, "json") == "json":
            raise query_error(f"{attribute} is not an attribute of {self.name} that a query can use.")
        return name, self.kinds[name]

    def seed(self, seed, times, seeded):
        """The structure's seed records, from the seed file, dated: `times(n)` gives n change times,
        `seeded` holds the records of the structures seeded before."""
        records = seed.records(self.name)
        for record, when in zip(records, times(len(records))):
            self.dated(record, when)
            self.check(seeded, record)
        return records

    def dated(self, record, when):
        """Set a seed record's dates, from its change time."""
        record["changedate"] = iso(when)

    # Write rules; a writable structure overrides what applies to it.
    def defaults(self, at):
        return {}

    def check(self, data, record):
        """Refuse a record whose references are not valid."""

    def locked(self, record):
        """The refusal an update of this record gets, if any."""
        return None

    def write_children(self, stand, record, body, merge):
        """Apply the child arrays of a create or update body."""

    def settle(self, record):
        """Recompute the attributes that follow from others."""

    def moved(self, record):
        """Set what a status change sets besides the status and its date."""

    def selection(self, text):
        """An oslc.select, oslc.properties or properties clause over this structure."""
        return parse_select(text, self.names() - set(self.children), self.name,
                            {name: self.child_names(name) for name in self.children})

    def check_body(self, body, writable):
        """Refuse a body that names unknown or read-only attributes or gives values of the wrong kind."""
        if not isinstance(body, dict):
            raise misuse("The request body must be a JSON object.")
        check_fields(body, self.kinds, self.names(), writable, self.name)
        for name, child in self.children.items():
            if name in body:
                rows = body[name]
                if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
                    raise misuse(f"{name} must be an array of objects.")
                for row in rows:
                    check_fields(row, self.child_kinds[name], self.child_names(name), child.writable, name)

    def stored(self, body):
        """A body's attributes as the record keeps them: date-times in Maximo's own form, children apart."""
        return {k: iso(parse_iso(v)) if v is not None and self.kinds.get(k) == "datetime" else v
                for k, v in body.items() if k not in self.children}

    def require(self, record):
        """Refuse a record without a value for a required attribute."""
        for attribute in self.required:
            if record.get(attribute) in (None, ""):
                raise required(attribute, self.mbo)

    def create(self, stand, data, body):
        """Add a record from a create body: defaults, then the body; the main key is numbered when absent."""
        self.check_body(body, self.creatable)
        at = now()
        record = {**self.defaults(at), **without_nulls(self.stored(body))}
        self.require(record)
        if record.get(self.main) is None:
            numbers = [int(r[self.main]) for r in data[self.name] if str(r[self.main]).isdigit()]
            record[self.main] = str(max(numbers, default=1000) + 1)
        elif one(data[self.name], **{k: record.get(k) for k in self.key}):
            names = ", ".join(f"{k.upper()}={record.get(k)}" for k in self.key)
            raise Refusal(400, EXISTS, f"Record already exists for {names}. Ensure that the key value for the "
                          "given record is unique.")
        record.update(statusdate=iso(at), changedate=iso(at), _rowstamp=stand.next_number())
        self.write_children(stand, record, body, merge=False)
        self.check(data, record)
        self.settle(record)
        data[self.name].append(record)
        return record

    def update(self, stand, data, record, body, merge):
        """Apply an update body (attributes set to null are cleared), all of it or none of it."""
        self.check_body(body, self.updatable)
        refusal = self.locked(record)
        if refusal:
            raise refusal
        draft = copy.deepcopy(record)
        draft.update(self.stored(body))
        draft = without_nulls(draft)
        self.require(draft)
        self.write_children(stand, draft, body, merge)
        self.check(data, draft)
        self.settle(draft)
        self.commit(stand, record, draft)

    def change_status(self, stand, record, body):
        """The changeStatus web method: a move the status rules allow, dated now unless the body says."""
        if not isinstance(body, dict):
            raise misuse("The request body must be a JSON object.")
        fields = {"status": "string", "memo": "string", "date": "datetime"}
        check_fields(body, fields, set(fields), set(fields), "wsmethod:changeStatus")
        status = body.get("status")
        if not status:
            raise required("status", self.mbo)
        if status not in self.moves.get(record["status"], ()):
            raise Refusal(400, INVALID_STATUS, f"The status cannot be changed from {record['status']} to {status}.")
        at = now()
        draft = copy.deepcopy(record)
        draft.update(status=status, statusdate=iso(parse_iso(body["date"]) if body.get("date") else at))
        self.moved(draft)
        self.commit(stand, record, draft, at)

    def touch(self, stand, record, changes):
        """Change stored attributes the way a Maximo user would (for /_standin/touch)."""
        at = now()
        draft = copy.deepcopy(record)
        draft.update(changes)
        if "status" in changes:
            draft["statusdate"] = iso(at)
        self.commit(stand, record, without_nulls(draft), at)

    def commit(self, stand, record, draft, at=None):
        """Replace a record by its changed draft, with a new changedate (`at`, else now) and rowstamp."""
        draft.update(changedate=iso(at or now()), _rowstamp=stand.next_number())
        record.clear()
        record.update(draft)


class PurchaseOrders(Structure):
    """mxapipo: purchase orders (PO) with their lines (POLINE), writable."""
    name, mbo, main = "mxapipo", "PO", "ponum"
    key = ("ponum", "revisionnum", "siteid")
    domains = {"status": PO_STATUS, "receipts": RECEIPTS}
    children = {"poline": Child(
        relation="poline", uid="polineid",
        childkey=lambda po, line: ("PO", "POLINE", line["polinenum"], po["ponum"], po["revisionnum"], po["siteid"]),
        domains={"linetype": LINETYPE, "lottype": LOTTYPE},
        writable=frozenset({"polinenum", "itemnum", "description", "orderqty", "orderunit", "unitcost"}))}
    creatable = frozenset({"ponum", "siteid", "orgid", "vendor", "description", "currencycode", "orderdate",
                           "requireddate", "poline"})
    updatable = creatable - {"ponum", "siteid", "orgid"}
    required = ("siteid", "vendor")
    moves = PO_MOVES
    derived = {
        "vendordesc": lambda data, po: (one(data["mxapivendor"], company=po.get("vendor")) or {}).get("name"),
        "polinecount": lambda data, po: len(po.get("poline", [])),
        "matreceiptinput": lambda data, po: [without_nulls({"itemnum": line.get("itemnum"),
                                                            "description": line.get("description"),
                                                            "ponum": po["ponum"]})
                                             for line in po.get("poline", [])] or None,
    }

    def seed(self, seed, times, seeded):
        # The item master and the line shape serve the lines of later creates and updates too.
        self.items, self.line_template = seed.items, seed.line
        records = seed.records(self.name)
        for i, (po, when) in enumerate(zip(records, times(len(records)))):
            po.update(orderdate=iso(when - timedelta(days=2)), statusdate=iso(when),
                      requireddate=iso(when + timedelta(days=12)), changedate=iso(when))
            for transaction in po.get("unapprovedmatrectrans", []):
                transaction.update(ponum=po["ponum"], actualdate=iso(when - timedelta(hours=3)))
            po["poline"] = [self.line(po, j + 1, 40000 + 10 * i + j, values) for j, values in enumerate(po["poline"])]
            self.check(seeded, po)
            self.settle(po)
        return records

    def line(self, po, polinenum, polineid, values):
        """A POLINE in the shape of the seed's lines; an item's description comes from the item."""
        line = {**copy.deepcopy(self.line_template), "ponum": po["ponum"], "siteid": po["siteid"],
                "orgid": po["orgid"], "polinenum": polinenum, "polineid": polineid, "unitcost": 0, **values}
        return self.settled_line(line)

    def settled_line(self, line):
        """Check a line and fill what follows from its item."""
        itemnum = line.get("itemnum")
        known = dict(self.items)
        if itemnum in known:
            line.setdefault("description", known[itemnum])
            line["itemid"] = 100 + list(known).index(itemnum)
        else:
            line.pop("itemid", None)
        if not itemnum and not line.get("description"):
            raise required("description", "POLINE")
        if line.get("orderqty") is None:
            raise required("orderqty", "POLINE")
        if line["orderqty"] <= 0:
            raise Refusal(400, REQUIRED, "A value greater than 0 is required for the ORDERQTY field on the POLINE object.")
        line["linetype"] = "ITEM" if itemnum else "MATERIAL"
        if itemnum:
            line.setdefault("itemsetid", ITEMSET)
        else:
            line.pop("itemsetid", None)
        return line

    def defaults(self, at):
        return {"revisionnum": 0, "status": "WAPPR", "orgid": ORG, "orderdate": iso(at), "receipts": "NONE",
                "currencycode": "USD"}

    def check(self, data, po):
        vendor = one(data["mxapivendor"], company=po.get("vendor"))
        if vendor is None or vendor.get("disabled") or vendor.get("type") != "V":
            raise Refusal(400, INVALID_VENDOR, f"Company {po.get('vendor')} is not a valid vendor.")

    def locked(self, po):
        if po["status"] == "APPR":
            return Refusal(400, APPROVED, f"PO {po['ponum']} is approved. To change it, create a revision.")
        return None

    def write_children(self, stand, po, body, merge):
        """Lines of a body replace the PO's lines, or with patchtype MERGE update those with the
        same polinenum and add the others; a line's attributes set to null are cleared."""
        if "poline" not in body:
            return
        lines = po.get("poline", []) if merge else []
        for entry in body["poline"]:
            line = one(lines, polinenum=entry.get("polinenum")) if "polinenum" in entry else None
            if line is None:
                number = entry.get("polinenum") or 1 + max((l["polinenum"] for l in lines), default=0)
                line = self.line(po, number, stand.next_number(), {k: v for k, v in entry.items() if v is not None})
                lines.append(line)
            else:
                line.update(entry)
                for name in [k for k, v in line.items() if v is None]:
                    del line[name]
                self.settled_line(line)
            line["_rowstamp"] = stand.next_number()
        po["poline"] = lines

    def settle(self, po):
        for line in po.get("poline", []):
            line["linecost"] = round(line["orderqty"] * line.get("unitcost", 0), 2)
        po["totalcost"] = round(sum(line["linecost"] for line in po.get("poline", [])), 2)


class WorkOrders(Structure):
    """mxapiwodetail: work orders (WORKORDER), writable."""
    name, mbo, main = "mxapiwodetail", "WORKORDER", "wonum"
    key = ("siteid", "wonum")  # the sample's hrefs encode SITEID/WONUM
    domains = {"status": WO_STATUS}
    creatable = frozenset({"wonum", "siteid", "description", "assetnum", "location", "wopriority", "worktype",
                           "targstartdate", "targcompdate", "schedfinish", "reportdate"})
    updatable = creatable - {"wonum", "siteid", "reportdate"}
    required = ("siteid", "description")
    moves = WO_MOVES
    derived = {
        "assetnumber": lambda data, wo: wo.get("assetnum"),
        "assetdesc": lambda data, wo: (WorkOrders.asset(data, wo) or {}).get("description"),
        "assetisrunning": lambda data, wo: WorkOrders.running(data, wo),
    }

    @staticmethod
    def asset(data, wo):
        return one(data["mxapiasset"], assetnum=wo["assetnum"], siteid=wo["siteid"]) if wo.get("assetnum") else None

    @staticmethod
    def running(data, wo):
        asset = WorkOrders.asset(data, wo)
        return None if asset is None else asset.get("status") == "OPERATING"

    def dated(self, wo, when):
        """Reported the day before its status; targeted to start a day later and finish in four; finished
        when completed; scheduled to finish at the target once approved."""
        finish = iso(when + timedelta(days=4))
        wo.update(statusdate=iso(when), reportdate=iso(when - timedelta(hours=20)),
                  targstartdate=iso(when + timedelta(days=1)), targcompdate=finish, changedate=iso(when))
        if wo["status"] in ("COMP", "CLOSE"):
            wo["actfinish"] = iso(when)
        if wo["status"] not in ("WAPPR", "CAN"):
            wo["schedfinish"] = finish

    def defaults(self, at):
        return {"status": "WAPPR", "reportdate": iso(at)}

    def moved(self, wo):
        if wo["status"] == "COMP":
            wo["actfinish"] = wo["statusdate"]

    def check(self, data, wo):
        if wo.get("location") and one(data["mxapilocation"], location=wo["location"]) is None:
            raise Refusal(400, INVALID_LOCATION, f"Location {wo['location']} is not a valid location.")


class Assets(Structure):
    """mxapiasset: assets (ASSET), read-only."""
    name, mbo, main = "mxapiasset", "ASSET", "assetnum"
    key = ("assetnum", "siteid")
    domains = {"status": LOCASSETSTATUS}
    derived = {
        "locationdesc": lambda data, a: Assets.at_location(data, a).get("description"),
        "locationglaccount": lambda data, a: Assets.at_location(data, a).get("glaccount"),
        "childcount": lambda data, a: sum(1 for b in data["mxapiasset"] if b.get("parent") == a["assetnum"]),
        "parentassetdesc": lambda data, a: (one(data["mxapiasset"], assetnum=a.get("parent")) or {}).get("description")
                                           if a.get("parent") else None,
    }

    @staticmethod
    def at_location(data, asset):
        return one(data["mxapilocation"], location=asset.get("location"), siteid=asset["siteid"]) or {}

    def check(self, data, asset):
        if asset.get("location") and one(data["mxapilocation"], location=asset["location"]) is None:
            raise Refusal(400, INVALID_LOCATION, f"Location {asset['location']} is not a valid location.")


class Locations(Structure):
    """mxapilocation: locations (LOCATIONS), read-only."""
    name, mbo, main = "mxapilocation", "LOCATIONS", "location"
    key = ("location", "siteid")  # as the LOCATIONS record's href in the asset sample
    domains = {"status": LOCASSETSTATUS, "type": LOCTYPE}
    derived = {"asset": lambda data, loc: [
        without_nulls({k: a.get(k) for k in ("assetnum", "description", "location", "priority")})
        for a in data["mxapiasset"] if a.get("location") == loc["location"]] or None}


class Inventory(Structure):
    """mxapiinventory: an item in a storeroom (INVENTORY), read-only."""
    name, mbo, main = "mxapiinventory", "INVENTORY", "itemnum"
    key = ("itemnum", "itemsetid", "location", "siteid")
    domains = {"status": ITEMSTATUS}

    def check(self, data, row):
        if one(data["mxapilocation"], location=row["location"], type="STOREROOM") is None:
            raise ValueError(f"inventory of {row['itemnum']} is in {row['location']}, which is not a storeroom")


class Vendors(Structure):
    """mxapivendor: companies of type V (COMPANIES) with their contacts, read-only."""
    name, mbo, main = "mxapivendor", "COMPANIES", "company"
    key = ("company", "orgid")
    domains = {"type": COMPTYPE}
    children = {"compcontact": Child(
        relation="int_contact", uid="compcontactid",
        childkey=lambda company, contact: ("COMPANIES", "COMPCONTACT", company["company"], contact["contact"],
                                           company["orgid"]),
        domains={})}


def build_seed(seed_data, start):
    """Every structure and its seed records, stamped with rowstamps in change order; also the last
    rowstamp used, above which the server's counter continues."""
    structures = {s.name: s for s in (Vendors(), Locations(), Assets(), Inventory(), WorkOrders(), PurchaseOrders())}
    seed = {}
    for offset, structure in enumerate(structures.values()):
        seed[structure.name] = structure.seed(seed_data, lambda n, o=offset: seed_times(start, n, o), seed)
    number = 1000
    stamped = sorted(((r, s) for s in structures.values() for r in seed[s.name]), key=lambda pair: pair[0]["changedate"])
    for record, structure in stamped:
        number += 1
        record["_rowstamp"] = number
        for name in structure.children:
            for row in record.get(name, []):
                number += 1
                row["_rowstamp"] = number
    for structure in structures.values():
        structure.learn(seed[structure.name])
    return structures, seed, number


def check_fields(values, kinds, known, writable, what):
    """Refuse unknown names, read-only names and values of the wrong kind in one body object."""
    for name, value in values.items():
        if name not in known:
            raise misuse(f"{name} is not an attribute of {what}.")
        if name not in writable:
            raise Refusal(400, READ_ONLY, f"Field {name.upper()} is read-only.", violation=True)
        if value is not None and name in kinds and not fits(kinds[name], value):
            raise misuse(f"{name} takes a {kinds[name]}, not {json.dumps(value)}.")


def parse_select(text, names, what, children=None):
    """A select clause: ALL, or {name: None for an attribute, ALL or a selection for a child};
    `children` maps each child to the names its own clause may use. Unknown names are refused."""
    if text.strip() == ALL:
        return ALL
    chosen = {}
    for part in split_outside(text, COMMA):
        found = SELECT_ITEM.fullmatch(part)
        if not found:
            raise query_error(f"The select clause cannot name {part.strip()!r}.")
        name, inner = found.group(1).lower(), found.group(2)
        if children and name in children:
            chosen[name] = ALL if inner is None else parse_select(inner, children[name], name)
        elif name in names and inner is None:
            chosen[name] = None
        else:
            raise query_error(f"{found.group(1)} is not an attribute of {what}.")
    return chosen


def literal(text):
    """A value of a where term: "string" (also dates), number, true or false."""
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] == '"':
        return text[1:-1]
    if text in ("true", "false"):
        return text == "true"
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    if re.fullmatch(r"-?\d+\.\d+", text):
        return float(text)
    raise query_error(f"Cannot read the value {text!r}; strings and date-times go in double quotes.")


def operand(expected, attribute, value):
    """A where value as its attribute's kind compares it; refuses a value of another kind."""
    if expected == "datetime":
        moment = parse_iso(value) if isinstance(value, str) else None
        if moment is None:
            hint = PLUS_HINT if isinstance(value, str) and re.search(r"\d \d\d:\d\d$", value) else ""
            raise query_error(f"{attribute} takes an ISO 8601 date-time with its offset in double quotes, like "
                              f'"2026-11-30T10:00:00+00:00", not {value!r}{hint}.')
        return moment
    if expected == "boolean" and not isinstance(value, str) and value in (0, 1):
        return bool(value)
    if expected != "boolean" and fits(expected, value):
        return value
    raise query_error(f"{attribute} is a {expected}; {value!r} is not.")


def comparable(expected, value):
    """A stored value as where and orderBy compare it (date-times as instants)."""
    return parse_iso(value) if expected == "datetime" and value is not None else value


def term_test(structure, term):
    """One where term as a test of a record: =, !=, <, <=, >, >=, in [..]; "%" wildcards and "*"
    (not null) with = and !=. Comparisons with a missing value are false, as in SQL."""
    found = IN_TERM.fullmatch(term)
    if found:
        attribute, expected = structure.queryable(found.group(1))
        wanted = {operand(expected, attribute, literal(v)) for v in split_outside(found.group(2), COMMA)}
        return lambda r: comparable(expected, r.get(attribute)) in wanted
    found = TERM.fullmatch(term)
    if not found:
        raise query_error(f"Cannot read the term {term.strip()!r}.")
    attribute, expected = structure.queryable(found.group(1))
    symbol, value = found.group(2), literal(found.group(3))
    if value == "*" and symbol in ("=", "!="):
        return lambda r: (r.get(attribute) is not None) == (symbol == "=")
    if expected == "string" and symbol in ("=", "!=") and isinstance(value, str) and "%" in value:
        pattern = re.compile(".*".join(re.escape(piece) for piece in value.split("%")), re.I)
        return lambda r: r.get(attribute) is not None and bool(pattern.fullmatch(r[attribute])) == (symbol == "=")
    target, compare = operand(expected, attribute, value), OPERATORS[symbol]
    return lambda r: r.get(attribute) is not None and compare(comparable(expected, r[attribute]), target)


def where_test(structure, text):
    """oslc.where as one test: its terms joined by ' and '."""
    tests = [term_test(structure, term) for term in split_outside(text, AND)] if text and text.strip() else []
    return lambda record: all(test(record) for test in tests)


def ordered(structure, records, text):
    """Records in key order, then by oslc.orderBy (+attr ascending, -attr descending, nulls last when ascending)."""
    records = sorted(records, key=lambda r: tuple(str(r.get(k)) for k in structure.key))
    for term in reversed(text.split(",") if text else []):
        if term.strip()[:1] not in ("+", "-"):
            hint = PLUS_HINT if term.startswith(" ") else ""
            raise query_error(f"The oslc.orderBy term {term!r} needs a leading + or -{hint}.")
        term = term.strip()
        attribute, expected = structure.queryable(term[1:])
        records.sort(key=lambda r: (r.get(attribute) is None, comparable(expected, r.get(attribute))),
                     reverse=term[0] == "-")
    return records


@dataclass
class View:
    """How one answer renders records: its absolute base URL, the tenant's data and the query's flags."""
    base: str
    data: dict
    internal: bool = False  # internalvalues=1: also <attribute>_maxvalue for synonym-domain attributes
    collectionref: bool = True  # ignorecollectionref=1 leaves <child>_collectionref out

    def href(self, structure, record):
        return f"{self.base}{API}{structure.name}/_{rest_id(record[k] for k in structure.key)}"

    def record(self, structure, record, select):
        """A record in the lean format with what `select` names (ALL: everything; None: only the href)."""
        href = self.href(structure, record)
        out = {"href": href}
        if select is None:
            return out
        out["_rowstamp"] = str(record["_rowstamp"])
        if select is ALL:
            stored = [k for k in record if k != "_rowstamp" and k not in structure.children]
            select = dict.fromkeys(stored + list(structure.derived) + list(structure.children), ALL)
        for name, inner in select.items():
            if name in structure.children:
                self.children(structure, name, record, href, inner, out)
            elif name not in ("href", "_rowstamp"):
                derive = structure.derived.get(name)
                self.put(structure.domains, name, derive(self.data, record) if derive else record.get(name), record, out)
        return out

    def children(self, structure, name, record, href, select, out):
        """A child array, each row with its childkey href and localref, and its collection ref."""
        child = structure.children[name]
        rows = []
        for index, row in enumerate(record.get(name, [])):
            item = {"href": "http://childkey#" + rest_id(child.childkey(record, row)),
                    "localref": f"{href}/{child.relation}/{index}-{row[child.uid]}",
                    "_rowstamp": str(row["_rowstamp"])}
            for attribute in [k for k in row if k != "_rowstamp"] if select is ALL else select:
                if attribute not in item:
                    self.put(child.domains, attribute, row.get(attribute), row, item)
            rows.append(item)
        if rows:
            out[name] = rows
            if self.collectionref:
                out[f"{name}_collectionref"] = f"{href}/{child.relation}"

    def put(self, domains, name, value, source, out):
        """Set one attribute, with its domain description (and internal value) beside it."""
        base = name[: -len("_description")]
        if name.endswith("_description") and base in domains:
            value = domains[base].get(source.get(base))
        if value is None:
            return
        out[name] = value
        if name in domains:
            if value in domains[name]:
                out[f"{name}_description"] = domains[name][value]
            if self.internal:
                out[f"{name}_maxvalue"] = value


class Stand:
    """All the server holds, behind one lock: the structures, the one counter, and the control plane
    (standin_control): each tenant's copy of the seed, the request log, the violations, the pending
    faults and the deferred touches."""

    def __init__(self, structures, seed, rowstamp, max_page_size):
        self.lock = threading.Lock()
        self.structures, self.rowstamp, self.max_page_size = structures, rowstamp, max_page_size
        self.plane = ControlPlane(seed, violations=True, fault_reply=lambda rule, pending: (201, rule))
        self.plane.route("POST", "/_standin/touch", Handler.touch)

    def data(self, tenant):
        """The tenant's records, copied from the seed on first use."""
        return self.plane.tenants.get(tenant)

    def next_number(self):
        """The next value of the one counter behind rowstamps and new ids (lock held)."""
        self.rowstamp += 1
        return self.rowstamp


LOGGED_HEADERS = ("x-method-override", "patchtype", "properties", "if-match")
UNKNOWN_ERROR_TEXT = "An unknown error has occurred. Contact your system administrator for assistance."


class Handler(RequestHandler):
    """Routes /maximo/api/os/… to the stand-in's Maximo and /_standin/… to its control endpoints."""

    json_type = "application/json; charset=utf-8"

    def failed(self):
        """Maximo's 500."""
        self.reply(500, self.error_body(Refusal(500, UNKNOWN_ERROR, UNKNOWN_ERROR_TEXT)))

    def error_body(self, refusal):
        """Maximo's error body (lean), whose statusCode is a string."""
        return {"Error": {"extendedError": {"moreInfo": {"href": f"{self.base}/maximo/api/error/messages/{refusal.code}"}},
                          "reasonCode": refusal.code, "message": str(refusal), "statusCode": str(refusal.status)}}

    # The Maximo API.

    def api(self):
        """Answer a Maximo API request, and log it (before the answer, so a test reading the log sees it)."""
        plane, tenant, returned, headers = self.stand.plane, None, None, {}
        try:
            tenant = self.tenant()
            fault = plane.faults.take(tenant, self.command, self.path)
            status, payload, headers, returned = faulted(fault, self.fault, lambda: self.serve(tenant))
        except Refusal as refusal:
            status, payload = refusal.status, self.error_body(refusal)
            if refusal.violation:
                plane.violations.add(tenant, {"method": self.command, "path": self.route, "reason": str(refusal)})
        plane.requests.add(tenant, {
            "method": self.command, "path": self.route,
            "query": {k: v for k, v in self.query.items() if k.lower() != "apikey"},
            "headers": {h: self.headers[h] for h in LOGGED_HEADERS if h in self.headers},
            "status": status, "returned": returned})
        self.reply(status, payload, headers)

    def tenant(self):
        """The tenant the credentials name: a demo- apikey itself, or the maxauth user."""
        key = self.headers.get("apikey")
        if key is None and self.headers.get("maxauth"):
            try:
                user, _, password = base64.b64decode(self.headers["maxauth"], validate=True).decode().partition(":")
            except ValueError:
                user = password = ""
            if user and password == DEMO_PASSWORD:
                return user
        elif key and key.startswith("demo-"):
            return key
        raise Refusal(401, LOGIN, "You cannot log in at this time. Contact the system administrator.")

    def fault(self, fault):
        """The answer an injected fault with a status gives instead of the normal one."""
        refusal = Refusal(fault["status"], UNKNOWN_ERROR, UNKNOWN_ERROR_TEXT)
        headers = {"Retry-After": str(fault["retryAfter"])} if "retryAfter" in fault else {}
        return fault["status"], self.error_body(refusal), headers, None

    def serve(self, tenant):
        """The normal answer: (status, payload, headers, members returned or None)."""
        parts = self.route[len(API):].split("/") if self.route.startswith(API) else []
        structure = self.stand.structures.get(parts[0]) if parts else None
        if structure is None or len(parts) > 2:
            raise Refusal(404, NOT_FOUND, f"The OSLC resource {self.route} was not found as it does not exist in the system.")
        if self.query.get("lean") != "1":
            raise misuse("The stand-in serves the lean JSON format only: send lean=1.")
        with self.stand.lock:
            view = View(self.base, self.stand.data(tenant), self.query.get("internalvalues") == "1",
                        self.query.get("ignorecollectionref") != "1")
            if len(parts) == 1 and self.command == "GET":
                return self.collection(structure, view, tenant)
            if len(parts) == 1 and self.command == "POST":
                return self.create(structure, view)
            if len(parts) == 2:
                record = self.find(structure, view, parts[1])
                if self.command == "GET":
                    text = self.query.get("oslc.select") or self.query.get("oslc.properties")
                    return 200, view.record(structure, record, structure.selection(text) if text else ALL), {}, None
                if self.command == "POST":
                    return self.change(structure, view, record)
        raise not_allowed(self.command, structure.mbo)

    def find(self, structure, view, rest):
        """The record a record URL names, by its rest id."""
        record = next((r for r in view.data[structure.name] if f"_{rest_id(r[k] for k in structure.key)}" == rest), None)
        if record is None:
            raise Refusal(404, NOT_FOUND, f"The OSLC resource {structure.name.upper()} with the ID {rest} was not found "
                          "as it does not exist in the system. In the database, verify whether the resource for the "
                          "ID exists.")
        return record

    def collection(self, structure, view, tenant):
        """A page of a collection query, with responseInfo as Maximo gives it."""
        query = self.query
        test = where_test(structure, query.get("oslc.where"))
        select = structure.selection(query["oslc.select"]) if "oslc.select" in query else None
        chosen = ordered(structure, [r for r in view.data[structure.name] if test(r)], query.get("oslc.orderBy"))
        size = min(self.positive("oslc.pageSize", self.stand.max_page_size), self.stand.max_page_size)
        page = self.positive("pageno", 1)
        members = [view.record(structure, r, select) for r in chosen[(page - 1) * size:page * size]]
        info = {"href": self.base + self.path, "pagenum": page}
        if page * size < len(chosen):
            info["nextPage"] = {"href": self.page_href(page + 1)}
        if page > 1:
            info["previousPage"] = {"href": self.page_href(page - 1)}
        if query.get("collectioncount") == "1":
            info.update(totalCount=len(chosen), totalPages=math.ceil(len(chosen) / size))
        # A Maximo user changes records while a client pages through them (lock held).
        for touch in self.stand.plane.touches.due(tenant, structure.name):
            record = next((r for r in view.data[structure.name] if r[structure.main] == touch["key"]), None)
            if record is not None:
                structure.touch(self.stand, record, touch["changes"])
        return 200, {"member": members, "href": f"{self.base}{API}{structure.name}", "responseInfo": info}, {}, len(members)

    def positive(self, name, default):
        """A query parameter that must be a whole number above 0."""
        text = self.query.get(name)
        if text is None:
            return default
        if not text.isdigit() or int(text) < 1:
            raise query_error(f"{name} must be a whole number above 0, not {text!r}.")
        return int(text)

    def page_href(self, pageno):
        """This request's URL for another page: pageno first, the other parameters as they came."""
        rest = [(k, v) for k, v in self.params if k != "pageno"]
        return f"{self.base}{self.route}?" + urlencode([("pageno", str(pageno))] + rest, quote_via=quote)

    def properties(self, structure):
        """The selection the properties header asks a write to answer with, or None for no body."""
        text = self.headers.get("properties")
        return None if text is None else structure.selection(text)

    def json_body(self):
        try:
            return json.loads(self.body)
        except ValueError:
            raise misuse("The request body is not JSON.") from None

    def create(self, structure, view):
        if not structure.creatable:
            raise not_allowed("Add", structure.mbo)
        if "x-method-override" in self.headers:
            raise misuse("A create (POST to the collection) takes no x-method-override.")
        select = self.properties(structure)
        record = structure.create(self.stand, view.data, self.json_body())
        payload = None if select is None else view.record(structure, record, select)
        return 201, payload, {"Location": view.href(structure, record)}, None

    def change(self, structure, view, record):
        """An update (x-method-override: PATCH) or the changeStatus action on one record."""
        action, override = self.query.get("action"), self.headers.get("x-method-override")
        if (override is None and action is None) or (override is not None and override.upper() != "PATCH"):
            raise misuse("A POST on a record needs x-method-override: PATCH (or ?action=wsmethod:changeStatus).")
        select = self.properties(structure)
        # Optimistic locking as Maximo does it: If-Match names the _rowstamp the writer read.
        expected = self.headers.get("if-match")
        if expected is not None and expected.strip('"') != str(record["_rowstamp"]):
            raise Refusal(412, CHANGED_MEANWHILE, f"Record {structure.mbo} has been updated by another user. "
                          "Refresh the record and try again.")
        if action is None:
            patchtype = self.headers.get("patchtype")
            if not structure.updatable:
                raise not_allowed("Update", structure.mbo)
            if patchtype not in (None, "MERGE"):
                raise misuse(f"patchtype {patchtype!r} is not MERGE (Maximo reads it case-sensitively).")
            structure.update(self.stand, view.data, record, self.json_body(), merge=patchtype == "MERGE")
        elif action == "wsmethod:changeStatus":
            if not structure.moves:
                raise not_allowed("Change Status", structure.mbo)
            structure.change_status(self.stand, record, self.json_body())
        else:
            raise misuse(f"The stand-in does not serve the action {action}.")
        if select is None:
            return 204, None, {}, None
        return 200, view.record(structure, record, select), {}, None

    # Control endpoints.

    def control_answer(self):
        """(status, payload) of a control endpoint, as the control plane routes it."""
        return self.stand.plane.answer(self)

    def touch(self):
        """POST /_standin/touch: change a record as a Maximo user would, and answer it."""
        body = self.control_body()
        structure = self.stand.structures.get(body.get("objectStructure"))
        changes = body.get("changes")
        if (not isinstance(body.get("tenant"), str) or structure is None or not isinstance(body.get("key"), str)
                or not isinstance(changes, dict) or not changes):
            raise ControlError(400, 'touch takes {"tenant", "objectStructure": one of '
                               f'{", ".join(self.stand.structures)}, "key": its main key, "changes": {{attribute: value}}}}.')
        refused = [name for name in changes if name not in structure.kinds or name == "changedate"]
        if refused:
            raise ControlError(400, f"A user cannot change {', '.join(refused)} on {structure.name}.")
        if body.get("afterNextPage"):
            # Made just after the tenant's next read of a page of this structure.
            return 200, {"deferred": self.stand.plane.touches.defer(body["tenant"], structure.name, body)}
        with self.stand.lock:
            data = self.stand.data(body["tenant"])
            record = next((r for r in ordered(structure, data[structure.name], None) if r[structure.main] == body["key"]), None)
            if record is None:
                raise ControlError(404, f"{structure.name} has no record with {structure.main} {body['key']}.")
            structure.touch(self.stand, record, changes)
            return 200, View(self.base, data).record(structure, record, ALL)


def main():
    """Read the seed data, date it, serve until interrupted."""
    parser = argparse.ArgumentParser(description="A local stand-in for IBM Maximo's REST (OSLC JSON) API.")
    parser.add_argument("--port", type=int, required=True, help="0 picks a free port")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--max-page-size", type=int, default=100, help="the largest page served (mxe.oslc.maxpagesize)")
    args = parser.parse_args()
    if args.max_page_size < 1:
        parser.error("--max-page-size must be at least 1")
    try:
        structures, seed, rowstamp = build_seed(Seed(), now())
    except (OSError, ValueError, KeyError, Refusal) as error:
        parser.error(f"the seed data in {SEED_FILE} does not hold: {error}")
    server = ThreadingHTTPServer((args.host, args.port), Handler)
    server.stand = Stand(structures, seed, rowstamp, args.max_page_size)
    serve(server, f"maximo stand-in on http://{args.host}:{server.server_address[1]}")


if __name__ == "__main__":
    main()
