"""A local stand-in for UpKeep's REST API v2 (https://api.onupkeep.com/api/v2).

The UpKeep connector's tests and local dev talk to this server instead of a real UpKeep account. It
speaks UpKeep's wire format as the vendor dossier describes it (../shared/specs/upkeep beside the
checkout: README.md and its example files; section numbers below are the dossier's), and behaves the
way the connector (connectors/upkeep/) depends on.

Served, everything under /api/v2 (a trailing slash is tolerated):
    POST   /auth                  form or JSON `email`, `password` -> {"success": true, "result":
                                  {"sessionToken": "r:" + 32 lowercase alphanumerics, "expiresAt"}}
    DELETE /auth                  with Session-Token -> {"success": true, "message": "session deleted"}
    GET    /<list>                {"success": true, "results": [...]}: limit / offset, orderBy (alias
                                  sort), date ranges, equality filters, includes
    GET    /<list>/{id}           {"success": true, "result": {...}}, includes
    POST   /<list>                create (work-orders, purchase-orders, assets, parts, locations, vendors)
    PATCH  /<list>/{id}           partial update (the same lists) -> {"success": true, "result": {...}}
    GET    /pm                    PM templates: {"success": true, "data": [...], "pagination": {...}},
                                  ?page= (from 1) &pageSize= (25), includes=schedules
    POST   /webhooks              {"title"?, "endpoint", "events": [...]} -> {"success": true, "webhookId"}
    DELETE /webhooks/{id}         {"success": true, "message": "webhook deleted"}
The lists: work-orders, purchase-orders, assets, parts, vendors, locations, users, teams,
purchase-order-categories, asset-downtime-statuses (the last four, and users, read-only here).

Authentication (§2). The password of every demo user is Millwright-Demo-1; the EMAIL (as sent, trimmed)
is the tenant (any email: each tenant gets its own deep copy of the seed on first use, so tests with
distinct emails never see each other's writes). A session acts as the seeded user with that email
(case-insensitively), else as the account's first user (Dana Whitfield, Us3Pw8Ke5D): that user is
createdByUser, updatedBy, assignedByUser, completedByUser, approvedByUser, ... of what the session
writes. The demo connection: dana.whitfield@millwright.example / Millwright-Demo-1. Every other route
needs the header Session-Token (any capitalisation of the name) of a live token, else 401 {"success":
false, "message": ...}: "Missing Session-Token header", "Invalid session token" (never issued, or logged
out) or "Session token has expired" (past --token-ttl, or after /_standin/expire-tokens).
`--static-token TOKEN=EMAIL` (repeatable) configures tokens that never expire, which neither a logout
nor expire-tokens ends (UpKeep's API tokens and OAuth tokens travel in the same header, §2.2). Errors
are {"success": false, "message": ...} (§5) with 400, 401, 404, and 500.

Lists (§3.3, §3.4). `limit` (default 100; above --max-limit it is clamped, and noted as a violation)
and `offset` (default 0): whole numbers, limit at least 1, else 400. Past the end: 200 with []. Default
order createdAt DESC; `orderBy` (or `sort`) "<field> ASC|DESC" (direction optional, ASC; several
comma-separated); ties always broken by id ASC; null sorts before any value (as MongoDB). Date ranges
`createdAtGreaterThan`, `createdAtLessThan`, `updatedAtGreaterThan`, `updatedAtLessThan` on every list
and `dueDateGreaterThan`, `dueDateLessThan` on work orders and purchase orders, all EXCLUSIVE (strictly
greater / less), with ISO-8601 (an offset, or none for UTC; a bare date is its midnight UTC) or epoch
milliseconds; a PO's yyyy-MM-dd dueDate compares as its midnight UTC. Equality filters, per list, as
§4 names them (work orders: status priority category asset location assignedToUser team title; assets:
name location status category assignedToUser createdByUser downtimeStatus serialNumber barcode;
locations: name parentLocation createdByUser; parts: name category location createdByUser partNumber;
purchase orders: status vendor category title; vendors: businessName; users: email accountType; teams,
categories, downtime statuses: name); a repeated filter matches any of its values, the value `null`
matches a reference that is null (e.g. parentLocation=null gives the root locations), and an enum
filter with a value outside its enum is 400. `includes` in the three spellings (§3.2: repeated,
includes[], comma-separated) replaces a reference by the object on lists, single reads and write
answers: work orders asset location assignedToUser assignedByUser requestedByUser completedByUser team;
assets location parentAsset createdByUser assignedToUser; parts location createdByUser; purchase
orders vendor createdByUser approvedByUser fulfilledByUser declinedByUser; unknown names are ignored.

Writes (§4, §6). Bodies are JSON or application/x-www-form-urlencoded (repeated keys and key[] make
arrays; numeric strings are numbers and "true"/"false" booleans there; in JSON a value must have its
own kind). Required: work orders and purchase orders `title` (400 "title is required"), assets, parts
and locations `name`, vendors `businessName`. Enums: work-order status open / onHold / inProgress /
complete and priority 0..3, PO status awaiting / approved / declined / fulfilled, asset status active
/ inactive, decreaseInventory auto / manual; references must name an existing object of their list
(asset, location, assignedToUser, requestedByUser, team, additionalUsers, parts, vendor, PO category,
parentLocation and parentAsset without a cycle, downtimeStatus); a WO's dueDate is ISO-8601 or epoch
ms and is stored as ISO, a PO's dueDate / poDate must be yyyy-MM-dd. Every accepted write sets
updatedAt to now, strictly later than every updatedAt the tenant has (a millisecond later when the
clock has not moved); what a write changes on other objects (stock) gets the same updatedAt.
Side effects: a work order's status to complete sets dateCompleted (now) and completedByUser, leaving
complete clears both; objectLocationForWorkOrder follows location; assignedByUser is the writer when
assignedToUser is set; a new work order gets the next workOrderNo (a string) and a new PO the next
purchaseOrderNumber when it has none. A PO's status to approved sets approvedAt / approvedByUser (and
clears declined*), declined sets declinedAt / declinedByUser (and clears approved*), awaiting clears
both, fulfilled sets fulfilledAt / fulfilledByUser and adds each line's quantity to its part.

Decisions where the dossier says [ASSUMPTION], [L] or "not captured":
* A refused login (wrong password, a field missing) is 401 "Invalid email or password".
* PUT anywhere is 404 "Cannot PUT <path>" and a violation (§3.5); so is an unknown list name and any
  path outside /api/v2. A route UpKeep has but this stand-in does not serve (DELETE of records, writes
  of users, teams, categories, downtime statuses, /teams/{id}/users, ...) is 404 "Cannot <METHOD> <path>"
  without a violation.
* Bodies are strict, so that a connector's misnamed field shows instead of being dropped: an unknown
  field is 400 "Unknown field: x" and a read-only one (id, createdAt, updatedAt, workOrderNo,
  dateCompleted, completedByUser, approvedAt, ...) 400 "x cannot be set"; both are violations. A PO's
  `parts` and `customFieldsPO` need a JSON body. PO lines are exactly {"id", "quantity" > 0}; custom
  fields {"name", "value", "unit"?}, echoed with unit "" when not given (as the example shows).
  companyCity / companyState / companyZip are accepted on a PO and served only once set.
* Creating or patching a work order with `parts` + `respectivePartQuantityUsed` (same length; on create
  the quantities default to 1 each) and decreaseInventory other than manual takes the change in usage
  from each part's quantity (a patch that lowers a usage puts the difference back); stock may go below
  0. A PATCH of a part's quantity overwrites it. Fulfilling a PO adds its lines to stock (§6.8); a
  fulfilled PO cannot change status again (400), so stock is added once; every other move is allowed.
  purchaseOrderNumber is not required to be unique. A WO's category is free text.
* Unknown query parameters are ignored, as UpKeep would, and noted as violations; a malformed limit,
  offset, orderBy or date bound is 400 and a violation (a '+' that was not URL-encoded is pointed out).
* Users, teams (id, name, description, createdAt, updatedAt), PO categories and asset downtime statuses
  ({id, name, createdAt, updatedAt}) are served read-only. /pm serves its templates' `schedules` only
  with includes=schedules; pageSize is at most --max-limit.
* Webhooks are stored per tenant but not delivered: what would be POSTed (the event and the object)
  is recorded at /_standin/events instead (a stand-in calling out would reach wherever a test names).
  Events: WORK_ORDER_CREATED / _UPDATED / _STATUS_UPDATED, PURCHASE_ORDER_CREATED / _UPDATED /
  _APPROVED / _DECLINED, for writes through the API and touches.
* No rate limit unless a fault says so; no versioning header is read.

The seed data is the stand-in's own, in upkeep_seed.json beside this file (see its "about"): Main Plant
(Lc4Hq8Zp2A) with Boiler House (Lc9Vt3Wm7B), Press Line 2 (Lc2Mn6Fd8Y) and, under it, Electrical Room
B (Lc5Kb1Tz9Q); Warehouse North (Lc7Rw2Xe5K) with Receiving Dock (Lc8Pq3Hs4W); five assets (Screw
Compressor C-3, As8Fr1Yq6T, inactive); five parts (Hydraulic Oil, Pt7Cv4Jn6B, out of stock; Compressor
Intake Filter, Pt1Nb9Qs3R, below its minimum); two vendors; three users; two teams; three PO
categories; eight work orders (open Wo6Rf1Gh8J / Wo3Uz7Bq5T, onHold Wo5Ne8Vy1P / Wo2Lk9Sd3F,
inProgress Wo4Bn7Cx1M / Wo7Hp3Dk6R, complete Wo8Ty2Pe6Q / Wo9Mc4Xa2E; priorities 0 to 3); five purchase
orders (awaiting Po9Xe3Vk6L, with customFieldsPO, and Po3Sn6Yd8B; approved Po6Tb1Qf4H; declined
Po4Ka7Zm2C; fulfilled Po2Mw8Dn5G); two PM templates. At start-up every date is moved by whole days so
that the newest updatedAt is between two days and one day old; updatedAt values are distinct and their
order is not id order. Nothing outside this folder is read: the stand-in starts on a bare checkout.

    python3 infra/local/standins/upkeep.py --port 8095 [--host 127.0.0.1] [--token-ttl 3600]
        [--max-limit 1000] [--static-token TOKEN=EMAIL ...]

prints `upkeep stand-in on http://127.0.0.1:8095` once it listens (--port 0 picks a free port). Stdlib
only. The access log is quiet: a raw request can carry secrets.

Control endpoints (no auth, JSON; T is a tenant, i.e. an email); health, requests, violations and faults
are standin_control.py's (the control plane the stand-ins share), the rest this stand-in's own:
    GET    /_standin/health                       {"status": "ok"}
    GET    /_standin/requests[?tenant=T]          {"requests": [...]} oldest first: method, path, query
                                                  (decoded; a repeated name as a list), body (parsed;
                                                  password as "present"), headers ({"Session-Token":
                                                  "present"|"absent"}, and Authorization / Content-Type
                                                  when sent, the former as "present"), status, returned
                                                  (a list's count), fault (when one was injected);
                                                  DELETE clears (every tenant's without ?tenant)
    GET    /_standin/violations[?tenant=T]        {"violations": [{"method", "path", "reason", ...}]}
                                                  requests that break the dossier's contract; DELETE clears
    POST   /_standin/faults {"tenant", "match"?: part of the path, "method"?, "responses": [{"status":
                             400-599, "retryAfter"?} | {"delaySeconds"} | {"stallSeconds"}, ...]}
                                                  the tenant's next matching requests get them, one each,
                                                  in order (a status answers {"success": false, "message"}
                                                  with Retry-After when given; taken after the token check,
                                                  for POST /auth by the body's email) -> {"tenant",
                                                  "pending"}; DELETE /_standin/faults[?tenant=T] drops them
    POST   /_standin/touch {"tenant", "type": a list name, "id", "fields": {...}, "afterNextPage"?}
                                                  changes an object as an UpKeep user (the account's first)
                                                  would, with the API's checks and side effects; updatedAt
                                                  = now; answers the object (with "afterNextPage": true it
                                                  waits for the tenant's next read of a page of that list,
                                                  answering {"deferred": ...})
    POST   /_standin/expire-tokens {"tenant"}     every session token of the tenant stops working ->
                                                  {"tenant", "expired": n}
    POST   /_standin/reset {"tenant"}             the tenant's data back to the seed -> {"tenant", "reset": true}
    GET    /_standin/webhooks?tenant=T            {"webhooks": [...]} its subscriptions
    GET    /_standin/events[?tenant=T]            {"events": [{"webhookId", "endpoint", "event",
                                                  "object"}]} what would have been delivered; DELETE clears
"""

import argparse
import copy
import json
import math
import re
import secrets
import string
import threading
import time
from datetime import date, datetime, timedelta, timezone
from http.server import ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, unquote

from standin_control import ControlError, ControlPlane, faulted
from standin_http import RequestHandler, serve

DEMO_PASSWORD = "Millwright-Demo-1"
API = "/api/v2"
SEED_FILE = Path(__file__).with_name("upkeep_seed.json")
ID_CHARS = string.ascii_letters + string.digits
TOKEN_CHARS = string.ascii_lowercase + string.digits
ISO_MS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
DAY = re.compile(r"\d{4}-\d\d-\d\d")
EPOCH_MS = re.compile(r"-?\d+")
NUMBER = re.compile(r"-?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?")
PLUS_HINT = " (a '+' that is not URL-encoded arrives as a space)"

WO_STATUSES = ("open", "onHold", "inProgress", "complete")
PO_STATUSES = ("awaiting", "approved", "declined", "fulfilled")
ASSET_STATUSES = ("active", "inactive")
WEBHOOK_EVENTS = (
    "WORK_ORDER_CREATED", "WORK_ORDER_UPDATED", "WORK_ORDER_STATUS_UPDATED", "WORK_ORDER_DELETED",
    "PM_WORK_ORDER_CREATED", "PM_WORK_ORDER_UPDATED", "PM_WORK_ORDER_DELETED", "WORK_ORDER_SCHEDULE_CREATED",
    "WORK_ORDER_SCHEDULE_UPDATED", "WORK_ORDER_SCHEDULE_STATUS_UPDATED", "WORK_ORDER_SCHEDULE_DELETED",
    "PURCHASE_ORDER_CREATED", "PURCHASE_ORDER_UPDATED", "PURCHASE_ORDER_DELETED", "PURCHASE_ORDER_APPROVED",
    "PURCHASE_ORDER_DECLINED", "REQUEST_CREATED", "REQUEST_UPDATED", "REQUEST_APPROVED", "REQUEST_REJECTED")
FAULT_MESSAGES = {400: "Bad request", 401: "Invalid session token", 403: "Forbidden", 404: "Not found",
                  429: "Too many requests", 500: "Internal server error", 502: "Bad gateway",
                  503: "Service unavailable", 504: "Gateway timeout"}


class Refusal(Exception):
    """An UpKeep error answer; `violation` (a reason) marks a request that breaks the dossier's contract."""

    def __init__(self, status, message, violation=None, headers=None):
        super().__init__(message)
        self.status, self.message, self.violation, self.headers = status, message, violation, headers or {}


def bad(message, violation=None):
    return Refusal(400, message, violation)


def cannot(method, path, violation=None):
    return Refusal(404, f"Cannot {method} {path}", violation)


# Times: UpKeep writes ISO 8601 in UTC with milliseconds and a Z.

def now_ms():
    moment = datetime.now(timezone.utc)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def iso(moment):
    moment = moment.astimezone(timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_moment(value):
    """An ISO 8601 date-time (no offset: UTC; a bare date: its midnight UTC) or epoch milliseconds
    (an int, or a string of digits) as an aware datetime; None if it is neither."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int) or (isinstance(value, str) and EPOCH_MS.fullmatch(value.strip())):
        try:
            return datetime.fromtimestamp(int(value) / 1000, timezone.utc)
        except (OverflowError, OSError, ValueError):
            return None
    if not isinstance(value, str) or not re.match(r"\d{4}-\d\d-\d\d", value.strip()):
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def stored_moment(value):
    """A stored date-time (ISO) or date (yyyy-MM-dd, its midnight UTC) as a datetime; None for null."""
    return None if value is None else parse_moment(value)


def in_range(value, bound, above):
    """Whether a stored moment is strictly above (or below) a bound; never for null."""
    return value is not None and (value > bound if above else value < bound)


def tidy(number):
    """A float that is whole as an int (stock arithmetic keeps 7, not 7.0)."""
    return int(number) if isinstance(number, float) and number.is_integer() else number


def new_id(data):
    """A fresh 10-character alphanumeric id, unused in the tenant."""
    while True:
        ident = "".join(secrets.choice(ID_CHARS) for _ in range(10))
        if not any(find(data, name, ident) for name in RESOURCES):
            return ident


def find(data, name, ident):
    """The object of a list with that id, or None."""
    return next((r for r in data["lists"].get(name, ()) if r.get("id") == ident), None)


# What each list holds: its fields in the order they are served, their kinds and write rules.

class F:
    """A field. kind: text int number bool datetime date enum ref refs numbers lines custom plain.
    `writable` False: served, never set by a body; `default` on create (copied); `target` the list a
    ref names; `choices` an enum's values; `low`/`high` bounds; `optional` served only once set;
    `nullable` whether a body may set it to null."""

    def __init__(self, kind, writable=True, default=None, target=None, choices=(), low=None, high=None,
                 optional=False, nullable=None):
        self.kind, self.writable, self.default, self.target = kind, writable, default, target
        self.choices, self.low, self.high, self.optional = choices, low, high, optional
        self.nullable = kind in ("text", "ref", "datetime", "date") if nullable is None else nullable


def ro(kind="plain"):
    return F(kind, writable=False)


STAMPS = {"createdAt": ro("datetime"), "updatedAt": ro("datetime")}


class Resource:
    """One list of the API: /api/v2/<name>."""

    def __init__(self, name, noun, fields, includes=None, filters=(), due=False, required=None, writable=False):
        self.name, self.noun, self.fields = name, noun, {"id": ro("text"), **fields, **STAMPS}
        self.includes, self.filters, self.required, self.writable = includes or {}, filters, required, writable
        self.ranges = ("createdAt", "updatedAt") + (("dueDate",) if due else ())
        self.extra_input = {"decreaseInventory": F("enum", choices=("auto", "manual"))} if name == "work-orders" else {}


USER_REFS = ("assignedToUser", "assignedByUser", "requestedByUser", "completedByUser", "createdByUser",
             "approvedByUser", "fulfilledByUser", "declinedByUser")

RESOURCES = {r.name: r for r in (
    Resource("work-orders", "Work order", {
        "workOrderNo": ro("text"), "title": F("text", nullable=False), "description": F("text", default=""),
        "status": F("enum", default="open", choices=WO_STATUSES), "priority": F("int", default=0, low=0, high=3),
        "category": F("text"), "dueDate": F("datetime"), "asset": F("ref", target="assets"),
        "location": F("ref", target="locations"), "objectLocationForWorkOrder": ro("text"),
        "assignedToUser": F("ref", target="users"), "assignedByUser": ro("text"),
        "requestedByUser": F("ref", target="users"), "completedByUser": ro("text"), "team": F("ref", target="teams"),
        "additionalUsers": F("refs", default=[], target="users"), "parts": F("refs", default=[], target="parts"),
        "respectivePartQuantityUsed": F("numbers", default=[]), "time": F("number", default=0, low=0),
        "cost": F("number", default=0, low=0), "dateCompleted": ro("datetime"), "updatedBy": ro("text")},
        includes={"asset": "assets", "location": "locations", "assignedToUser": "users", "assignedByUser": "users",
                  "requestedByUser": "users", "completedByUser": "users", "team": "teams"},
        filters=("status", "priority", "category", "asset", "location", "assignedToUser", "team", "title"),
        due=True, required="title", writable=True),
    Resource("purchase-orders", "Purchase order", {
        "purchaseOrderNumber": F("int", low=1, nullable=False), "title": F("text", nullable=False),
        "description": F("text", default=""), "status": F("enum", default="awaiting", choices=PO_STATUSES),
        "vendor": F("ref", target="vendors"), "category": F("ref", target="purchase-order-categories"),
        "dueDate": F("date"), "poDate": F("date"), "parts": F("lines", default=[]),
        "customFieldsPO": F("custom", default=[]), "createdByUser": ro("text"), "approvedByUser": ro("text"),
        "approvedAt": ro("datetime"), "declinedByUser": ro("text"), "declinedAt": ro("datetime"),
        "fulfilledByUser": ro("text"), "fulfilledAt": ro("datetime"), "companyCity": F("text", optional=True),
        "companyState": F("text", optional=True), "companyZip": F("text", optional=True)},
        includes={"vendor": "vendors", "createdByUser": "users", "approvedByUser": "users",
                  "fulfilledByUser": "users", "declinedByUser": "users"},
        filters=("status", "vendor", "category", "title"), due=True, required="title", writable=True),
    Resource("assets", "Asset", {
        "name": F("text", nullable=False), "description": F("text", default=""), "model": F("text"),
        "serialNumber": F("text"), "barcode": F("text"), "category": F("text"),
        "status": F("enum", default="active", choices=ASSET_STATUSES),
        "downtimeStatus": F("ref", target="asset-downtime-statuses"), "location": F("ref", target="locations"),
        "parentAsset": F("ref", target="assets"), "assignedToUser": F("ref", target="users"),
        "createdByUser": ro("text")},
        includes={"location": "locations", "parentAsset": "assets", "createdByUser": "users", "assignedToUser": "users"},
        filters=("name", "location", "status", "category", "assignedToUser", "createdByUser", "downtimeStatus",
                 "serialNumber", "barcode"), required="name", writable=True),
    Resource("locations", "Location", {
        "name": F("text", nullable=False), "address": F("text"), "latitude": F("number", low=-90, high=90, nullable=True),
        "longitude": F("number", low=-180, high=180, nullable=True), "hideMap": F("bool", default=False),
        "parentLocation": F("ref", target="locations"), "createdByUser": ro("text")},
        filters=("name", "parentLocation", "createdByUser"), required="name", writable=True),
    Resource("parts", "Part", {
        "name": F("text", nullable=False), "description": F("text", default=""), "partNumber": F("text"),
        "barcode": F("text"), "category": F("text"), "quantity": F("number", default=0),
        "minimumQuantity": F("number", default=0, low=0), "cost": F("number", default=0, low=0), "area": F("text"),
        "location": F("ref", target="locations"), "createdByUser": ro("text")},
        includes={"location": "locations", "createdByUser": "users"},
        filters=("name", "category", "location", "createdByUser", "partNumber"), required="name", writable=True),
    Resource("vendors", "Vendor", {
        "businessName": F("text", nullable=False), "email": F("text"), "phoneNumber": F("text"),
        "address": F("text"), "website": F("text")},
        filters=("businessName",), required="businessName", writable=True),
    Resource("users", "User", {
        "accountType": ro("text"), "email": ro("text"), "firstName": ro("text"), "lastName": ro("text"),
        "phoneNumber": ro("text")}, filters=("email", "accountType")),
    Resource("teams", "Team", {"name": ro("text"), "description": ro("text")}, filters=("name",)),
    Resource("purchase-order-categories", "Purchase order category", {"name": ro("text")}, filters=("name",)),
    Resource("asset-downtime-statuses", "Asset downtime status", {"name": ro("text")}, filters=("name",)),
)}
PM_KEYS = ("_id", "name", "mainDescription", "category", "priority", "estimatedTime", "createFirstWO",
           "requiresSignature", "tasks", "partInventories", "files", "images", "createdBy", "createdAt", "updatedAt",
           "schedules")
LIST_PARAMS = {"limit", "offset", "orderBy", "sort", "includes", "includes[]"}
SORTABLE = ("text", "int", "number", "bool", "datetime", "date", "enum", "ref", "plain")


def usage(wo):
    """A work order's parts usage: part id -> quantity."""
    used = {}
    for part, quantity in zip(wo.get("parts") or [], wo.get("respectivePartQuantityUsed") or []):
        used[part] = used.get(part, 0) + quantity
    return used


# The seed.

def shift_dates(value, days):
    """Every ISO date-time and yyyy-MM-dd date inside value, moved by `days` days."""
    if isinstance(value, dict):
        return {k: shift_dates(v, days) for k, v in value.items()}
    if isinstance(value, list):
        return [shift_dates(v, days) for v in value]
    if isinstance(value, str) and ISO_MS.fullmatch(value):
        return iso(parse_moment(value) + timedelta(days=days))
    if isinstance(value, str) and DAY.fullmatch(value):
        return (date.fromisoformat(value) + timedelta(days=days)).isoformat()
    return value


def build_seed(raw, start):
    """The tenants' starting state from the seed file's data: every list's records over its defaults,
    in served key order, dated back from `start`; ValueError when the seed does not hold."""
    lists = {}
    for name, resource in RESOURCES.items():
        part = raw[name]
        records = []
        for given in part["records"]:
            record = {**copy.deepcopy(part.get("defaults", {})), **given}
            unknown = set(record) - set(resource.fields)
            missing = {k for k, f in resource.fields.items() if not f.optional} - set(record)
            if unknown or missing:
                raise ValueError(f"{name} {given.get('id')}: unknown {sorted(unknown)}, missing {sorted(missing)}")
            records.append({k: record[k] for k in resource.fields if k in record})
        lists[name] = records
    pm = []
    for given in raw["pm"]["records"]:
        template = {**copy.deepcopy(raw["pm"].get("defaults", {})), **given}
        if set(template) != set(PM_KEYS):
            raise ValueError(f"pm {given.get('_id')}: keys {sorted(set(template) ^ set(PM_KEYS))} differ")
        pm.append({k: template[k] for k in PM_KEYS})
    updated = [parse_moment(r["updatedAt"]) for records in lists.values() for r in records]
    if len(set(updated)) != len(updated):
        raise ValueError("updatedAt values are not distinct")
    days = math.floor((start - timedelta(days=1) - max(updated)) / timedelta(days=1))
    state = {"lists": shift_dates(lists, days), "pm": shift_dates(pm, days), "webhooks": []}
    check_seed(state)
    state["latest"] = max(parse_moment(r["updatedAt"]) for records in state["lists"].values() for r in records)
    return state


def check_seed(state):
    """Refuse a seed whose references dangle, ids are not UpKeep's, or statuses disagree with their dates."""
    for name, resource in RESOURCES.items():
        for record in state["lists"][name]:
            if not re.fullmatch(r"[A-Za-z0-9]{10}", record["id"]):
                raise ValueError(f"{name}: id {record['id']!r} is not 10 alphanumerics")
            for field, spec in resource.fields.items():
                value = record.get(field)
                if spec.kind == "ref":
                    targets = [(spec.target, value)]
                elif spec.kind == "refs":
                    targets = [(spec.target, ident) for ident in value]
                elif spec.kind == "lines":
                    targets = [("parts", line["id"]) for line in value]
                elif field in USER_REFS or field == "updatedBy":
                    targets = [("users", value)]
                elif field == "objectLocationForWorkOrder":
                    targets = [("locations", value)]
                else:
                    targets = []
                for target, ident in targets:
                    if ident is not None and find(state, target, ident) is None:
                        raise ValueError(f"{name} {record['id']}: {field} {ident} is not in {target}")
    for wo in state["lists"]["work-orders"]:
        if (wo["status"] == "complete") != (wo["dateCompleted"] is not None):
            raise ValueError(f"work order {wo['id']}: status and dateCompleted disagree")


class Plan:
    """A validated write, not yet made: the object as it will be, the fields to stamp with the write's
    moment, the changes it makes to other objects, and the webhook events it raises."""

    def __init__(self, resource, current, new):
        self.resource, self.current, self.new = resource, current, new
        self.stamps, self.others, self.events = [], {}, []

    def other(self, record, changes):
        self.others.setdefault(id(record), (record, {}))[1].update(changes)

    def commit(self, data, at):
        """Make the write at the moment `at`; the object written."""
        text = iso(at)
        for name in self.stamps:
            self.new[name] = text
        self.new["updatedAt"] = text
        if self.current is None:
            self.new["id"], self.new["createdAt"] = new_id(data), text
            self.new = {k: self.new[k] for k in self.resource.fields if k in self.new}
            data["lists"][self.resource.name].append(self.new)
            written = self.new
        else:
            self.current.clear()
            self.current.update(self.new)
            written = self.current
        for record, changes in self.others.values():
            record.update(changes)
            record["updatedAt"] = text
        return written


class Writer:
    """Turns a create or PATCH body into a Plan, with UpKeep's checks (Refusal 400 on the first failure)."""

    def __init__(self, data, resource, caller, form=False):
        self.data, self.resource, self.caller, self.form = data, resource, caller, form

    def plan(self, current, body):
        resource, fields = self.resource, self.resource.fields
        unknown = [k for k in body if k not in fields and k not in resource.extra_input]
        if unknown:
            raise bad(f"Unknown field: {', '.join(unknown)}",
                      f"unknown field(s) {', '.join(unknown)} in a {resource.noun.lower()} body")
        fixed = [k for k in body if k in fields and not fields[k].writable]
        if fixed:
            raise bad(f"{', '.join(fixed)} cannot be set",
                      f"read-only field(s) {', '.join(fixed)} in a {resource.noun.lower()} body")
        required = resource.required
        empty = (None, "")
        if required and ((current is None and body.get(required) in empty) or (required in body and body[required] in empty)):
            raise bad(f"{required} is required")
        values = {}
        for name, raw in body.items():
            values[name] = self.convert(name, fields.get(name) or resource.extra_input[name], raw)
        if current is None:
            new = {k: copy.deepcopy(f.default) for k, f in fields.items() if not f.optional}
        else:
            new = copy.deepcopy(current)
        new.update({k: v for k, v in values.items() if k in fields})
        plan = Plan(resource, current, new)
        getattr(self, "settle_" + resource.name.replace("-", "_"), lambda plan, values: None)(plan, values)
        return plan

    # A body value, checked and converted to what is stored.

    def convert(self, name, spec, raw):
        kind = spec.kind
        if self.form and kind not in ("refs", "numbers") and isinstance(raw, list):
            raise bad(f"{name} takes one value")
        if self.form and kind in ("lines", "custom"):
            raise bad(f"{name} must be sent in a JSON body")
        if raw is None or (self.form and raw == "" and spec.nullable and kind != "text"):
            if not spec.nullable:
                raise bad(f"{name} cannot be null")
            return None
        if kind == "text":
            if not isinstance(raw, str):
                raise bad(f"{name} must be a string")
            return raw
        if kind in ("int", "number"):
            return self.number(name, spec, raw)
        if kind == "bool":
            if self.form and raw in ("true", "false"):
                return raw == "true"
            if not isinstance(raw, bool):
                raise bad(f"{name} must be true or false")
            return raw
        if kind == "datetime":
            moment = parse_moment(raw) if isinstance(raw, (str, int)) else None
            if moment is None:
                raise bad(f"{name} must be an ISO-8601 date-time or epoch milliseconds")
            return iso(moment)
        if kind == "date":
            try:
                if not (isinstance(raw, str) and DAY.fullmatch(raw)):
                    raise ValueError
                return date.fromisoformat(raw).isoformat()
            except ValueError:
                raise bad(f"{name} must be a date yyyy-MM-dd") from None
        if kind == "enum":
            if raw not in spec.choices:
                raise bad(f"{name} must be one of {', '.join(spec.choices)}")
            return raw
        if kind == "ref":
            return self.reference(name, spec.target, raw)
        if kind == "refs":
            items = [raw] if self.form and isinstance(raw, str) else raw
            if not isinstance(items, list):
                raise bad(f"{name} must be an array of ids")
            return [self.reference(name, spec.target, item) for item in items]
        if kind == "numbers":
            items = [raw] if self.form and isinstance(raw, str) else raw
            if not isinstance(items, list):
                raise bad(f"{name} must be an array of numbers")
            return [self.number(name, F("number", low=0), item) for item in items]
        if kind in ("lines", "custom") and not isinstance(raw, list):
            raise bad(f"{name} must be an array")
        if kind == "lines":
            return [self.line(name, i, line) for i, line in enumerate(raw)]
        if kind == "custom":
            return [self.custom(name, field) for field in raw]
        raise bad(f"{name} cannot be set")

    def number(self, name, spec, raw):
        value = raw
        if self.form and isinstance(raw, str) and NUMBER.fullmatch(raw.strip()):
            value = float(raw) if spec.kind == "number" else (int(raw) if EPOCH_MS.fullmatch(raw.strip()) else None)
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        ok = ok and (spec.kind != "int" or isinstance(value, int))
        ok = ok and (spec.low is None or value >= spec.low) and (spec.high is None or value <= spec.high)
        if not ok:
            what = "an integer" if spec.kind == "int" else "a number"
            bounds = (f" from {spec.low} to {spec.high}" if spec.high is not None
                      else f" of at least {spec.low}" if spec.low is not None else "")
            raise bad(f"{name} must be {what}{bounds}")
        return int(value) if spec.kind == "int" else tidy(value)

    def reference(self, name, target, raw):
        if not isinstance(raw, str) or not raw:
            raise bad(f"{name} must be an id")
        if find(self.data, target, raw) is None:
            raise bad(f"Invalid {name}: {RESOURCES[target].noun} {raw} not found")
        return raw

    def line(self, name, index, line):
        where = f"{name}[{index}]"
        if not isinstance(line, dict) or set(line) != {"id", "quantity"}:
            raise bad(f"{where} must be {{\"id\": a part id, \"quantity\": a number}}")
        quantity = line["quantity"]
        if isinstance(quantity, bool) or not isinstance(quantity, (int, float)) or not quantity > 0:
            raise bad(f"{where}.quantity must be a number above 0")
        return {"id": self.reference(f"{where}.id", "parts", line["id"]), "quantity": tidy(quantity)}

    def custom(self, name, field):
        if (not isinstance(field, dict) or not set(field) <= {"name", "value", "unit"} or not isinstance(field.get("name"), str)
                or not field["name"] or not (field.get("value") is None or isinstance(field["value"], (str, int, float, bool)))
                or not isinstance(field.get("unit", ""), str)):
            raise bad(f'{name} must be an array of {{"name", "value", "unit"?}}')
        return {"name": field["name"], "value": field.get("value"), "unit": field.get("unit", "")}

    # What a write sets besides the fields it names.

    def settle_work_orders(self, plan, values):
        new, current, caller = plan.new, plan.current, self.caller
        new["objectLocationForWorkOrder"] = new["location"]
        if "assignedToUser" in values:
            new["assignedByUser"] = caller if new["assignedToUser"] else None
        new["updatedBy"] = caller
        if current is None:
            numbers = [int(wo["workOrderNo"]) for wo in self.data["lists"]["work-orders"] if str(wo["workOrderNo"]).isdigit()]
            new["workOrderNo"] = str(max(numbers, default=1000) + 1)
            if "parts" in values and "respectivePartQuantityUsed" not in values:
                new["respectivePartQuantityUsed"] = [1] * len(new["parts"])
        if len(new["parts"]) != len(new["respectivePartQuantityUsed"]):
            raise bad("parts and respectivePartQuantityUsed must have the same length")
        if ("parts" in values or "respectivePartQuantityUsed" in values) and values.get("decreaseInventory") != "manual":
            before, after = usage(current or {}), usage(new)
            for ident in sorted(set(before) | set(after)):
                change = after.get(ident, 0) - before.get(ident, 0)
                part = find(self.data, "parts", ident)
                if change and part is not None:
                    plan.other(part, {"quantity": tidy(part["quantity"] - change)})
        before = current["status"] if current else None
        if new["status"] == "complete" and before != "complete":
            plan.stamps.append("dateCompleted")
            new["completedByUser"] = caller
        elif new["status"] != "complete" and before == "complete":
            new["dateCompleted"] = new["completedByUser"] = None
        plan.events = ["WORK_ORDER_CREATED"] if current is None else (
            ["WORK_ORDER_UPDATED"] + (["WORK_ORDER_STATUS_UPDATED"] if new["status"] != before else []))

    def settle_purchase_orders(self, plan, values):
        new, current, caller = plan.new, plan.current, self.caller
        if current is None:
            new["createdByUser"] = caller
            if new.get("purchaseOrderNumber") is None:
                numbers = [po["purchaseOrderNumber"] for po in self.data["lists"]["purchase-orders"]]
                new["purchaseOrderNumber"] = max(numbers, default=1000) + 1
        before, after = (current["status"] if current else None), new["status"]
        if before == "fulfilled" and after != "fulfilled":
            raise bad("A fulfilled purchase order cannot change status")
        clear = {"awaiting": ("approved", "declined"), "approved": ("declined",), "declined": ("approved",),
                 "fulfilled": ("declined",)}[after] if after != before else ()
        for gone in clear:
            new[f"{gone}At"] = new[f"{gone}ByUser"] = None
        if after != before and after != "awaiting":
            plan.stamps.append(f"{after}At")
            new[f"{after}ByUser"] = caller
        if after == "fulfilled" and before != "fulfilled":
            added = {}
            for line in new["parts"]:
                added[line["id"]] = added.get(line["id"], 0) + line["quantity"]
            for ident, quantity in added.items():
                part = find(self.data, "parts", ident)
                plan.other(part, {"quantity": tidy(part["quantity"] + quantity)})
        plan.events = ["PURCHASE_ORDER_CREATED"] if current is None else ["PURCHASE_ORDER_UPDATED"]
        if after != before and after in ("approved", "declined"):
            plan.events.append(f"PURCHASE_ORDER_{after.upper()}")

    def no_cycle(self, plan, field, name):
        """Refuse a parent that is the object itself or one of its descendants."""
        ident, parent, seen = (plan.current or {}).get("id"), plan.new.get(field), set()
        while parent is not None and parent not in seen:
            if parent == ident:
                raise bad(f"Invalid {field}: a {name} cannot be its own ancestor")
            seen.add(parent)
            parent = (find(self.data, self.resource.name, parent) or {}).get(field)

    def settle_assets(self, plan, values):
        self.no_cycle(plan, "parentAsset", "asset")
        if plan.current is None:
            plan.new["createdByUser"] = self.caller

    def settle_locations(self, plan, values):
        self.no_cycle(plan, "parentLocation", "location")
        if plan.current is None:
            plan.new["createdByUser"] = self.caller

    def settle_parts(self, plan, values):
        if plan.current is None:
            plan.new["createdByUser"] = self.caller


class Stand:
    """All the server holds, behind one lock: the seed, the session tokens, and the control plane
    (standin_control): each tenant's copy of the seed, the request log, the violations, the webhook
    events, the pending faults and the deferred touches."""

    def __init__(self, seed, options):
        self.lock = threading.Lock()
        self.seed, self.options = seed, options
        self.tokens = {}
        for text in options.static_token or ():
            token, _, email = text.partition("=")
            self.tokens[token] = {"tenant": email or token, "email": email, "expires": None, "expired": False}
        self.plane = ControlPlane(make=lambda name: copy.deepcopy(seed), violations=True)
        self.events = self.plane.log("events")
        for method, path, handler in (("POST", "touch", Handler.touch), ("POST", "expire-tokens", Handler.expire),
                                      ("POST", "reset", Handler.reset), ("GET", "webhooks", Handler.webhooks)):
            self.plane.route(method, f"/_standin/{path}", handler)

    def data(self, tenant):
        """The tenant's objects, copied from the seed on first use."""
        return self.plane.tenants.get(tenant)

    @staticmethod
    def moment(data):
        """The updatedAt of a write now: strictly later than every updatedAt of the tenant (lock held)."""
        at = now_ms()
        if at <= data["latest"]:
            at = data["latest"] + timedelta(milliseconds=1)
        data["latest"] = at
        return at

    def caller(self, data, email):
        """The id of the user a session acts as: the user with its email, else the account's first."""
        users = data["lists"]["users"]
        match = next((u for u in users if (email or "").lower() == u["email"].lower()), users[0])
        return match["id"]

    def write(self, tenant, plan):
        """Commit a plan now and record the webhook events it raises (lock held); the object written."""
        data = self.data(tenant)
        written = plan.commit(data, self.moment(data))
        for event in plan.events:
            for hook in data["webhooks"]:
                if event in hook["events"]:
                    self.events.add(tenant, {"webhookId": hook["webhookId"], "endpoint": hook["endpoint"],
                                             "event": event, "object": copy.deepcopy(written)})
        return written


class Handler(RequestHandler):
    """Routes /api/v2/… to the stand-in's UpKeep and /_standin/… to its control endpoints."""

    json_type = "application/json; charset=utf-8"

    def failed(self):
        self.reply(500, {"success": False, "message": "Internal server error"})

    # The API.

    def api(self):
        """Answer an API request, and log it (before the answer, so a test reading the log sees it)."""
        self.tenant, self.returned, self.fault = None, None, None
        self.notes = []
        try:
            status, payload, headers = self.serve_api()
        except Refusal as refusal:
            status, payload, headers = refusal.status, {"success": False, "message": refusal.message}, refusal.headers
            if refusal.violation:
                self.notes.append(refusal.violation)
        for reason in self.notes:
            self.stand.plane.violations.add(self.tenant, {"method": self.command, "path": self.route, "reason": reason})
        entry = {"method": self.command, "path": self.route, "query": self.logged_query(), "body": self.logged_body(),
                 "headers": self.logged_headers(), "status": status}
        if self.returned is not None:
            entry["returned"] = self.returned
        if self.fault is not None:
            entry["fault"] = self.fault
        self.stand.plane.requests.add(self.tenant, entry)
        self.reply(status, payload, headers)

    def logged_query(self):
        query = {}
        for name, value in self.params:
            if name in query:
                query[name] = (query[name] if isinstance(query[name], list) else [query[name]]) + [value]
            else:
                query[name] = value
        return query

    def logged_body(self):
        if not self.body:
            return None
        try:
            body = self.parsed_body()[0]
        except Refusal:
            return self.body.decode("utf-8", "replace")[:2000]
        if isinstance(body, dict) and "password" in body:
            body = {**body, "password": "present"}
        return body

    def logged_headers(self):
        headers = {"Session-Token": "present" if self.headers.get("session-token") else "absent"}
        if self.headers.get("authorization") is not None:
            headers["Authorization"] = "present"
        if self.headers.get("content-type"):
            headers["Content-Type"] = self.headers["content-type"]
        return headers

    def serve_api(self):
        """(status, payload, headers) of an API request."""
        path = self.route.rstrip("/")
        if path != API and not path.startswith(API + "/"):
            raise cannot(self.command, self.route, "not a path under /api/v2")
        parts = [unquote(p) for p in path[len(API) + 1:].split("/")] if path != API else []
        if parts == ["auth"] and self.command in ("POST", "DELETE"):
            return self.login() if self.command == "POST" else self.logout()
        session = self.authenticate()
        self.fault = self.stand.plane.faults.take(self.tenant, self.command, self.path)
        return faulted(self.fault, self.refuse, lambda: self.route_api(parts, session))

    def refuse(self, fault):
        """The answer of an injected fault with a status."""
        headers = {"Retry-After": str(fault["retryAfter"])} if "retryAfter" in fault else {}
        return fault["status"], {"success": False, "message": FAULT_MESSAGES.get(fault["status"], "Error")}, headers

    def parsed_body(self):
        """(body as a dict, whether it came as a form)."""
        kind = (self.headers.get("content-type") or "").split(";")[0].strip().lower()
        if not self.body.strip():
            return {}, kind == "application/x-www-form-urlencoded"
        text = self.body.decode("utf-8", "replace")
        if kind == "application/json" or (kind != "application/x-www-form-urlencoded" and text.lstrip()[:1] in "{["):
            try:
                body = json.loads(text)
            except ValueError:
                raise bad("The body is not valid JSON") from None
            if not isinstance(body, dict):
                raise bad("The body must be a JSON object")
            return body, False
        if kind not in ("application/x-www-form-urlencoded", ""):
            raise bad(f"Unsupported content type {kind}")
        form = {}
        for name, value in parse_qsl(text, keep_blank_values=True):
            array = name.endswith("[]")
            name = name[:-2] if array else name
            if name in form:
                form[name] = (form[name] if isinstance(form[name], list) else [form[name]]) + [value]
            else:
                form[name] = [value] if array else value
        return form, True

    def login(self):
        try:
            body = self.parsed_body()[0]
        except Refusal:
            body = {}
        email, password = body.get("email"), body.get("password")
        if isinstance(email, str) and email.strip():
            self.tenant = email.strip()
        self.fault = self.stand.plane.faults.take(self.tenant, self.command, self.path) if self.tenant else None

        def grant():
            if self.tenant is None or password != DEMO_PASSWORD:
                raise Refusal(401, "Invalid email or password")
            self.stand.data(self.tenant)
            token = "r:" + "".join(secrets.choice(TOKEN_CHARS) for _ in range(32))
            expires = time.time() + self.stand.options.token_ttl
            with self.stand.lock:
                self.stand.tokens[token] = {"tenant": self.tenant, "email": self.tenant, "expires": expires, "expired": False}
            moment = datetime.fromtimestamp(expires, timezone.utc)
            return 200, {"success": True, "result": {"sessionToken": token, "expiresAt": iso(moment)}}, {}

        return faulted(self.fault, self.refuse, grant)

    def logout(self):
        session = self.authenticate()
        self.fault = self.stand.plane.faults.take(self.tenant, self.command, self.path)

        def delete():
            with self.stand.lock:
                if session["expires"] is not None:  # a configured static token stays
                    self.stand.tokens.pop(self.headers.get("session-token"), None)
            return 200, {"success": True, "message": "session deleted"}, {}

        return faulted(self.fault, self.refuse, delete)

    def authenticate(self):
        """The session of a live Session-Token (setting self.tenant), else Refusal 401."""
        token = (self.headers.get("session-token") or "").strip()
        if not token:
            if self.headers.get("authorization") is not None:
                raise Refusal(401, "Missing Session-Token header",
                              "an Authorization header instead of Session-Token (UpKeep reads only Session-Token)")
            raise Refusal(401, "Missing Session-Token header")
        with self.stand.lock:
            session = self.stand.tokens.get(token)
            if session is None:
                raise Refusal(401, "Invalid session token")
            self.tenant = session["tenant"]
            if session["expired"] or (session["expires"] is not None and time.time() >= session["expires"]):
                raise Refusal(401, "Session token has expired")
            return dict(session)

    def route_api(self, parts, session):
        method = self.command
        if method == "PUT":
            raise cannot(method, self.route, "PUT is not UpKeep's: an update is a PATCH of the fields that change")
        if not parts or parts[0] == "auth":
            raise cannot(method, self.route)
        name, rest = parts[0], parts[1:]
        if name == "pm":
            if method == "GET" and not rest:
                return self.pm()
            raise cannot(method, self.route)
        if name == "webhooks":
            if method == "POST" and not rest:
                return self.add_webhook()
            if method == "DELETE" and len(rest) == 1:
                return self.delete_webhook(rest[0])
            raise cannot(method, self.route)
        resource = RESOURCES.get(name)
        if resource is None:
            raise cannot(method, self.route, f"{name} is not a list of UpKeep's API")
        with self.stand.lock:
            data = self.stand.data(self.tenant)
            if method == "GET" and not rest:
                return self.listing(resource, data)
            if method == "GET" and len(rest) == 1:
                self.check_params(set())
                return 200, {"success": True, "result": self.view(data, resource, self.found(data, resource, rest[0]))}, {}
            if method == "POST" and not rest and resource.writable:
                return self.create(resource, data, session)
            if method == "PATCH" and len(rest) == 1 and resource.writable:
                record = self.found(data, resource, rest[0])
                return self.update(resource, data, session, record)
        raise cannot(method, self.route)

    def found(self, data, resource, ident):
        record = find(data, resource.name, ident)
        if record is None:
            raise Refusal(404, f"{resource.noun} not found")
        return record

    def check_params(self, known):
        """Note the query parameters UpKeep would ignore (they are ignored here too)."""
        known = known | {"includes", "includes[]"}
        for name in dict.fromkeys(n for n, _ in self.params):
            if name not in known:
                self.notes.append(f"unknown query parameter {name} (ignored)")

    def includes(self):
        return [item.strip() for name, value in self.params if name in ("includes", "includes[]")
                for item in value.split(",") if item.strip()]

    def view(self, data, resource, record, includes=None):
        """An object as answered, with the references `includes` names replaced by their objects."""
        out = copy.deepcopy(record)
        for name in self.includes() if includes is None else includes:
            target = resource.includes.get(name)
            if target and isinstance(out.get(name), str):
                referenced = find(data, target, out[name])
                if referenced is not None:
                    out[name] = copy.deepcopy(referenced)
        return out

    def whole(self, name, default, least):
        text = self.query.get(name)
        if text is None:
            return default
        if not re.fullmatch(r"\d+", text.strip()) or int(text) < least:
            raise bad(f"{name} must be a whole number of at least {least}",
                      f"{name}={text!r} is not a whole number of at least {least}")
        return int(text)

    def listing(self, resource, data):
        """A page of a list (lock held)."""
        ranges = {f"{field}{side}": (field, side) for field in resource.ranges for side in ("GreaterThan", "LessThan")}
        self.check_params(LIST_PARAMS | set(ranges) | set(resource.filters))
        most = self.stand.options.max_limit
        limit, offset = self.whole("limit", min(100, most), 1), self.whole("offset", 0, 0)
        if limit > most:
            self.notes.append(f"limit {limit} is above the most the stand-in serves ({most}): clamped")
            limit = most
        tests = []
        for name, (field, side) in ranges.items():
            if name in self.query:
                bound = parse_moment(self.query[name])
                if bound is None:
                    hint = PLUS_HINT if " " in self.query[name] else ""
                    raise bad(f"{name} must be an ISO-8601 date-time or epoch milliseconds{hint}",
                              f"{name}={self.query[name]!r} is not a date-time{hint}")
                tests.append(lambda r, f=field, b=bound, s=side: in_range(stored_moment(r.get(f)), b, s == "GreaterThan"))
        for field in resource.filters:
            wanted = [self.filter_value(resource, field, v) for n, v in self.params if n == field]
            if wanted:
                tests.append(lambda r, f=field, w=wanted: r.get(f) in w)
        chosen = [r for r in data["lists"][resource.name] if all(test(r) for test in tests)]
        chosen = self.ordered(resource, chosen)
        page = chosen[offset:offset + limit]
        self.returned = len(page)
        includes = self.includes()
        results = [self.view(data, resource, r, includes) for r in page]
        # An UpKeep user changes objects while a client pages through them.
        for touch in self.stand.plane.touches.due(self.tenant, resource.name):
            try:
                self.apply_touch(touch)
            except (ControlError, Refusal):
                pass
        return 200, {"success": True, "results": results}, {}

    def filter_value(self, resource, field, text):
        spec = resource.fields[field]
        if spec.kind == "enum" and text not in spec.choices:
            raise bad(f"{field} must be one of {', '.join(spec.choices)}")
        if spec.kind == "int":
            if not re.fullmatch(r"-?\d+", text.strip()):
                raise bad(f"{field} must be an integer")
            return int(text)
        if spec.kind == "ref" and text == "null":
            return None
        return text

    def ordered(self, resource, records):
        """Records in the order orderBy (or sort) asks, else createdAt DESC; ties by id ASC."""
        text = self.query.get("orderBy", self.query.get("sort"))
        keys = [("createdAt", True)]
        if text is not None:
            keys = []
            for item in text.split(","):
                words = item.split()
                field = words[0] if words else ""
                direction = words[1].upper() if len(words) > 1 else "ASC"
                spec = resource.fields.get(field)
                if len(words) > 2 or direction not in ("ASC", "DESC") or spec is None or spec.kind not in SORTABLE:
                    raise bad(f"orderBy must be \"<field> ASC|DESC\" with a field of {resource.name}, not {text!r}",
                              f"orderBy {text!r} is not \"<field> ASC|DESC\" of a field of {resource.name}")
                keys.append((field, direction == "DESC"))
        records = sorted(records, key=lambda r: r["id"])
        for field, descending in reversed(keys):
            records.sort(key=lambda r: (r.get(field) is not None, r.get(field) if r.get(field) is not None else 0),
                         reverse=descending)
        return records

    def create(self, resource, data, session):
        self.check_params(set())
        body, form = self.parsed_body()
        plan = Writer(data, resource, self.stand.caller(data, session["email"]), form).plan(None, body)
        return 200, {"success": True, "result": self.view(data, resource, self.stand.write(self.tenant, plan))}, {}

    def update(self, resource, data, session, record):
        self.check_params(set())
        body, form = self.parsed_body()
        plan = Writer(data, resource, self.stand.caller(data, session["email"]), form).plan(record, body)
        return 200, {"success": True, "result": self.view(data, resource, self.stand.write(self.tenant, plan))}, {}

    def pm(self):
        """PM templates in their own paged envelope."""
        self.check_params({"page", "pageSize"})
        page = self.whole("page", 1, 1)
        size = min(self.whole("pageSize", 25, 1), self.stand.options.max_limit)
        with self.stand.lock:
            templates = copy.deepcopy(self.stand.data(self.tenant)["pm"])
        if "schedules" not in self.includes():
            for template in templates:
                template.pop("schedules", None)
        total = len(templates)
        pages = math.ceil(total / size)
        chosen = templates[(page - 1) * size:page * size]
        self.returned = len(chosen)
        return 200, {"success": True, "data": chosen, "pagination": {
            "currentPage": page, "currentPageSize": size, "nextPage": page + 1 if page < pages else None,
            "previousPage": page - 1 if page > 1 else None, "totalCount": total, "totalPages": pages}}, {}

    def add_webhook(self):
        self.check_params(set())
        body = self.parsed_body()[0]
        unknown = set(body) - {"title", "endpoint", "events"}
        if unknown:
            names = ", ".join(sorted(unknown))
            raise bad(f"Unknown field: {names}", f"unknown field(s) {names} in a webhook body")
        endpoint, events, title = body.get("endpoint"), body.get("events"), body.get("title")
        if not isinstance(endpoint, str) or not re.match(r"https?://\S+$", endpoint):
            raise bad("endpoint must be an http or https URL")
        if (not isinstance(events, list) or not events
                or not all(isinstance(e, str) and e in WEBHOOK_EVENTS for e in events)):
            raise bad(f"events must be a non-empty array of: {', '.join(WEBHOOK_EVENTS)}")
        if title is not None and not isinstance(title, str):
            raise bad("title must be a string")
        with self.stand.lock:
            data = self.stand.data(self.tenant)
            hook = {"webhookId": new_id(data), "title": title, "endpoint": endpoint, "events": list(events)}
            data["webhooks"].append(hook)
        return 200, {"success": True, "webhookId": hook["webhookId"]}, {}

    def delete_webhook(self, ident):
        with self.stand.lock:
            hooks = self.stand.data(self.tenant)["webhooks"]
            hook = next((h for h in hooks if h["webhookId"] == ident), None)
            if hook is None:
                raise Refusal(404, "Webhook not found")
            hooks.remove(hook)
        return 200, {"success": True, "message": "webhook deleted"}, {}

    # Control endpoints.

    def control_answer(self):
        return self.stand.plane.answer(self)

    def tenant_body(self):
        body = self.control_body()
        if not isinstance(body.get("tenant"), str) or not body["tenant"]:
            raise ControlError(400, "tenant must be a non-empty string (the email the tenant logs in with).")
        return body

    def touch(self):
        """POST /_standin/touch: change an object as an UpKeep user would, and answer it."""
        body = self.tenant_body()
        resource, fields = RESOURCES.get(body.get("type")), body.get("fields")
        if resource is None or not isinstance(body.get("id"), str) or not isinstance(fields, dict) or not fields:
            raise ControlError(400, 'touch takes {"tenant", "type": one of ' + ", ".join(RESOURCES)
                               + ', "id", "fields": {field: value}, "afterNextPage"?: true}.')
        if body.get("afterNextPage"):
            with self.stand.lock:
                self.touch_plan(body)  # checked now, made later
            return 200, {"deferred": self.stand.plane.touches.defer(body["tenant"], resource.name, body)}
        with self.stand.lock:
            return 200, self.apply_touch(body)

    def touch_plan(self, body):
        """The Plan of a touch (lock held); ControlError when it cannot be made."""
        resource = RESOURCES[body["type"]]
        data = self.stand.data(body["tenant"])
        record = find(data, resource.name, body["id"])
        if record is None:
            raise ControlError(404, f"{resource.name} has no object with id {body['id']}.")
        fields = body["fields"]
        refused = [k for k in fields if k not in resource.fields or k in ("id", "createdAt", "updatedAt")
                   or (resource.writable and not resource.fields[k].writable)]
        if refused:
            raise ControlError(400, f"A user cannot change {', '.join(refused)} on {resource.name}.")
        if not resource.writable:  # a list the API does not write: the values as they are
            plan = Plan(resource, record, {**copy.deepcopy(record), **copy.deepcopy(fields)})
            return plan
        try:
            return Writer(data, resource, data["lists"]["users"][0]["id"]).plan(record, fields)
        except Refusal as refusal:
            raise ControlError(400, refusal.message) from None

    def apply_touch(self, body):
        return copy.deepcopy(self.stand.write(body["tenant"], self.touch_plan(body)))

    def expire(self):
        body = self.tenant_body()
        with self.stand.lock:
            held = [t for t in self.stand.tokens.values()
                    if t["tenant"] == body["tenant"] and t["expires"] is not None and not t["expired"]]
            for token in held:
                token["expired"] = True
        return 200, {"tenant": body["tenant"], "expired": len(held)}

    def reset(self):
        body = self.tenant_body()
        with self.stand.lock:
            data = self.stand.data(body["tenant"])
            data.clear()
            data.update(copy.deepcopy(self.stand.seed))
        return 200, {"tenant": body["tenant"], "reset": True}

    def webhooks(self):
        tenant = self.query.get("tenant")
        if not tenant:
            raise ControlError(400, "webhooks takes ?tenant=<email>.")
        with self.stand.lock:
            return 200, {"webhooks": copy.deepcopy(self.stand.data(tenant)["webhooks"])}


def main():
    """Read the seed data, date it, serve until interrupted."""
    parser = argparse.ArgumentParser(description="A local stand-in for UpKeep's REST API v2.")
    parser.add_argument("--port", type=int, required=True, help="0 picks a free port")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--token-ttl", type=float, default=3600, help="a session token's life in seconds")
    parser.add_argument("--max-limit", type=int, default=1000, help="the largest page served (larger limits are clamped)")
    parser.add_argument("--static-token", action="append", metavar="TOKEN=EMAIL",
                        help="a Session-Token that never expires, of the tenant EMAIL (repeatable)")
    args = parser.parse_args()
    if args.max_limit < 1 or args.token_ttl <= 0:
        parser.error("--max-limit must be at least 1 and --token-ttl above 0")
    if any(not t.partition("=")[0] for t in args.static_token or ()):
        parser.error("--static-token takes TOKEN=EMAIL")
    try:
        seed = build_seed(json.loads(SEED_FILE.read_text("utf-8")), now_ms())
    except (OSError, ValueError, KeyError, TypeError) as error:
        parser.error(f"the seed data in {SEED_FILE} does not hold: {error}")
    server = ThreadingHTTPServer((args.host, args.port), Handler)
    server.stand = Stand(seed, args)
    serve(server, f"upkeep stand-in on http://{args.host}:{server.server_address[1]}")


if __name__ == "__main__":
    main()
