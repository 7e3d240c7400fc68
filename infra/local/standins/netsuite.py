"""A local stand-in for Oracle NetSuite's REST web services: OAuth 2.0 client credentials (M2M), the
REST record service and SuiteQL.

The NetSuite connector's tests and local dev talk to this server instead of a real NetSuite account.
It speaks NetSuite's wire format as the vendor dossier describes it (../shared/specs/netsuite beside
the checkout: README.md and its example files; section numbers below are the dossier's):

* `POST /services/rest/auth/oauth2/v1/token` (§1, §6.2-6.5): form-encoded `grant_type=client_credentials`,
  `client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer`, `client_assertion=<JWT>`.
  The JWT is checked in this order: typ JWT; alg one of PS256 PS384 PS512 ES256 ES384 ES512; kid a
  known certificate whose public key verifies the signature; iss an integration mapped to it; the
  certificate not revoked; aud `http://<Host header>/services/rest/auth/oauth2/v1/token` (host
  compared case-insensitively); scope holding `rest_webservices` (comma/space separated string or
  JSON array); iat at most 300 s in the future; exp after now; exp - iat under 3600. Success is 200
  `{"access_token": <opaque>, "expires_in": "3600", "token_type": "bearer"}` (`expires_in` is the
  --token-lifetime, a number with --expires-in-number). A refusal is `{"error": ...}` only:
      400 invalid_request   form not urlencoded, missing/wrong parameters, an Authorization header or
                            client_secret besides the assertion, a JWT that does not parse, typ not
                            JWT, iat/exp not numbers        (audit: InvalidRequest, MalformedToken)
      401 invalid_client    alg not allowed (RS256 too), unknown kid, bad signature (also a key of
                            another type or curve), iss not mapped, wrong aud, scope without
                            rest_webservices; with WWW-Authenticate: Basic realm="<account id>"
                            (audit: UnsupportedAlgorithm, UnknownCertificate, InvalidSignature,
                            InvalidIntegration, InvalidAudience, ScopeMismatched)
      400 invalid_grant     revoked certificate, iat more than 300 s ahead, expired JWT,
                            exp - iat >= 3600 (audit: CertificateRevoked, IssuedInFuture,
                            AssertionExpired, AssertionLifetimeTooLong)
  The reason goes to the tenant's login audit trail (/_standin/audit), never into the response.
  Oracle documents neither the mapping of client-credentials failures to these values nor these
  reason names (§7.2): the mapping is the dossier's §6.5 guidance and the names are ours, except
  InvalidSignature, InvalidIntegration, ScopeMismatched (NetSuite's own audit texts, §1.6).
* Every other call under /services/rest needs `Authorization: Bearer <token>` of a token that is
  not expired; otherwise 401 INVALID_LOGIN in the standard error body (§1.7), and the audit trail
  says why: MissingAccessToken, TokenRejected (a token this server never issued) or
  AccessTokenExpired (past its lifetime, or after /_standin/expire-tokens).
* The record service under `/services/rest/record/v1/` (§2, §6.7-6.19) for purchaseOrder, vendor,
  inventoryItem, nonInventoryPurchaseItem, servicePurchaseItem, location, subsidiary, currency,
  employee (the type segment matched case-insensitively):
      GET    /{type}?q=&limit=&offset=   collection of {links, id} items in id order, with the
                                         envelope {links, count, hasMore, items, offset, totalResults}
      GET    /{type}/{id}                the record: ?expandSubResources= ?simpleEnumFormat= ?fields=
                                         (an id may also be written eid:<externalId>)
      GET    /purchaseOrder/{id}/item[/{line}], .../expense   sublists as sub-resources
      POST   /purchaseOrder, /vendor     204, Location of the new record
      PATCH  /purchaseOrder/{id}, /vendor/{id}   204 (?replace=item)
      DELETE /{type}/{id}                204 (400 USER_ERROR while other records refer to it)
      GET    /metadata-catalog, /metadata-catalog/{type}   JSON Schema (draft-06 hyper-schema) with
                                         x-ns-filterable and x-ns-custom-field (§2.7)
  Records carry `links` (self, absolute on the Host the client used), string ids, references as
  {links, id, refName}, select fields (status, approvalStatus, itemType, country) as {id, refName},
  dates YYYY-MM-DD, date-times YYYY-MM-DDTHH:MM:SSZ (UTC); fields without a value are left out.
  `q` (§2.3, §6.10): conditions `field OPERATOR value` joined by AND / OR with parentheses; numbers
  and ids EQUAL ANY_OF BETWEEN WITHIN GREATER GREATER_OR_EQUAL LESS LESS_OR_EQUAL, strings IS
  CONTAIN START_WITH ENDWITH (case-insensitive), booleans IS, dates AFTER BEFORE ON ON_OR_AFTER
  ON_OR_BEFORE WITHIN, references and select fields ANY_OF / EQUAL / IS, every one also with _NOT,
  and EMPTY / EMPTY_NOT. Strings and dates go in double quotes, lists in [a, b]. Dates are
  "M/D/YYYY" (the whole day) or "M/D/YYYY HH:MM" / "M/D/YYYY h:mm am" (that minute), read as UTC;
  "YYYY-MM-DD" (and "YYYY-MM-DD HH:MM[:SS]") only with --allow-iso-dates, else 400 INVALID_PARAMETER
  "Unparseable date". A field the record lacks is 400 NONEXISTENT_FIELD; one outside x-ns-filterable
  (sublists, computed names) 400 INVALID_PARAMETER.
* SuiteQL: `POST /services/rest/query/v1/suiteql?limit=&offset=` with body {"q": "..."} (§3,
  §6.20-6.23), parsed by a small recursive-descent parser:
      SELECT item (, item)* | * FROM table [alias] [WHERE expr] [ORDER BY ref [ASC|DESC] (, ...)*]
      item  := [a.]col | BUILTIN.DF([a.]col) | TO_CHAR([a.]col[, 'format'])   [[AS] name]
      expr  := term (OR term)* ;  term := factor (AND factor)* ;  factor := '(' expr ')' | cond
      cond  := [a.]col (= | <> | != | > | >= | < | <=) value | [a.]col [NOT] IN (value, ...)
             | [a.]col IS [NOT] NULL | [a.]col [NOT] LIKE 'pattern%'
      value := 'text' | number | TO_TIMESTAMP('...', 'fmt') | TO_DATE('...', 'fmt') | NULL
  Keywords are case-insensitive; formats use YYYY MM DD HH24 HH MI SS. Rows are {"links": [],
  <lower-case column or alias>: value} in the collection envelope; every value is a string (ids and
  numbers too), booleans "T"/"F", dates and date-times without TO_CHAR "M/D/YYYY"; NULL columns are
  left out of the row (§7.7: we omit rather than send null). Comparisons: numeric columns as numbers,
  date/date-time columns as instants (all UTC) against TO_TIMESTAMP / TO_DATE, text as text, NULL
  never matches. An unknown table or column is 400 INVALID_PARAMETER, o:errorQueryParam "q", "Invalid
  search query. Detailed unprocessed description follows. Search error occurred: Unknown identifier
  'x'. Available identifiers are: {t=transaction}."; other parse errors have the same prefix.
  Tables (from the same data the record service serves):
      transaction   id tranid trandate duedate type ('PurchOrd') status (letter) entity currency
                    employee exchangerate foreigntotal memo approvalstatus externalid createddate
                    lastmodifieddate custbody_* (no subsidiary column, as in NetSuite)
      transactionline  transaction id linesequencenumber mainline ('T' header pseudo-line with id 0,
                    'F' item lines with id = line) taxline item quantity quantityshiprecv rate
                    netamount foreignamount location subsidiary isclosed memo custcol_*
      transactionstatus  id trantype name fullname (PurchOrd A-H, P Planned, Y Undefined)
      vendor        id entityid companyname email phone isinactive currency subsidiary externalid
                    datecreated lastmodifieddate
      item          id itemid displayname description itemtype isinactive stockunit externalid
                    createddate lastmodifieddate
      location      id name fullname isinactive subsidiary parent lastmodifieddate
      subsidiary    id name fullname isinactive currency country parent lastmodifieddate
      currency      id name symbol exchangerate isbasecurrency isinactive
      employee      id entityid firstname lastname email subsidiary isinactive lastmodifieddate
      inventoryitemlocations  item location quantityonhand quantityavailable quantityonorder
  BUILTIN.DF gives the display value: status "Purchase Order : <name>", entity/employee the entityid,
  currency/location/subsidiary the (full) name, item the itemid, approvalstatus its name.
  A missing `Prefer: transient` is noted in the request log, not refused (§7.6).
* Errors (§4.1): {"type", "title", "status", "o:errorDetails": [{"detail", "o:errorCode",
  "o:errorPath"? "o:errorQueryParam"? "o:errorHeader"?}]} as application/vnd.oracle.resource+json;
  type=error, with rfc9110 type URIs (rfc6585 for 429).
* Concurrency (§4.4, §6.25): per tenant at most --concurrency-limit record/SuiteQL calls in flight
  (the token endpoint is not counted); one more is 429 CONCURRENCY_LIMIT_EXCEEDED "Concurrent request
  limit exceeded. Request blocked." without Retry-After. A call leaves the count just before its answer
  is written, so a client calling one after another never meets a 429.
* Paging (§2.2, §6.8, §7.5, §7.8, §7.16): limit 1..1000 (default 1000), offset a multiple of limit
  (default 0); anything else is 400 INVALID_PARAMETER with o:errorQueryParam "limit"/"offset" (we
  refuse rather than clamp). At most --max-results (100,000) results can be reached: an offset at
  or past it is refused, hasMore stops there, totalResults keeps the real count. Links: self always,
  next while hasMore, last when there is more than one page, first and previous after the first page.

Tenants. The iss of a client assertion (the integration's client id) names the tenant: `demo-millwright`
and any other client id starting with `demo-` are integrations mapped to both demo certificates, so
tests using distinct `demo-<uuid>` ids never see each other. Each tenant has its own copy of the seed
data (made on first use), request log, audit trail, in-flight count and limit, latency, faults,
clock offset and tokens. Certificates: `Mw7DemoCertificate01AQ` holds the public key of
netsuite_demo_certificate.pem (its private key is the NetSuite connect body in
infra/local/demo-connections.json); `Mw7RevokedCertifica02AQ` holds the same key but is revoked. The
certificate's validity dates are not checked. A tenant's "now" is real time plus its clock offset;
it decides token and assertion expiry and dates writes.

The seed data is the stand-in's own, in netsuite_seed.json beside this file (see its "about"). At
start-up the records are dated back from the server's start: createdDate and lastModifiedDate
distinct, within the last 60 days (lastModifiedDate 52 to 2 days back, createdDate 1 to 8 days
before it), in an order unlike id order. Every write (and /_standin/touch)
sets lastModifiedDate to the tenant's now, but always strictly later than every lastModifiedDate the
tenant already has (seconds resolution), so an incremental read by lastmodifieddate sees it.

Writes, and the decisions taken where the dossier says "not confirmed" (§7):
* POST purchaseOrder: entity, subsidiary and at least one item line are mandatory (400 USER_ERROR
  "Error while accessing a resource. Please enter value(s) for: Vendor" / "... Subsidiary" with
  o:errorPath, "... You must enter at least one line item for this transaction." at `item`), a
  line needs item and quantity. A reference ({"id"} or {"externalId"}) to a missing or inactive
  record is 400 INVALID_CONTENT: "Invalid entity reference key 323." at `entity` on the body, the
  documented "Error while accessing resource: You have entered an Invalid Field Value 9999 for the
  following field: item" at `item.items[0].item` on lines. externalId is unique per record type
  (400 USER_ERROR at `externalId`). A new PO is status A (Pending Supervisor Approval),
  approvalStatus 1, supervisorApproval false, tranId PO-<next number>, lines numbered 1..n, amount =
  quantity x rate (rate defaults to the item's cost, description/units to the item's, location to
  the PO's), totals, createdDate = lastModifiedDate = now. Expense lines are served (empty) but not
  written: a body with expense lines is 400 INVALID_CONTENT (a stand-in limit).
* PATCH purchaseOrder: header fields merge (null clears an optional one); `item.items` is keyed by
  `line` (§7.9: our choice) - a matching line is updated, any other entry is added as a new line;
  `?replace=item` also removes the existing lines the body does not name. `isClosed` closes a line;
  status follows: H when every line is closed, A / C while approvalStatus is 1 / 3, otherwise from
  the open lines' quantities (B nothing received, D part received, E part received and billed, F all
  received, G all billed). approvalStatus may be written ({"id": "2"} approves: A -> B).
  OURS (§5, §7.11 say this is undocumented): a PO whose approvalStatus is 2 (Approved) refuses every
  change except closing lines (`{"item": {"items": [{"line": n, "isClosed": true}]}}`) with 400
  USER_ERROR "This record has been approved and is locked for editing." and no o:errorPath.
  DELETE is not locked.
* Read-only fields (id, tranId, status, totals, dates the server keeps, quantityReceived, ...) in a
  body are 400 INVALID_CONTENT naming the field; `links` and `refName` are ignored.
* X-NetSuite-PropertyNameValidation (§2.6, §6.15): Error / Warning / Ignore, case-insensitive, default
  Warning; Warning and Ignore drop unknown properties (noted in the request log), Error refuses
  with 400 INVALID_CONTENT "Invalid field name: <name>." and o:errorPath (§7.5: wording illustrative).
  Custom fields known to the account are the seed's customFields; others are unknown properties.
* X-NetSuite-Idempotency-Key is ignored on these synchronous calls (noted in the request log, §2.6);
  `Prefer: respond-async` is not served - the call is answered synchronously and the log notes it.
* POST / PATCH on the other record types, PUT (upsert) and GET on suiteql are 405 INVALID_METHOD (ours).
* An unknown record type is 400 INVALID_RCRD_TYPE "Record type 'x' does not exist." (§7.5: ours); an
  unknown path under /services/rest is 404 INVALID_URL; an unknown id 404 NONEXISTENT_ID "The record
  instance does not exist. Provide a valid record instance ID."; an unknown name in fields= 400
  NONEXISTENT_FIELD.
* inventoryitemlocations (its name and columns) is our assumption of how on-hand stock per location
  is read through SuiteQL; it has no lastmodifieddate. Its numbers are the seed's and do not follow
  PO writes. The transactionstatus names of P (Planned) and Y (Undefined) are guesses (§7.10).
* Item references render refName "<itemId> <displayName>" (as the dossier's example record),
  BUILTIN.DF of an item gives its itemid; item references link to inventoryItem,
  nonInventoryPurchaseItem or servicePurchaseItem by the item's type.

    .venv/bin/python infra/local/standins/netsuite.py --port 8094 [--host 127.0.0.1]
        [--account-id TSTDRV1234567] [--concurrency-limit 5] [--token-lifetime 3600]
        [--expires-in-number] [--allow-iso-dates] [--max-results 100000]

prints `netsuite stand-in on http://127.0.0.1:8094` once it listens (--port 0 picks a free port). It
needs PyJWT and cryptography (infra/local/requirements.txt) to verify signatures; all else is stdlib.
The access log is quiet: a raw request can carry secrets.

Control endpoints (no auth, JSON; T is a tenant, i.e. a client id); health, requests, audit and faults
are standin_control.py's (the control plane the stand-ins share), the rest this stand-in's own:
    GET    /_standin/health                        {"ok": true}
    GET    /_standin/requests?tenant=T             {"requests": [...]} the tenant's calls in order (all
                                                   tenants without ?tenant): method, path, query
                                                   (decoded), body (parsed JSON), headers (Prefer,
                                                   X-NetSuite-Idempotency-Key,
                                                   X-NetSuite-PropertyNameValidation), status,
                                                   inFlight (others in flight at arrival), notes;
                                                   token requests with the decoded, unverified JWT
                                                   header and claims, never the assertion itself
    DELETE /_standin/requests?tenant=T             clears it (all tenants' without ?tenant)
    GET    /_standin/audit?tenant=T                {"audit": [...]} the login audit trail: result
                                                   Success / Failure, reason, detail, error, status
    DELETE /_standin/audit?tenant=T                clears it (all tenants' without ?tenant)
    GET    /_standin/stats?tenant=T                {"maxInFlight", "rejectedConcurrency" (every 429
                                                   answered, injected ones included), "tokensIssued",
                                                   "limit"}
    POST   /_standin/limits {"tenant", "concurrency"?, "latencyMs"?}   a per-tenant limit, and a
                                                   least time each API call takes
    POST   /_standin/faults {"tenant", "fault": "429"|"401"|"500"|"stall", "count"?: 1,
                             "method"?, "path"?: prefix under /services/rest, "seconds"?: 20}
                                                   the next `count` matching API calls get the fault
                                                   (429 CONCURRENCY_LIMIT_EXCEEDED, 401 INVALID_LOGIN,
                                                   500 UNEXPECTED_ERROR); "stall" serves the call,
                                                   then waits `seconds` before answering (it stays in
                                                   flight meanwhile); faults are taken after the
                                                   bearer and concurrency checks
    POST   /_standin/faults {"tenant", "match"?, "method"?, "responses": [...]}   the common format:
                                                   each response {"status": 429|401|500} or
                                                   {"stallSeconds": s} is one matching call's fault,
                                                   in order ("match": part of the call's target)
    DELETE /_standin/faults?tenant=T               drops the tenant's pending faults
    POST   /_standin/expire-tokens {"tenant"}      every token the tenant holds stops working now
    POST   /_standin/clock {"tenant", "offsetSeconds"}   shifts the tenant's now
    POST   /_standin/touch {"tenant", "type", "id", "fields": {...}}   changes a record as a NetSuite
                                                   user would (purchaseOrder, vendor, item or an item
                                                   type, location, subsidiary, currency, employee);
                                                   lastModifiedDate = now; answers the record
"""

import argparse
import copy
import functools
import json
import re
import secrets
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from http.server import ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit

try:
    import jwt
    from cryptography import x509
except ImportError as missing:  # pragma: no cover - a message instead of a traceback
    sys.exit(f"the netsuite stand-in needs PyJWT and cryptography ({missing}): "
             ".venv/bin/pip install -r infra/local/requirements.txt")

from standin_control import ControlError, ControlPlane, Tenants
from standin_http import RequestHandler, serve

SEED_FILE = Path(__file__).with_name("netsuite_seed.json")
CERTIFICATE_FILE = Path(__file__).with_name("netsuite_demo_certificate.pem")

REST = "/services/rest"
TOKEN_PATH = REST + "/auth/oauth2/v1/token"
RECORD = REST + "/record/v1/"
SUITEQL = REST + "/query/v1/suiteql"
CATALOG = "metadata-catalog"

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ALGORITHMS = ("PS256", "PS384", "PS512", "ES256", "ES384", "ES512")
CLOCK_SKEW = 300
MAX_ASSERTION_LIFETIME = 3600
CLIENT_PREFIX = "demo-"  # demo-millwright and every other demo-… client id are mapped integrations
CERTIFICATES = {"Mw7DemoCertificate01AQ": False, "Mw7RevokedCertifica02AQ": True}  # id -> revoked

SINGULAR = "application/vnd.oracle.resource+json; type=singular"
COLLECTION = "application/vnd.oracle.resource+json; type=collection"
ERROR = "application/vnd.oracle.resource+json; type=error"
TOKEN_JSON = "application/json;charset=UTF-8"
CONTROL_JSON = "application/json"

RFC9110 = "https://www.rfc-editor.org/rfc/rfc9110.html#section-"
STATUS = {400: (RFC9110 + "15.5.1", "Bad Request"), 401: (RFC9110 + "15.5.2", "Unauthorized"),
          403: (RFC9110 + "15.5.4", "Forbidden"), 404: (RFC9110 + "15.5.5", "Not Found"),
          405: (RFC9110 + "15.5.6", "Method Not Allowed"), 406: (RFC9110 + "15.5.7", "Not Acceptable"),
          429: ("https://www.rfc-editor.org/rfc/rfc6585.html#section-4", "Too Many Requests"),
          500: (RFC9110 + "15.6.1", "Internal Server Error")}

LOGIN_DETAIL = ("Invalid login attempt. For more details, see the Login Audit Trail in the NetSuite UI at "
                "Setup > Users/Roles > User Management > View Login Audit Trail.")
CONCURRENCY_DETAIL = "Concurrent request limit exceeded. Request blocked."
NOT_FOUND_DETAIL = "The record instance does not exist. Provide a valid record instance ID."
SEARCH_PREFIX = "Invalid search query. Detailed unprocessed description follows. Search error occurred: "
LOCKED_DETAIL = "This record has been approved and is locked for editing."
ACCESS = "Error while accessing a resource. "

# PurchOrd status letters (§3.4); P and Y are guesses (§7.10).
PO_STATUS = {"A": "Pending Supervisor Approval", "B": "Pending Receipt", "C": "Rejected by Supervisor",
             "D": "Partially Received", "E": "Pending Billing/Partially Received", "F": "Pending Bill",
             "G": "Fully Billed", "H": "Closed", "P": "Planned", "Y": "Undefined"}
REST_PO_STATUS = ("P", "A", "B", "C", "D", "E", "F", "G", "H")  # the REST status enum (§2.7 example)
APPROVAL = {"1": "Pending Approval", "2": "Approved", "3": "Rejected"}
ITEM_TYPES = {"InvtPart": "InvtPart", "NonInvtPart": "NonInvtPart", "Service": "Service"}
ITEM_TYPE_NAMES = {"InvtPart": "Inventory Item", "NonInvtPart": "Non-inventory Item", "Service": "Service"}
ITEM_RECORD = {"InvtPart": "inventoryItem", "NonInvtPart": "nonInventoryPurchaseItem", "Service": "servicePurchaseItem"}
HEADERS_LOGGED = ("Prefer", "X-NetSuite-Idempotency-Key", "X-NetSuite-PropertyNameValidation")


# ----------------------------------------------------------------------------------------------
# Errors


def error_detail(text, code, path=None, param=None, header=None):
    """One entry of o:errorDetails."""
    entry = {"detail": text, "o:errorCode": code}
    if path is not None:
        entry["o:errorPath"] = path
    if param is not None:
        entry["o:errorQueryParam"] = param
    if header is not None:
        entry["o:errorHeader"] = header
    return entry


class Refusal(Exception):
    """An API error answer: its status and o:errorDetails."""

    def __init__(self, status, *details):
        super().__init__("; ".join(d["detail"] for d in details))
        self.status, self.details = status, list(details)

    def body(self):
        uri, title = STATUS.get(self.status, (RFC9110 + "15.5.1", "Bad Request"))
        return {"type": uri, "title": title, "status": self.status, "o:errorDetails": self.details}


def refuse(status, code, text, **where):
    return Refusal(status, error_detail(text, code, **where))


def bad(code, text, **where):
    return refuse(400, code, text, **where)


def search_error(text):
    """A q (record filter or SuiteQL) that cannot be run."""
    return bad("INVALID_PARAMETER", SEARCH_PREFIX + text, param="q")


def invalid_value(path, value, name=None):
    """NetSuite's documented wording for a bad value or reference in a body."""
    shown = value if not isinstance(value, (dict, list)) else json.dumps(value)
    return bad("INVALID_CONTENT", f"Error while accessing resource: You have entered an Invalid Field Value {shown} "
               f"for the following field: {name or path.rsplit('.', 1)[-1]}", path=path)


def login_refusal():
    return refuse(401, "INVALID_LOGIN", LOGIN_DETAIL)


def not_found():
    return refuse(404, "NONEXISTENT_ID", NOT_FOUND_DETAIL)


class TokenRefusal(Exception):
    """A token-endpoint refusal: status, OAuth error value, and the audit reason."""

    def __init__(self, status, error, reason, text):
        super().__init__(text)
        self.status, self.error, self.reason = status, error, reason


def invalid_request(reason, text):
    return TokenRefusal(400, "invalid_request", reason, text)


def invalid_client(reason, text):
    return TokenRefusal(401, "invalid_client", reason, text)


def invalid_grant(reason, text):
    return TokenRefusal(400, "invalid_grant", reason, text)


# ----------------------------------------------------------------------------------------------
# Time and value forms


def utcnow():
    return datetime.now(timezone.utc).replace(microsecond=0)


def iso_z(moment):
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def us_date(value):
    return f"{value.month}/{value.day}/{value.year}"


def as_moment(value):
    """A date (midnight UTC) or date-time as an aware date-time."""
    if isinstance(value, datetime):
        return value
    return datetime(value.year, value.month, value.day, tzinfo=timezone.utc)


def number_text(value):
    """A number as SuiteQL writes it: 1740, 96.5."""
    value = round(float(value), 6)
    return str(int(value)) if value.is_integer() else repr(value)


def is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def parse_iso_date(text):
    if not isinstance(text, str) or not re.fullmatch(r"\d{4}-\d\d-\d\d", text):
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


ORACLE_FORMAT = [("YYYY", "%Y"), ("HH24", "%H"), ("HH12", "%I"), ("HH", "%I"), ("MM", "%m"), ("DD", "%d"),
                 ("MI", "%M"), ("SS", "%S"), ("AM", "%p"), ("PM", "%p")]


def strftime_format(text):
    """An Oracle date format (YYYY MM DD HH24 HH MI SS and separators) as a strftime format."""
    out, i = "", 0
    while i < len(text):
        for token, directive in ORACLE_FORMAT:
            if text[i:i + len(token)].upper() == token:
                out, i = out + directive, i + len(token)
                break
        else:
            if text[i] not in " -:/.,T":
                raise search_error(f"Invalid date format '{text}'.")
            out, i = out + text[i], i + 1
    return out


# ----------------------------------------------------------------------------------------------
# Record types and their fields


@dataclass(frozen=True)
class Field:
    """A body field of a record (or of a sublist line) as REST serves it."""
    name: str
    kind: str  # string number integer boolean date datetime ref enum
    target: str = ""  # ref: the store of the record it names; enum: the key of its select list
    writable: bool = False
    title: str = ""
    custom: bool = False
    derive: Callable | None = None  # (data, record) -> value, for computed fields
    filterable: bool = True


def F(name, kind, target="", writable=False, title="", **more):
    return Field(name, kind, target, writable, title or name, **more)


@dataclass
class RecordType:
    name: str  # the REST name
    store: str  # the tenant data it lives in
    fields: list
    sublists: dict = field(default_factory=dict)  # name -> line fields
    only: dict = field(default_factory=dict)  # stored values its records have (item types)
    writable: bool = False

    def __post_init__(self):
        self.by_name = {f.name: f for f in self.fields}
        self.by_lower = {f.name.lower(): f for f in self.fields}

    def records(self, data):
        return [r for r in data[self.store].values() if all(r.get(k) == v for k, v in self.only.items())]

    def find(self, data, text):
        """The record an id (or eid:<externalId>) in a URL names, or None."""
        if text.startswith("eid:"):
            return next((r for r in self.records(data) if r.get("externalId") == text[4:]), None)
        if not text.isdigit():
            return None
        record = data[self.store].get(int(text))
        if record is None or any(record.get(k) != v for k, v in self.only.items()):
            return None
        return record

    def filterable(self):
        return ["id"] + [f.name for f in self.fields if f.filterable and f.derive is None]


def full_name(store):
    """Parent chain names joined by ' : ' (locations, subsidiaries)."""
    def derive(data, record):
        names, seen = [record["name"]], {record["id"]}
        parent = record.get("parent")
        while parent is not None and parent in data[store] and parent not in seen:
            seen.add(parent)
            names.insert(0, data[store][parent]["name"])
            parent = data[store][parent].get("parent")
        return " : ".join(names)
    return derive


def ref_name(data, store, record):
    """The refName a reference to a record shows."""
    if store == "item":
        return f"{record['itemId']} {record['displayName']}" if record.get("displayName") else record["itemId"]
    if store in ("vendor", "employee"):
        return record["entityId"]
    if store in ("location", "subsidiary"):
        return full_name(store)(data, record)
    if store == "purchaseOrder":
        return f"Purchase Order #{record['tranId']}"
    return record["name"]


def record_type_of(store, record):
    """The REST record type of a stored record (items by their type)."""
    return ITEM_RECORD.get(record.get("itemType"), "inventoryItem") if store == "item" else store


def build_record_types(custom):
    """Every served record type, with the account's custom fields from the seed."""
    body_custom = [F(c["id"], c["type"], writable=True, title=c["label"], custom=True) for c in custom["transactionBody"]]
    column_custom = [F(c["id"], c["type"], writable=True, title=c["label"], custom=True)
                     for c in custom["transactionColumn"]]
    po_fields = [
        F("tranId", "string", title="PO #"), F("externalId", "string", writable=True, title="External ID"),
        F("entity", "ref", "vendor", True, "Vendor"), F("subsidiary", "ref", "subsidiary", True, "Subsidiary"),
        F("location", "ref", "location", True, "Location"), F("currency", "ref", "currency", True, "Currency"),
        F("employee", "ref", "employee", True, "Employee"), F("exchangeRate", "number", writable=True, title="Exchange Rate"),
        F("tranDate", "date", writable=True, title="Date"), F("dueDate", "date", writable=True, title="Due Date"),
        F("createdDate", "datetime", title="Date Created"), F("lastModifiedDate", "datetime", title="Date Last Modified"),
        F("memo", "string", writable=True, title="Memo"),
        F("approvalStatus", "enum", "approvalStatus", True, "Approval Status"),
        F("status", "enum", "poStatus", title="Status"), F("supervisorApproval", "boolean", title="Supervisor Approval"),
        F("subtotal", "number", title="Subtotal"), F("total", "number", title="Total"),
    ] + body_custom
    line_fields = [
        F("line", "integer", title="Line"), F("item", "ref", "item", True, "Item"),
        F("itemType", "enum", "itemType", title="Item Type"), F("description", "string", writable=True, title="Description"),
        F("quantity", "number", writable=True, title="Quantity"), F("quantityReceived", "number", title="Received"),
        F("quantityBilled", "number", title="Billed"), F("units", "string", writable=True, title="Units"),
        F("rate", "number", writable=True, title="Rate"), F("amount", "number", title="Amount"),
        F("isClosed", "boolean", writable=True, title="Closed"),
        F("expectedReceiptDate", "date", writable=True, title="Expected Receipt Date"),
        F("location", "ref", "location", True, "Location"),
    ] + column_custom
    expense_fields = [F("line", "integer", title="Line"), F("account", "string", title="Account"),
                      F("amount", "number", title="Amount"), F("memo", "string", title="Memo"),
                      F("isClosed", "boolean", title="Closed"), F("location", "ref", "location", title="Location")]
    vendor_fields = [
        F("entityId", "string", writable=True, title="Vendor ID"), F("externalId", "string", writable=True, title="External ID"),
        F("companyName", "string", writable=True, title="Company Name"), F("email", "string", writable=True, title="Email"),
        F("phone", "string", writable=True, title="Phone"), F("isInactive", "boolean", writable=True, title="Inactive"),
        F("subsidiary", "ref", "subsidiary", True, "Primary Subsidiary"), F("currency", "ref", "currency", True, "Currency"),
        F("dateCreated", "datetime", title="Date Created"), F("lastModifiedDate", "datetime", title="Date Last Modified"),
    ]
    item_fields = [
        F("itemId", "string", title="Item Name/Number"), F("externalId", "string", title="External ID"),
        F("displayName", "string", title="Display Name/Code"), F("description", "string", title="Purchase Description"),
        F("itemType", "enum", "itemType", title="Item Type"), F("stockUnit", "string", title="Primary Stock Unit"),
        F("cost", "number", title="Purchase Price"), F("isInactive", "boolean", title="Inactive"),
        F("createdDate", "datetime", title="Date Created"), F("lastModifiedDate", "datetime", title="Date Last Modified"),
    ]
    location_fields = [
        F("name", "string", title="Name"), F("fullName", "string", title="Full Name", derive=full_name("location")),
        F("parent", "ref", "location", title="Parent"), F("subsidiary", "ref", "subsidiary", title="Subsidiary"),
        F("isInactive", "boolean", title="Inactive"), F("lastModifiedDate", "datetime", title="Date Last Modified"),
    ]
    subsidiary_fields = [
        F("name", "string", title="Name"), F("fullName", "string", title="Full Name", derive=full_name("subsidiary")),
        F("parent", "ref", "subsidiary", title="Parent"), F("currency", "ref", "currency", title="Currency"),
        F("country", "enum", "country", title="Country"), F("isInactive", "boolean", title="Inactive"),
        F("lastModifiedDate", "datetime", title="Date Last Modified"),
    ]
    currency_fields = [F("name", "string", title="Name"), F("symbol", "string", title="ISO Code"),
                       F("exchangeRate", "number", title="Exchange Rate"),
                       F("isBaseCurrency", "boolean", title="Base Currency"), F("isInactive", "boolean", title="Inactive")]
    employee_fields = [
        F("entityId", "string", title="Employee ID"), F("firstName", "string", title="First Name"),
        F("lastName", "string", title="Last Name"), F("email", "string", title="Email"),
        F("subsidiary", "ref", "subsidiary", title="Subsidiary"), F("isInactive", "boolean", title="Inactive"),
        F("lastModifiedDate", "datetime", title="Date Last Modified"),
    ]
    types = [
        RecordType("purchaseOrder", "purchaseOrder", po_fields, {"item": line_fields, "expense": expense_fields},
                   writable=True),
        RecordType("vendor", "vendor", vendor_fields, writable=True),
        RecordType("inventoryItem", "item", item_fields, only={"itemType": "InvtPart"}),
        RecordType("nonInventoryPurchaseItem", "item", item_fields, only={"itemType": "NonInvtPart"}),
        RecordType("servicePurchaseItem", "item", item_fields, only={"itemType": "Service"}),
        RecordType("location", "location", location_fields),
        RecordType("subsidiary", "subsidiary", subsidiary_fields),
        RecordType("currency", "currency", currency_fields),
        RecordType("employee", "employee", employee_fields),
    ]
    return {t.name: t for t in types}


# ----------------------------------------------------------------------------------------------
# Seed data and purchase-order rules


def seed_times(start, count):
    """Distinct moments between 52 and 2 days before `start`, in an order unlike the given order."""
    order = sorted(range(count), key=lambda i: ((i * 37) % 101, i))
    step = (50 * 86400) // max(count - 1, 1)
    times = [None] * count
    for slot, index in enumerate(order):
        times[index] = start - timedelta(days=52) + timedelta(seconds=slot * step + 17 * index)
    return times


def settle(po, data):
    """Recompute what follows from a PO's lines: item types, amounts, totals, status."""
    for line in po["item"]:
        item = data["item"].get(line["item"])
        if item is not None:
            line["itemType"] = item["itemType"]
        line["amount"] = round(line["quantity"] * line["rate"], 2)
    po["subtotal"] = po["total"] = round(sum(line["amount"] for line in po["item"]) +
                                         sum(line.get("amount") or 0 for line in po["expense"]), 2)
    po["supervisorApproval"] = po["approvalStatus"] == "2"
    po["status"] = derived_status(po)


def derived_status(po):
    """The PO status its approval and lines give (see the module docstring)."""
    lines = po["item"]
    if lines and all(line["isClosed"] for line in lines):
        return "H"
    if po["approvalStatus"] == "1":
        return "A"
    if po["approvalStatus"] == "3":
        return "C"
    open_lines = [line for line in lines if not line["isClosed"]]
    ordered = sum(line["quantity"] for line in open_lines)
    received = sum(line["quantityReceived"] for line in open_lines)
    billed = sum(line["quantityBilled"] for line in open_lines)
    if received <= 0:
        return "B"
    if received < ordered:
        return "E" if billed > 0 else "D"
    return "G" if billed >= ordered else "F"


def build_seed(seed, start):
    """The tenant data every tenant starts from: stores of records by id, dated back from `start`."""
    data = {"customFields": seed["customFields"], "countries": seed["countries"]}
    plain = {"currency": "currencies", "subsidiary": "subsidiaries", "location": "locations",
             "employee": "employees", "vendor": "vendors", "item": "items"}
    for store, key in plain.items():
        data[store] = {}
        for record in seed[key]:
            record = {"isInactive": False, **copy.deepcopy(record)}
            if record["id"] in data[store]:
                raise ValueError(f"{key} has id {record['id']} twice")
            data[store][record["id"]] = record
    for vendor in data["vendor"].values():
        vendor.setdefault("entityId", vendor["companyName"])
    data["inventoryItemLocations"] = copy.deepcopy(seed["inventoryItemLocations"])
    part = seed["purchaseOrders"]
    data["purchaseOrder"] = {}
    body_custom = {c["id"]: c for c in seed["customFields"]["transactionBody"]}
    for raw in part["records"]:
        raw = {**copy.deepcopy(part["defaults"]), **copy.deepcopy(raw)}
        lines = raw.pop("lines")
        po = {k: v for k, v in raw.items() if v is not None}
        po["tranId"] = f"PO-{po['id']:06d}"
        for name, spec in body_custom.items():
            if name not in po and "default" in spec:
                po[name] = spec["default"]
        po["item"] = [{**copy.deepcopy(part["line"]), **line, "line": n + 1} for n, line in enumerate(lines)]
        po["expense"] = []
        data["purchaseOrder"][po["id"]] = po
    # Dates: every record, of every store, its own lastModifiedDate.
    dated = [(store, r) for store in ("subsidiary", "currency", "location", "employee", "vendor", "item", "purchaseOrder")
             for r in data[store].values()]
    for n, ((store, record), when) in enumerate(zip(dated, seed_times(start, len(dated)))):
        created = when - timedelta(days=1 + (n * 5) % 7, seconds=(n * 97) % 3600 + 1)
        record["lastModifiedDate"] = when
        if store == "vendor":
            record["dateCreated"] = created
        elif store in ("item", "purchaseOrder"):
            record["createdDate"] = created
    for po in data["purchaseOrder"].values():
        po["tranDate"] = po["createdDate"].date()
        due = po.pop("dueInDays", None)
        if due is not None:
            po["dueDate"] = po["tranDate"] + timedelta(days=due)
        for line in po["item"]:
            item = data["item"][line["item"]]
            line.setdefault("description", item.get("description"))
            if item.get("stockUnit"):
                line.setdefault("units", item["stockUnit"])
            if po.get("location") is not None:
                line.setdefault("location", po["location"])
            line["expectedReceiptDate"] = po.get("dueDate") or po["tranDate"] + timedelta(days=14)
            for name in ("quantity", "rate", "quantityReceived", "quantityBilled"):
                line[name] = float(line[name])
        po["exchangeRate"] = float(po["exchangeRate"])
        declared = po["status"]
        settle(po, data)
        if po["status"] != declared:
            raise ValueError(f"PO {po['id']} is seeded as {declared}, its lines and approval give {po['status']}")
    check_references(data)
    data["latest"] = max(r["lastModifiedDate"] for _, r in dated)
    data["next"] = {store: max(data[store], default=0) + 1 for store in ("purchaseOrder", "vendor")}
    data["next"]["tranNumber"] = max(int(po["tranId"][3:]) for po in data["purchaseOrder"].values()) + 1
    return data


REFERENCES = {  # store -> [(field, target store)] on its records, [(sublist, field, target)] on lines
    "subsidiary": [("currency", "currency"), ("parent", "subsidiary")],
    "location": [("subsidiary", "subsidiary"), ("parent", "location")],
    "employee": [("subsidiary", "subsidiary")],
    "vendor": [("subsidiary", "subsidiary"), ("currency", "currency")],
    "purchaseOrder": [("entity", "vendor"), ("subsidiary", "subsidiary"), ("location", "location"),
                      ("currency", "currency"), ("employee", "employee"),
                      ("item", "item", "item"), ("item", "location", "location")],
}


def referrers(data, store, ident):
    """Whether any record refers to data[store][ident]."""
    for source, refs in REFERENCES.items():
        for ref in refs:
            for record in data[source].values():
                if len(ref) == 2 and ref[1] == store and record.get(ref[0]) == ident:
                    return True
                if len(ref) == 3 and ref[2] == store and any(line.get(ref[1]) == ident for line in record[ref[0]]):
                    return True
    if store in ("item", "location"):
        return any(row[store] == ident for row in data["inventoryItemLocations"])
    return False


def check_references(data):
    for source, refs in REFERENCES.items():
        for record in data[source].values():
            for ref in refs:
                values = [record.get(ref[0])] if len(ref) == 2 else [line.get(ref[1]) for line in record[ref[0]]]
                target = ref[-1]
                for value in values:
                    if value is not None and value not in data[target]:
                        raise ValueError(f"{source} {record['id']} names {target} {value}, which is not seeded")
    for row in data["inventoryItemLocations"]:
        if row["item"] not in data["item"] or row["location"] not in data["location"]:
            raise ValueError(f"inventoryItemLocations names a record that is not seeded: {row}")


# ----------------------------------------------------------------------------------------------
# Rendering records


class View:
    """How one answer renders records: its base URL (the Host the client used) and the tenant's data."""

    def __init__(self, base, data, types, simple_enum=False):
        self.base, self.data, self.types, self.simple_enum = base, data, types, simple_enum

    def href(self, type_name, ident, *rest):
        return f"{self.base}{RECORD}{type_name}/{ident}" + "".join(f"/{part}" for part in rest)

    @staticmethod
    def links(href):
        return [{"rel": "self", "href": href}]

    def reference(self, store, ident):
        record = self.data[store].get(ident)
        type_name = record_type_of(store, record) if record else store
        out = {"links": self.links(self.href(type_name, ident)), "id": str(ident)}
        if record is not None:
            out["refName"] = ref_name(self.data, store, record)
        return out

    def enum(self, target, value):
        if self.simple_enum:
            return value
        names = {"poStatus": PO_STATUS, "approvalStatus": APPROVAL, "itemType": ITEM_TYPES,
                 "country": self.data["countries"]}[target]
        return {"id": value, "refName": names.get(value, value)}

    def value(self, spec, value):
        if spec.kind == "ref":
            return self.reference(spec.target, value)
        if spec.kind == "enum":
            return self.enum(spec.target, value)
        if spec.kind == "date":
            return value.isoformat()
        if spec.kind == "datetime":
            return iso_z(value)
        if spec.kind == "number":
            return float(value)
        if spec.kind == "integer":
            return int(value)
        return value

    def fields(self, specs, record, chosen=None):
        out = {}
        for spec in specs:
            if chosen is not None and spec.name not in chosen:
                continue
            value = spec.derive(self.data, record) if spec.derive else record.get(spec.name)
            if value is not None:
                out[spec.name] = self.value(spec, value)
        return out

    def record(self, rtype, record, expand=False, chosen=None):
        href = self.href(rtype.name, record["id"])
        out = {"links": self.links(href), "id": str(record["id"])}
        out.update(self.fields(rtype.fields, record, chosen))
        for name in rtype.sublists:
            if chosen is None or name in chosen:
                out[name] = self.sublist(rtype, record, name) if expand else {"links": self.links(f"{href}/{name}")}
        return out

    def sublist(self, rtype, record, name):
        href = self.href(rtype.name, record["id"], name)
        items = [self.line(rtype, record, name, line) for line in record[name]]
        return {"links": self.links(href), "count": len(items), "hasMore": False, "items": items,
                "offset": 0, "totalResults": len(items)}

    def line(self, rtype, record, name, line):
        out = {"links": self.links(self.href(rtype.name, record["id"], name, line["line"]))}
        out.update(self.fields(rtype.sublists[name], line))
        return out


# ----------------------------------------------------------------------------------------------
# The record service's q filter (§2.3)


Q_TOKEN = re.compile(r'\s*(?:(?P<str>"(?:[^"\\]|\\.)*")|(?P<sym>[()\[\],])|(?P<word>[^\s()\[\],"]+))')
Q_KINDS = {  # operator (without _NOT) -> field kinds it applies to
    "EQUAL": {"number", "integer", "id", "ref", "enum"}, "ANY_OF": {"number", "integer", "id", "ref", "enum"},
    "BETWEEN": {"number", "integer", "id"}, "GREATER": {"number", "integer", "id"},
    "GREATER_OR_EQUAL": {"number", "integer", "id"}, "LESS": {"number", "integer", "id"},
    "LESS_OR_EQUAL": {"number", "integer", "id"},
    "IS": {"string", "boolean", "enum", "ref"}, "CONTAIN": {"string"}, "START_WITH": {"string"},
    "ENDWITH": {"string"},
    "AFTER": {"date", "datetime"}, "BEFORE": {"date", "datetime"}, "ON": {"date", "datetime"},
    "ON_OR_AFTER": {"date", "datetime"}, "ON_OR_BEFORE": {"date", "datetime"},
    "WITHIN": {"date", "datetime", "number", "integer", "id"},
    "EMPTY": None,
}
Q_LISTS = {"ANY_OF", "BETWEEN", "WITHIN"}
US_DATE = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})(?:\s+(\d{1,2}):(\d{2})(?:\s*([AaPp][Mm]))?)?")
ISO_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2}))?Z?)?")


class RecordFilter:
    """A parsed q: a test of stored records of one record type."""

    def __init__(self, rtype, text, allow_iso):
        self.rtype, self.allow_iso = rtype, allow_iso
        self.tokens, position = [], 0
        text = text.strip()
        while position < len(text):
            found = Q_TOKEN.match(text, position)
            if not found or found.end() == position:
                raise search_error(f"Cannot read the query at \"{text[position:]}\".")
            position = found.end()
            kind = found.lastgroup
            self.tokens.append((kind, found.group(kind)))
        self.i = 0
        self.test = self.expression()
        if self.i < len(self.tokens):
            raise search_error(f"Unexpected \"{self.tokens[self.i][1]}\".")

    def peek(self):
        return self.tokens[self.i] if self.i < len(self.tokens) else (None, None)

    def take(self, what):
        if self.i >= len(self.tokens):
            raise search_error(f"The query ends where {what} was expected.")
        self.i += 1
        return self.tokens[self.i - 1]

    def word(self, *words):
        kind, text = self.peek()
        if kind == "word" and text.upper() in words:
            self.i += 1
            return True
        return False

    def expression(self):
        tests = [self.term()]
        while self.word("OR"):
            tests.append(self.term())
        return tests[0] if len(tests) == 1 else (lambda r: any(t(r) for t in tests))

    def term(self):
        tests = [self.factor()]
        while self.word("AND"):
            tests.append(self.factor())
        return tests[0] if len(tests) == 1 else (lambda r: all(t(r) for t in tests))

    def factor(self):
        if self.peek() == ("sym", "("):
            self.i += 1
            test = self.expression()
            if self.take("')'") != ("sym", ")"):
                raise search_error("A ')' is missing.")
            return test
        return self.condition()

    def condition(self):
        kind, name = self.take("a field name")
        if kind != "word":
            raise search_error(f"A field name was expected, not {name}.")
        spec = self.field(name)
        kind, operator = self.take("an operator")
        operator = operator.upper() if kind == "word" else operator
        negate = operator.endswith("_NOT")
        base = operator[:-4] if negate else operator
        base = {"END_WITH": "ENDWITH"}.get(base, base)
        if base not in Q_KINDS:
            raise search_error(f"Unknown operator \"{operator}\".")
        allowed = Q_KINDS[base]
        if allowed is not None and spec.kind not in allowed:
            raise search_error(f"The operator {operator} cannot be used with the field {spec.name}.")
        if base == "EMPTY":
            test = lambda r: self.stored(spec, r) in (None, "")
        else:
            values = self.values() if base in Q_LISTS or (self.peek() == ("sym", "[")) else [self.value()]
            test = self.compare(spec, base, values)
        return (lambda r: not test(r)) if negate else test

    def field(self, name):
        if name.lower() == "id":
            return Field("id", "id")
        spec = self.rtype.by_lower.get(name.lower())
        if spec is None and name.lower() in {s.lower() for s in self.rtype.sublists}:
            raise search_error(f"The sublist '{name}' cannot be used in a query: only body fields can (no joins).")
        if spec is None:
            raise bad("NONEXISTENT_FIELD", SEARCH_PREFIX + f"Field '{name}' does not exist on {self.rtype.name}.",
                      param="q")
        if not spec.filterable or spec.derive is not None:
            raise search_error(f"Field '{spec.name}' cannot be used in a query (see x-ns-filterable).")
        return spec

    def values(self):
        if self.take("'['") != ("sym", "["):
            raise search_error("A list in [ ] was expected.")
        values = [self.value()]
        while self.peek() == ("sym", ","):
            self.i += 1
            values.append(self.value())
        if self.take("']'") != ("sym", "]"):
            raise search_error("A ']' is missing.")
        return values

    def value(self):
        kind, text = self.take("a value")
        if kind == "str":
            return ("str", re.sub(r"\\(.)", r"\1", text[1:-1]))
        if kind == "word":
            return ("word", text)
        raise search_error(f"A value was expected, not {text}.")

    @staticmethod
    def stored(spec, record):
        return record.get(spec.name)

    def compare(self, spec, base, values):
        if base == "BETWEEN" or (base == "WITHIN" and spec.kind not in ("date", "datetime")):
            if len(values) != 2:
                raise search_error(f"{base} takes two values.")
            low, high = (self.number(spec, v) for v in values)
            return lambda r: r.get(spec.name) is not None and low <= float(self.key(spec, r)) <= high
        if spec.kind in ("number", "integer", "id", "ref"):
            wanted = [self.number(spec, v) for v in values]
            if base in ("EQUAL", "ANY_OF", "IS"):
                return lambda r: self.key(spec, r) is not None and float(self.key(spec, r)) in wanted
            compare = {"GREATER": lambda a, b: a > b, "GREATER_OR_EQUAL": lambda a, b: a >= b,
                       "LESS": lambda a, b: a < b, "LESS_OR_EQUAL": lambda a, b: a <= b}[base]
            return lambda r: self.key(spec, r) is not None and compare(float(self.key(spec, r)), wanted[0])
        if spec.kind == "boolean":
            flag = self.boolean(values[0])
            return lambda r: bool(r.get(spec.name)) == flag
        if spec.kind == "enum":
            wanted = {self.text(v).split(":")[-1] for v in values}
            return lambda r: r.get(spec.name) in wanted
        if spec.kind == "string":
            wanted = self.text(values[0]).lower()
            test = {"IS": lambda s: s == wanted, "CONTAIN": lambda s: wanted in s,
                    "START_WITH": lambda s: s.startswith(wanted), "ENDWITH": lambda s: s.endswith(wanted)}[base]
            return lambda r: r.get(spec.name) is not None and test(str(r[spec.name]).lower())
        # Dates and date-times: each value is a span (a day or a minute).
        spans = [self.span(v) for v in values]
        if base == "WITHIN":
            if len(spans) != 2:
                raise search_error("WITHIN takes two dates.")
            low, high = spans[0][0], spans[1][1]
            return lambda r: r.get(spec.name) is not None and low <= as_moment(r[spec.name]) < high
        start, end = spans[0]
        test = {"ON": lambda m: start <= m < end, "AFTER": lambda m: m >= end, "ON_OR_AFTER": lambda m: m >= start,
                "BEFORE": lambda m: m < start, "ON_OR_BEFORE": lambda m: m < end}[base]
        return lambda r: r.get(spec.name) is not None and test(as_moment(r[spec.name]))

    @staticmethod
    def key(spec, record):
        return record.get(spec.name) if spec.name != "id" else record["id"]

    @staticmethod
    def text(value):
        return value[1]

    @staticmethod
    def number(spec, value):
        try:
            return float(value[1])
        except ValueError:
            raise search_error(f"\"{value[1]}\" is not a number (field {spec.name}).") from None

    @staticmethod
    def boolean(value):
        text = value[1].lower()
        if text in ("true", "t"):
            return True
        if text in ("false", "f"):
            return False
        raise search_error(f"\"{value[1]}\" is not a boolean (true or false).")

    def span(self, value):
        """A date value as [start, end): a day, or a minute when a time is given."""
        kind, text = value
        if kind != "str":
            raise search_error(f"Dates go in double quotes: {text}.")
        found = US_DATE.fullmatch(text.strip())
        try:
            if found:
                month, day, year, hour, minute, half = found.groups()
                if hour is None:
                    start = datetime(int(year), int(month), int(day), tzinfo=timezone.utc)
                    return start, start + timedelta(days=1)
                hour = int(hour)
                if half:
                    if not 1 <= hour <= 12:
                        raise ValueError(text)
                    hour = hour % 12 + (12 if half.lower() == "pm" else 0)
                start = datetime(int(year), int(month), int(day), hour, int(minute), tzinfo=timezone.utc)
                return start, start + timedelta(minutes=1)
            found = ISO_DATE.fullmatch(text.strip())
            if found and self.allow_iso:
                year, month, day, hour, minute, second = found.groups()
                if hour is None:
                    start = datetime(int(year), int(month), int(day), tzinfo=timezone.utc)
                    return start, start + timedelta(days=1)
                start = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second or 0),
                                 tzinfo=timezone.utc)
                return start, start + (timedelta(seconds=1) if second else timedelta(minutes=1))
        except ValueError:
            pass
        raise search_error(f"Unparseable date: \"{text}\".")


# ----------------------------------------------------------------------------------------------
# SuiteQL


@dataclass
class Table:
    name: str
    columns: dict  # name -> int number text bool date datetime
    rows: Callable  # data -> rows (dicts by column)
    display: dict = field(default_factory=dict)  # column -> (data, value) -> display text


def build_tables(custom):
    """The SuiteQL tables, over the same tenant data the record service serves."""
    kinds = {"string": "text", "boolean": "bool", "number": "number", "integer": "int", "date": "date",
             "datetime": "datetime"}
    body_custom = {c["id"]: kinds[c["type"]] for c in custom["transactionBody"]}
    column_custom = {c["id"]: kinds[c["type"]] for c in custom["transactionColumn"]}

    def named(store, key):
        return lambda data, value: (data[store][value].get(key) if value in data[store] else None)

    def full(store):
        return lambda data, value: full_name(store)(data, data[store][value]) if value in data[store] else None

    def transactions(data):
        for po in sorted(data["purchaseOrder"].values(), key=lambda p: p["id"]):
            row = {"id": po["id"], "tranid": po["tranId"], "trandate": po.get("tranDate"), "duedate": po.get("dueDate"),
                   "type": "PurchOrd", "status": po["status"], "entity": po.get("entity"), "currency": po.get("currency"),
                   "employee": po.get("employee"), "exchangerate": po.get("exchangeRate"), "foreigntotal": po["total"],
                   "memo": po.get("memo"), "approvalstatus": int(po["approvalStatus"]), "externalid": po.get("externalId"),
                   "createddate": po["createdDate"], "lastmodifieddate": po["lastModifiedDate"]}
            row.update({name: po.get(name) for name in body_custom})
            yield row

    def lines(data):
        for po in sorted(data["purchaseOrder"].values(), key=lambda p: p["id"]):
            yield {"transaction": po["id"], "id": 0, "linesequencenumber": 0, "mainline": True, "taxline": False,
                   "netamount": po["total"], "foreignamount": po["total"], "location": po.get("location"),
                   "subsidiary": po.get("subsidiary"), "isclosed": po["status"] == "H", "memo": po.get("memo")}
            for line in po["item"]:
                row = {"transaction": po["id"], "id": line["line"], "linesequencenumber": line["line"], "mainline": False,
                       "taxline": False, "item": line["item"], "quantity": line["quantity"],
                       "quantityshiprecv": line["quantityReceived"], "rate": line["rate"], "netamount": line["amount"],
                       "foreignamount": line["amount"], "location": line.get("location", po.get("location")),
                       "subsidiary": po.get("subsidiary"), "isclosed": line["isClosed"], "memo": line.get("description")}
                row.update({name: line.get(name) for name in column_custom})
                yield row

    def statuses(data):
        for letter, name in PO_STATUS.items():
            yield {"id": letter, "trantype": "PurchOrd", "name": name, "fullname": f"Purchase Order : {name}"}

    def by_id(store, make):
        return lambda data: (make(data, r) for r in sorted(data[store].values(), key=lambda r: r["id"]))

    status_text = lambda data, value: f"Purchase Order : {PO_STATUS.get(value, value)}"
    tables = [
        Table("transaction", {"id": "int", "tranid": "text", "trandate": "date", "duedate": "date", "type": "text",
                              "status": "text", "entity": "int", "currency": "int", "employee": "int",
                              "exchangerate": "number", "foreigntotal": "number", "memo": "text",
                              "approvalstatus": "int", "externalid": "text", "createddate": "datetime",
                              "lastmodifieddate": "datetime", **body_custom},
              transactions, {"status": status_text, "entity": named("vendor", "entityId"),
                             "currency": named("currency", "name"), "employee": named("employee", "entityId"),
                             "approvalstatus": lambda data, value: APPROVAL.get(str(value)),
                             "type": lambda data, value: "Purchase Order"}),
        Table("transactionline", {"transaction": "int", "id": "int", "linesequencenumber": "int", "mainline": "bool",
                                  "taxline": "bool", "item": "int", "quantity": "number", "quantityshiprecv": "number",
                                  "rate": "number", "netamount": "number", "foreignamount": "number", "location": "int",
                                  "subsidiary": "int", "isclosed": "bool", "memo": "text", **column_custom},
              lines, {"transaction": lambda data, value: (f"Purchase Order #{data['purchaseOrder'][value]['tranId']}"
                                                          if value in data["purchaseOrder"] else None),
                      "item": named("item", "itemId"), "location": full("location"), "subsidiary": full("subsidiary")}),
        Table("transactionstatus", {"id": "text", "trantype": "text", "name": "text", "fullname": "text"}, statuses),
        Table("vendor", {"id": "int", "entityid": "text", "companyname": "text", "email": "text", "phone": "text",
                         "isinactive": "bool", "currency": "int", "subsidiary": "int", "externalid": "text",
                         "datecreated": "datetime", "lastmodifieddate": "datetime"},
              by_id("vendor", lambda data, v: {
                  "id": v["id"], "entityid": v["entityId"], "companyname": v.get("companyName"), "email": v.get("email"),
                  "phone": v.get("phone"), "isinactive": v["isInactive"], "currency": v.get("currency"),
                  "subsidiary": v.get("subsidiary"), "externalid": v.get("externalId"), "datecreated": v["dateCreated"],
                  "lastmodifieddate": v["lastModifiedDate"]}),
              {"currency": named("currency", "name"), "subsidiary": full("subsidiary")}),
        Table("item", {"id": "int", "itemid": "text", "displayname": "text", "description": "text", "itemtype": "text",
                       "isinactive": "bool", "stockunit": "text", "externalid": "text", "createddate": "datetime",
                       "lastmodifieddate": "datetime"},
              by_id("item", lambda data, i: {
                  "id": i["id"], "itemid": i["itemId"], "displayname": i.get("displayName"),
                  "description": i.get("description"), "itemtype": i["itemType"], "isinactive": i["isInactive"],
                  "stockunit": i.get("stockUnit"), "externalid": i.get("externalId"), "createddate": i["createdDate"],
                  "lastmodifieddate": i["lastModifiedDate"]}),
              {"itemtype": lambda data, value: ITEM_TYPE_NAMES.get(value, value)}),
        Table("location", {"id": "int", "name": "text", "fullname": "text", "isinactive": "bool", "subsidiary": "int",
                           "parent": "int", "lastmodifieddate": "datetime"},
              by_id("location", lambda data, l: {
                  "id": l["id"], "name": l["name"], "fullname": full_name("location")(data, l),
                  "isinactive": l["isInactive"], "subsidiary": l.get("subsidiary"), "parent": l.get("parent"),
                  "lastmodifieddate": l["lastModifiedDate"]}),
              {"subsidiary": full("subsidiary"), "parent": full("location")}),
        Table("subsidiary", {"id": "int", "name": "text", "fullname": "text", "isinactive": "bool", "currency": "int",
                             "country": "text", "parent": "int", "lastmodifieddate": "datetime"},
              by_id("subsidiary", lambda data, s: {
                  "id": s["id"], "name": s["name"], "fullname": full_name("subsidiary")(data, s),
                  "isinactive": s["isInactive"], "currency": s.get("currency"), "country": s.get("country"),
                  "parent": s.get("parent"), "lastmodifieddate": s["lastModifiedDate"]}),
              {"currency": named("currency", "name"), "parent": full("subsidiary"),
               "country": lambda data, value: data["countries"].get(value, value)}),
        Table("currency", {"id": "int", "name": "text", "symbol": "text", "exchangerate": "number",
                           "isbasecurrency": "bool", "isinactive": "bool"},
              by_id("currency", lambda data, c: {
                  "id": c["id"], "name": c["name"], "symbol": c.get("symbol"), "exchangerate": c.get("exchangeRate"),
                  "isbasecurrency": c.get("isBaseCurrency", False), "isinactive": c["isInactive"]})),
        Table("employee", {"id": "int", "entityid": "text", "firstname": "text", "lastname": "text", "email": "text",
                           "subsidiary": "int", "isinactive": "bool", "lastmodifieddate": "datetime"},
              by_id("employee", lambda data, e: {
                  "id": e["id"], "entityid": e["entityId"], "firstname": e.get("firstName"),
                  "lastname": e.get("lastName"), "email": e.get("email"), "subsidiary": e.get("subsidiary"),
                  "isinactive": e["isInactive"], "lastmodifieddate": e["lastModifiedDate"]}),
              {"subsidiary": full("subsidiary")}),
        Table("inventoryitemlocations", {"item": "int", "location": "int", "quantityonhand": "number",
                                         "quantityavailable": "number", "quantityonorder": "number"},
              lambda data: ({"item": r["item"], "location": r["location"], "quantityonhand": r["quantityOnHand"],
                             "quantityavailable": r["quantityAvailable"], "quantityonorder": r["quantityOnOrder"]}
                            for r in sorted(data["inventoryItemLocations"], key=lambda r: (r["item"], r["location"]))),
              {"item": named("item", "itemId"), "location": full("location")}),
    ]
    return {t.name: t for t in tables}


def sql_text(kind, value):
    """A value as SuiteQL answers it: a string, booleans T/F, dates M/D/YYYY."""
    if kind == "bool":
        return "T" if value else "F"
    if kind in ("int", "number"):
        return number_text(value)
    if kind in ("date", "datetime"):
        return us_date(value)
    return str(value)


SQL_TOKEN = re.compile(r"\s*(?:(?P<num>\d+(?:\.\d+)?)|(?P<str>'(?:[^']|'')*')|(?P<id>[A-Za-z_][A-Za-z0-9_$#]*)"
                       r"|(?P<op><>|!=|>=|<=|[=<>(),.*\-]))")
SQL_KEYWORDS = {"select", "from", "where", "order", "by", "and", "or", "in", "as", "asc", "desc", "is", "not",
                "null", "like", "nulls", "first", "last"}


@dataclass
class ColRef:
    qualifier: str | None
    name: str


@dataclass
class SelectItem:
    kind: str  # col df to_char star
    col: ColRef | None = None
    fmt: str | None = None
    name: str | None = None


@dataclass
class Query:
    items: list
    table: str
    alias: str | None
    where: tuple | None
    order: list


class SqlParser:
    """A recursive-descent parser for the SuiteQL subset in the module docstring."""

    def __init__(self, text):
        self.tokens, position = [], 0
        while position < len(text):
            if not text[position:].strip():
                break
            found = SQL_TOKEN.match(text, position)
            if not found:
                raise search_error(f"Syntax error near \"{text[position:].strip()[:30]}\".")
            position = found.end()
            kind = found.lastgroup
            self.tokens.append((kind, found.group(kind)))
        self.i = 0

    def peek(self, ahead=0):
        index = self.i + ahead
        return self.tokens[index] if index < len(self.tokens) else (None, None)

    def take(self):
        if self.i >= len(self.tokens):
            raise search_error("Syntax error: the query ends too early.")
        self.i += 1
        return self.tokens[self.i - 1]

    def keyword(self, word):
        kind, text = self.peek()
        if kind == "id" and text.lower() == word:
            self.i += 1
            return True
        return False

    def expect_keyword(self, word):
        if not self.keyword(word):
            raise search_error(f"Syntax error: {word.upper()} expected near \"{self.peek()[1] or 'the end'}\".")

    def symbol(self, sym):
        if self.peek() == ("op", sym):
            self.i += 1
            return True
        return False

    def expect(self, sym):
        if not self.symbol(sym):
            raise search_error(f"Syntax error: '{sym}' expected near \"{self.peek()[1] or 'the end'}\".")

    def identifier(self):
        kind, text = self.take()
        if kind != "id" or text.lower() in SQL_KEYWORDS:
            raise search_error(f"Syntax error: an identifier expected, not \"{text}\".")
        return text

    def free_identifier(self):
        """The next token when it is an identifier that is no keyword (an alias), else None."""
        kind, text = self.peek()
        if kind == "id" and text.lower() not in SQL_KEYWORDS:
            self.i += 1
            return text
        return None

    def query(self):
        self.expect_keyword("select")
        items = [self.item()]
        while self.symbol(","):
            items.append(self.item())
        self.expect_keyword("from")
        table = self.identifier()
        alias = self.free_identifier()
        where = self.expression() if self.keyword("where") else None
        order = []
        if self.keyword("order"):
            self.expect_keyword("by")
            order.append(self.order_item())
            while self.symbol(","):
                order.append(self.order_item())
        if self.i < len(self.tokens):
            raise search_error(f"Syntax error near \"{self.peek()[1]}\".")
        return Query(items, table, alias, where, order)

    def item(self):
        if self.symbol("*"):
            return SelectItem("star")
        kind, text = self.peek()
        lower = (text or "").lower()
        if kind == "id" and lower == "builtin" and self.peek(1) == ("op", "."):
            self.i += 2
            function = self.identifier()
            if function.lower() != "df":
                raise search_error(f"Unknown function BUILTIN.{function}.")
            self.expect("(")
            item = SelectItem("df", self.colref())
            self.expect(")")
        elif kind == "id" and lower == "to_char" and self.peek(1) == ("op", "("):
            self.i += 2
            item = SelectItem("to_char", self.colref())
            if self.symbol(","):
                item.fmt = self.string()
            self.expect(")")
        elif kind == "id" and self.peek(1) == ("op", "("):
            raise search_error(f"Unsupported function {text}.")
        else:
            item = SelectItem("col", self.colref())
        if self.keyword("as"):
            item.name = self.identifier()
        else:
            item.name = self.free_identifier()
        return item

    def colref(self):
        first = self.identifier()
        if self.symbol("."):
            return ColRef(first, self.identifier())
        return ColRef(None, first)

    def string(self):
        kind, text = self.take()
        if kind != "str":
            raise search_error(f"Syntax error: a quoted string expected, not \"{text}\".")
        return text[1:-1].replace("''", "'")

    def order_item(self):
        col = self.colref()
        descending = False
        if self.keyword("desc"):
            descending = True
        else:
            self.keyword("asc")
        return col, descending

    def expression(self):
        terms = [self.term()]
        while self.keyword("or"):
            terms.append(self.term())
        return terms[0] if len(terms) == 1 else ("or", terms)

    def term(self):
        factors = [self.factor()]
        while self.keyword("and"):
            factors.append(self.factor())
        return factors[0] if len(factors) == 1 else ("and", factors)

    def factor(self):
        if self.symbol("("):
            inner = self.expression()
            self.expect(")")
            return inner
        return self.condition()

    def condition(self):
        col = self.colref()
        if self.keyword("is"):
            negate = self.keyword("not")
            self.expect_keyword("null")
            return ("null", col, negate)
        negate = self.keyword("not")
        if self.keyword("in"):
            self.expect("(")
            values = [self.value()]
            while self.symbol(","):
                values.append(self.value())
            self.expect(")")
            return ("in", col, values, negate)
        if self.keyword("like"):
            return ("like", col, self.string(), negate)
        if negate:
            raise search_error("Syntax error: IN or LIKE expected after NOT.")
        kind, operator = self.take()
        if kind != "op" or operator not in ("=", "<>", "!=", ">", ">=", "<", "<="):
            raise search_error(f"Syntax error: a comparison expected, not \"{operator}\".")
        return ("cmp", col, operator, self.value())

    def value(self):
        kind, text = self.peek()
        if self.symbol("-"):
            kind, text = self.take()
            if kind != "num":
                raise search_error("Syntax error: a number expected after '-'.")
            return ("num", -float(text))
        if kind == "num":
            self.i += 1
            return ("num", float(text))
        if kind == "str":
            return ("str", self.string())
        if kind == "id" and text.lower() == "null":
            self.i += 1
            return ("null", None)
        if kind == "id" and text.lower() in ("to_timestamp", "to_date") and self.peek(1) == ("op", "("):
            self.i += 2
            literal = self.string()
            self.expect(",")
            fmt = self.string()
            self.expect(")")
            try:
                moment = datetime.strptime(literal, strftime_format(fmt)).replace(tzinfo=timezone.utc)
            except ValueError:
                raise search_error(f"The value '{literal}' does not match the format '{fmt}'.") from None
            if text.lower() == "to_date":
                moment = moment.replace(hour=0, minute=0, second=0)
            return ("moment", moment)
        raise search_error(f"Syntax error: a value expected, not \"{text or 'the end'}\".")


def run_suiteql(text, data, tables):
    """The rows of a SuiteQL query, rendered, in order (all of them; the caller pages)."""
    query = SqlParser(text).query()
    table = tables.get(query.table.lower())
    if table is None:
        raise search_error(f"Unknown identifier '{query.table}'. Available identifiers are: {{}}.")
    alias = (query.alias or query.table).lower()
    available = f"{{{alias}={table.name}}}"

    def column(ref):
        if ref.qualifier is not None and ref.qualifier.lower() != alias:
            raise search_error(f"Unknown identifier '{ref.qualifier}'. Available identifiers are: {available}.")
        name = ref.name.lower()
        if name not in table.columns:
            raise search_error(f"Unknown identifier '{name}'. Available identifiers are: {available}.")
        return name

    # Select items: (output name, row -> rendered text or None, row -> comparable raw value)
    outputs, unnamed = [], 0
    for item in query.items:
        if item.kind == "star":
            for name, kind in table.columns.items():
                outputs.append((name, renderer_of(name, kind), lambda row, n=name: row.get(n)))
            continue
        name = column(item.col)
        kind = table.columns[name]
        if item.kind == "col":
            out = (item.name or name).lower()
            outputs.append((out, renderer_of(name, kind), lambda row, n=name: row.get(n)))
            continue
        if item.name is None:
            unnamed += 1
        out = (item.name or f"expr{unnamed}").lower()
        if item.kind == "df":
            show = table.display.get(name)
            render = (lambda row, n=name, s=show: None if row.get(n) is None else s(data, row[n])) if show else \
                renderer_of(name, kind)
        else:
            render = to_char(name, kind, item.fmt)
        outputs.append((out, render, render))

    test = compile_condition(query.where, column, table) if query.where else (lambda row: True)
    rows = [row for row in table.rows(data) if test(row)]
    if query.order:
        keys = []
        for ref, descending in query.order:
            output = next((o for o in outputs if ref.qualifier is None and o[0] == ref.name.lower()), None)
            if output is not None and ref.name.lower() not in table.columns:
                keys.append((output[2], descending, None))
            else:
                name = column(ref)
                keys.append((lambda row, n=name: row.get(n), descending, table.columns[name]))
        rows.sort(key=functools.cmp_to_key(lambda a, b: compare_rows(a, b, keys)))
    answer = []
    for row in rows:
        out = {"links": []}
        for name, render, _ in outputs:
            value = render(row)
            if value is not None:
                out[name] = value
        answer.append(out)
    return answer


def renderer_of(name, kind):
    return lambda row: None if row.get(name) is None else sql_text(kind, row[name])


def to_char(name, kind, fmt):
    if fmt is None:
        return renderer_of(name, kind)
    if kind not in ("date", "datetime"):
        raise search_error(f"TO_CHAR with a date format cannot format '{name}'.")
    pattern = strftime_format(fmt)
    return lambda row: None if row.get(name) is None else as_moment(row[name]).strftime(pattern)


def comparable(kind, value):
    if value is None:
        return None
    if kind in ("int", "number"):
        return float(value)
    if kind in ("date", "datetime"):
        return as_moment(value)
    if kind == "bool":
        return "T" if value else "F"
    return value


def compare_rows(a, b, keys):
    """ORDER BY: NULL sorts as the largest value (last ascending, first descending), as in Oracle."""
    for get, descending, kind in keys:
        x, y = get(a), get(b)
        if kind is not None:
            x, y = comparable(kind, x), comparable(kind, y)
        if x == y:
            continue
        if x is None:
            result = 1
        elif y is None:
            result = -1
        else:
            result = -1 if x < y else 1
        return -result if descending else result
    return 0


def operand(kind, value, name):
    """A literal as a column of `kind` compares it; None for NULL (never matches)."""
    tag, literal = value
    if tag == "null":
        return None
    if kind in ("int", "number"):
        if tag == "moment":
            raise search_error(f"'{name}' is a number; it cannot be compared with a date.")
        try:
            return float(literal)
        except ValueError:
            raise search_error(f"Invalid number '{literal}' for '{name}'.") from None
    if kind in ("date", "datetime"):
        if tag != "moment":
            raise search_error(f"'{name}' is a date; compare it with TO_DATE(...) or TO_TIMESTAMP(...).")
        return literal
    if tag == "moment":
        raise search_error(f"'{name}' is not a date.")
    return number_text(literal) if tag == "num" else literal


OPERATORS = {"=": lambda a, b: a == b, "<>": lambda a, b: a != b, "!=": lambda a, b: a != b,
             ">": lambda a, b: a > b, ">=": lambda a, b: a >= b, "<": lambda a, b: a < b, "<=": lambda a, b: a <= b}


def compile_condition(node, column, table):
    """A WHERE tree as a test of a row (NULL never matches a comparison)."""
    tag = node[0]
    if tag in ("and", "or"):
        tests = [compile_condition(n, column, table) for n in node[1]]
        return (lambda row: all(t(row) for t in tests)) if tag == "and" else (lambda row: any(t(row) for t in tests))
    name = column(node[1])
    kind = table.columns[name]
    if tag == "null":
        negate = node[2]
        return lambda row: (row.get(name) is None) != negate
    if tag == "like":
        pattern = re.compile("".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in node[2]), re.S)
        negate = node[3]
        return lambda row: row.get(name) is not None and bool(pattern.fullmatch(sql_text(kind, row[name]))) != negate
    if tag == "in":
        wanted = [operand(kind, v, name) for v in node[2]]
        wanted = [w for w in wanted if w is not None]
        negate = node[3]
        return lambda row: (row.get(name) is not None and
                            (comparable(kind, row[name]) in wanted) != negate)
    target, compare = operand(kind, node[3], name), OPERATORS[node[2]]
    if target is None:
        return lambda row: False
    return lambda row: row.get(name) is not None and compare(comparable(kind, row[name]), target)


# ----------------------------------------------------------------------------------------------
# Tenants and the server's state


class Tenant:
    """One client id's governance, clock and token count (its records, log and faults are in the
    control plane)."""

    def __init__(self, name, limit):
        self.name, self.limit = name, limit
        self.in_flight = self.max_in_flight = self.rejected = self.tokens_issued = 0
        self.latency_ms = 0
        self.offset = 0.0

    def now(self):
        return (datetime.now(timezone.utc) + timedelta(seconds=self.offset)).replace(microsecond=0)

    def timestamp(self):
        return time.time() + self.offset


class Stand:
    """All the server holds, behind one lock. `plane` (standin_control) holds each tenant's records
    (copied from the seed on first use), the request log, the login audit trail and the pending
    faults, and answers /_standin/."""

    def __init__(self, options, seed_data, types, tables, public_key):
        self.lock = threading.Lock()
        self.options, self.types, self.tables = options, types, tables
        self.types_lower = {name.lower(): t for name, t in types.items()}
        self.public_key = public_key
        self.tenants = Tenants(make=lambda name: Tenant(name, options.concurrency_limit))
        self.tokens = {}
        self.plane = ControlPlane(seed_data, health={"ok": True}, numbered=True, check_fault=shared_fault)
        self.audit = self.plane.log("audit")
        for method, path, handler in (("GET", "stats", Handler.stats), ("POST", "limits", Handler.limits),
                                      ("POST", "faults", Handler.add_fault), ("POST", "expire-tokens", Handler.expire),
                                      ("POST", "clock", Handler.clock), ("POST", "touch", Handler.touch)):
            self.plane.route(method, f"/_standin/{path}", handler)

    def tenant(self, name):
        """The tenant state of a client id."""
        return self.tenants.get(name)

    def data(self, tenant):
        """The tenant's records, copied from the seed on first use."""
        return self.plane.tenants.get(tenant.name)

    def moment(self, tenant, commit=True):
        """The lastModifiedDate of a write now: the tenant's now, strictly after every earlier one (lock
        held). A write takes it uncommitted and commits it once accepted, so a refused write moves nothing."""
        data = self.data(tenant)
        at = tenant.now()
        if at <= data["latest"]:
            at = data["latest"] + timedelta(seconds=1)
        if commit:
            data["latest"] = at
        return at


# ----------------------------------------------------------------------------------------------
# Writes


class Writer:
    """Turns a create or update body into stored values, with NetSuite's checks."""

    def __init__(self, stand, data, rtype, mode, notes):
        self.stand, self.data, self.rtype, self.mode, self.notes = stand, data, rtype, mode, notes

    def clean(self, body, specs, path, extra=()):
        """The body's known properties; unknown ones refused (mode error) or dropped."""
        if not isinstance(body, dict):
            raise bad("INVALID_CONTENT", f"Invalid content in the request body: {path or 'the body'} must be a JSON object.",
                      path=path or None)
        known = {s.name: s for s in specs}
        out = {}
        for name, value in body.items():
            where = f"{path}.{name}" if path else name
            if name in ("links", "refName"):
                continue
            if name not in known and name not in extra:
                if self.mode == "error":
                    raise bad("INVALID_CONTENT", f"Invalid field name: {name}.", path=where)
                self.notes.append(f"dropped unknown property {where} ({self.mode})")
                continue
            spec = known.get(name)
            if spec is not None and not spec.writable and name != "line":
                raise bad("INVALID_CONTENT", f"The field {name} is read-only and cannot be set.", path=where)
            out[name] = value
        return out

    def convert(self, spec, value, path, line=False):
        """A body value as stored; None clears."""
        if value is None:
            return None
        kind = spec.kind
        if kind == "string":
            if not isinstance(value, str):
                raise invalid_value(path, value)
            return value
        if kind in ("number", "integer"):
            if not is_number(value):
                raise invalid_value(path, value)
            if spec.name in ("quantity", "exchangeRate") and value <= 0 or spec.name == "rate" and value < 0:
                raise invalid_value(path, value)
            return float(value) if kind == "number" else int(value)
        if kind == "boolean":
            if not isinstance(value, bool):
                raise invalid_value(path, value)
            return value
        if kind == "date":
            parsed = parse_iso_date(value)
            if parsed is None:
                raise invalid_value(path, value)
            return parsed
        if kind == "enum":
            ident = value.get("id") if isinstance(value, dict) else value
            if spec.target == "approvalStatus" and str(ident) in APPROVAL:
                return str(ident)
            raise invalid_value(path, value)
        if kind == "ref":
            return self.reference(spec, value, path, line)
        raise invalid_value(path, value)

    def reference(self, spec, value, path, line):
        """A reference {"id"} or {"externalId"} to an active record, as its id."""
        store = self.data[spec.target]
        if not isinstance(value, dict):
            raise invalid_value(path, value)
        unknown = set(value) - {"id", "externalId", "refName", "links"}
        if unknown:
            name = sorted(unknown)[0]
            if self.mode == "error":
                raise bad("INVALID_CONTENT", f"Invalid field name: {name}.", path=f"{path}.{name}")
            self.notes.append(f"dropped unknown property {path}.{name} ({self.mode})")
        record = None
        if "id" in value:
            shown = value["id"]
            text = str(shown) if is_number(shown) or isinstance(shown, str) else ""
            record = store.get(int(text)) if text.isdigit() else None
        elif "externalId" in value:
            shown = value["externalId"]
            record = next((r for r in store.values() if r.get("externalId") == shown), None)
        else:
            raise invalid_value(path, value)
        if record is None or record.get("isInactive"):
            if line:
                raise invalid_value(path, shown, spec.name)
            raise bad("INVALID_CONTENT", f"Invalid {spec.name} reference key {shown}.", path=path)
        return record["id"]

    def header(self, body, target):
        """Apply converted body fields to `target` (a draft record)."""
        for name, value in body.items():
            spec = self.rtype.by_name[name]
            converted = self.convert(spec, value, name)
            if converted is None:
                target.pop(name, None)
            else:
                target[name] = converted

    def unique_external_id(self, record):
        external = record.get("externalId")
        if external is None:
            return
        if any(r.get("externalId") == external and r["id"] != record.get("id") for r in self.data[self.rtype.store].values()):
            raise bad("USER_ERROR", f"{ACCESS}A record with the external ID '{external}' already exists.",
                      path="externalId")

    def missing(self, record, fields, more=()):
        details = [error_detail(f"{ACCESS}Please enter value(s) for: {label}", "USER_ERROR", path=name)
                   for name, label in fields if record.get(name) in (None, "")] + list(more)
        if details:
            raise Refusal(400, *details)


NO_LINES = error_detail(f"{ACCESS}You must enter at least one line item for this transaction.", "USER_ERROR",
                        path="item")


def line_key(value):
    """A line number as a body gives it (2 or "2"), as text; None when it is not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)) and float(value).is_integer():
        return str(int(value))
    if isinstance(value, str) and value.strip().isdigit():
        return value.strip()
    return None


class PurchaseOrders(Writer):
    MANDATORY = (("entity", "Vendor"), ("subsidiary", "Subsidiary"))

    def sublist_body(self, body, name):
        """The lines of a sublist in a body: {"items": [...]}, cleaned."""
        value = body.get(name)
        if value is None:
            return None
        spec_lines = self.rtype.sublists[name]
        value = self.clean(value, [], name, extra=("items",))
        items = value.get("items", [])
        if not isinstance(items, list):
            raise bad("INVALID_CONTENT", f"Invalid content in the request body: {name}.items must be an array.",
                      path=f"{name}.items")
        if name == "expense" and items:
            raise bad("INVALID_CONTENT", "The stand-in does not take expense lines.", path="expense.items[0]")
        return [self.clean(entry, spec_lines, f"{name}.items[{n}]") for n, entry in enumerate(items)]

    def new_line(self, po, entry, number, path):
        """A line from a body entry: item and quantity given, the rest from the item and the PO."""
        details = [error_detail(f"{ACCESS}Please enter value(s) for: {label}", "USER_ERROR", path=f"{path}.{name}")
                   for name, label in (("item", "Item"), ("quantity", "Quantity")) if entry.get(name) is None]
        if details:
            raise Refusal(400, *details)
        line = {"line": number, "quantityReceived": 0.0, "quantityBilled": 0.0, "isClosed": False}
        self.apply_line(line, entry, path)
        item = self.data["item"][line["item"]]
        line.setdefault("rate", float(item.get("cost") or 0))
        if item.get("description"):
            line.setdefault("description", item["description"])
        if item.get("stockUnit"):
            line.setdefault("units", item["stockUnit"])
        if po.get("location") is not None:
            line.setdefault("location", po["location"])
        line.setdefault("expectedReceiptDate", po.get("dueDate") or po["tranDate"])
        return line

    def apply_line(self, line, entry, path):
        specs = {s.name: s for s in self.rtype.sublists["item"]}
        for name, value in entry.items():
            if name == "line":
                continue
            converted = self.convert(specs[name], value, f"{path}.{name}", line=True)
            if converted is None:
                if name in ("item", "quantity", "rate"):
                    raise bad("USER_ERROR", f"{ACCESS}Please enter value(s) for: {specs[name].title}", path=f"{path}.{name}")
                line.pop(name, None)
            else:
                line[name] = converted

    def create(self, body, at):
        body = self.clean(body, self.rtype.fields, "", extra=tuple(self.rtype.sublists))
        lines = self.sublist_body(body, "item") or []
        self.sublist_body(body, "expense")
        po = {"approvalStatus": "1", "exchangeRate": 1.0}
        for spec in self.rtype.fields:
            if spec.custom and spec.kind == "boolean":
                po[spec.name] = False
        self.header({k: v for k, v in body.items() if k not in self.rtype.sublists}, po)
        self.missing(po, self.MANDATORY, [] if lines else [NO_LINES])
        self.unique_external_id(po)
        po.setdefault("currency", self.data["subsidiary"][po["subsidiary"]].get("currency"))
        po.setdefault("tranDate", at.date())
        po["item"] = [self.new_line(po, entry, n + 1, f"item.items[{n}]") for n, entry in enumerate(lines)]
        po["expense"] = []
        po["id"] = self.data["next"]["purchaseOrder"]
        self.data["next"]["purchaseOrder"] += 1
        po["tranId"] = f"PO-{self.data['next']['tranNumber']:06d}"
        self.data["next"]["tranNumber"] += 1
        po["createdDate"] = po["lastModifiedDate"] = at
        settle(po, self.data)
        self.data["purchaseOrder"][po["id"]] = po
        return po

    def locked_change(self, po, body, replace):
        """Whether an update changes more than closing lines of an approved PO."""
        if replace or set(body) - {"item"}:
            return True
        if "item" not in body:
            return False  # an empty update: saved as it is
        existing = {str(line["line"]) for line in po["item"]}
        entries = body["item"].get("items", []) if isinstance(body["item"], dict) else [None]
        for entry in entries if isinstance(entries, list) else [None]:
            if not isinstance(entry, dict) or set(entry) - {"line", "isClosed", "links"}:
                return True
            if line_key(entry.get("line")) not in existing or entry.get("isClosed") is not True:
                return True
        return False

    def update(self, po, body, replace, at):
        body = self.clean(body, self.rtype.fields, "", extra=tuple(self.rtype.sublists))
        if po["approvalStatus"] == "2" and self.locked_change(po, body, replace):
            raise bad("USER_ERROR", LOCKED_DETAIL)
        lines = self.sublist_body(body, "item")
        self.sublist_body(body, "expense")
        draft = copy.deepcopy(po)
        self.header({k: v for k, v in body.items() if k not in self.rtype.sublists}, draft)
        self.missing(draft, self.MANDATORY)
        if lines is not None or "item" in replace:
            kept = [] if "item" in replace else draft["item"]
            by_number = {line["line"]: line for line in draft["item"]}
            next_number = max(by_number, default=0) + 1
            for n, entry in enumerate(lines or []):
                path = f"item.items[{n}]"
                number = line_key(entry.get("line"))
                if number is not None and int(number) in by_number:
                    line = by_number[int(number)]
                    self.apply_line(line, entry, path)
                    if all(other is not line for other in kept):
                        kept.append(line)
                else:
                    kept.append(self.new_line(draft, entry, next_number, path))
                    next_number += 1
            draft["item"] = sorted(kept, key=lambda line: line["line"])
        if not draft["item"]:
            raise Refusal(400, NO_LINES)
        self.unique_external_id(draft)
        draft["lastModifiedDate"] = at
        settle(draft, self.data)
        po.clear()
        po.update(draft)


class Vendors(Writer):
    MANDATORY = (("companyName", "Company Name"), ("subsidiary", "Primary Subsidiary"))

    def check(self, vendor):
        self.missing(vendor, self.MANDATORY)
        self.unique_external_id(vendor)
        if any(v.get("entityId") == vendor["entityId"] and v["id"] != vendor.get("id")
               for v in self.data["vendor"].values()):
            raise bad("USER_ERROR", f"{ACCESS}This entity already exists.", path="entityId")

    def create(self, body, at):
        body = self.clean(body, self.rtype.fields, "")
        vendor = {"isInactive": False}
        self.header(body, vendor)
        self.missing(vendor, self.MANDATORY)
        vendor.setdefault("entityId", vendor["companyName"])
        vendor.setdefault("currency", self.data["subsidiary"][vendor["subsidiary"]].get("currency"))
        self.check(vendor)
        vendor["id"] = self.data["next"]["vendor"]
        self.data["next"]["vendor"] += 1
        vendor["dateCreated"] = vendor["lastModifiedDate"] = at
        self.data["vendor"][vendor["id"]] = vendor
        return vendor

    def update(self, vendor, body, replace, at):
        if replace:
            raise bad("INVALID_PARAMETER", f"vendor has no sublist {sorted(replace)[0]}.", param="replace")
        body = self.clean(body, self.rtype.fields, "")
        draft = copy.deepcopy(vendor)
        self.header(body, draft)
        if draft.get("entityId") in (None, ""):
            draft["entityId"] = draft.get("companyName")
        self.check(draft)
        draft["lastModifiedDate"] = at
        vendor.clear()
        vendor.update(draft)


WRITERS = {"purchaseOrder": PurchaseOrders, "vendor": Vendors}


# ----------------------------------------------------------------------------------------------
# JSON Schema metadata (§2.7)


def json_schema(rtype):
    def prop(spec):
        if spec.kind == "ref":
            target = "inventoryItem" if spec.target == "item" else spec.target
            return {"$ref": f"{RECORD}{CATALOG}/{target}"}
        if spec.kind == "enum":
            values = {"poStatus": list(REST_PO_STATUS), "approvalStatus": list(APPROVAL),
                      "itemType": list(ITEM_TYPES)}.get(spec.target)
            ident = {"title": "Internal identifier", "type": "string"}
            if values:
                ident["enum"] = values
            return {"type": "object", "properties": {"id": ident, "refName": {"title": "Reference Name", "type": "string"}}}
        out = {"title": spec.title}
        out.update({"string": {"type": "string"}, "number": {"type": "number", "format": "double"},
                    "integer": {"type": "integer", "format": "int64"}, "boolean": {"type": "boolean"},
                    "date": {"type": "string", "format": "date"},
                    "datetime": {"type": "string", "format": "date-time"}}[spec.kind])
        out["nullable"] = True
        if spec.custom:
            out["x-ns-custom-field"] = True
        return out

    properties = {"id": {"title": "Internal ID", "type": "string", "nullable": True}}
    properties.update({spec.name: prop(spec) for spec in rtype.fields})
    for name, specs in rtype.sublists.items():
        line = {"type": "object", "properties": {spec.name: prop(spec) for spec in specs}}
        properties[name] = {"type": "object", "properties": {"items": {"type": "array", "items": line}}}
    return {"type": "object", "properties": properties, "x-ns-filterable": rtype.filterable(),
            "$schema": "https://json-schema.org/draft-06/hyper-schema#"}


# ----------------------------------------------------------------------------------------------
# HTTP


class Handler(RequestHandler):
    """Routes /services/rest/… to the stand-in's NetSuite and /_standin/… to its control endpoints."""

    json_type = CONTROL_JSON

    def answer(self):
        """Answer the request as a control endpoint, the token endpoint or the API."""
        self.stand = self.server.stand
        if self.route.startswith("/_standin/"):
            self.control()
        elif self.route == TOKEN_PATH:
            self.token()
        elif self.route.startswith(REST + "/"):
            self.api()
        else:
            self.reply(404, refuse(404, "INVALID_URL", f"The requested URL {self.route} was not found.").body(),
                       content_type=ERROR)

    def failed(self):
        """NetSuite's 500."""
        self.reply(500, refuse(500, "UNEXPECTED_ERROR", "An unexpected error occurred.").body(), content_type=ERROR)

    def json_body(self):
        try:
            return json.loads(self.body) if self.body else None
        except ValueError:
            return {"unparsed": self.body[:2000].decode("utf-8", "replace")}

    # The token endpoint.

    def token(self):
        seen = {}
        stand = self.stand
        try:
            payload = self.grant(seen)
            status, headers = 200, {"Cache-Control": "no-store"}
        except TokenRefusal as refusal:
            status, payload, headers = refusal.status, {"error": refusal.error}, {}
            if refusal.status == 401:
                headers["WWW-Authenticate"] = f'Basic realm="{stand.options.account_id}"'
            stand.audit.add(seen.get("tenant"), {
                "result": "Failure", "reason": refusal.reason, "detail": str(refusal), "error": refusal.error,
                "status": refusal.status, "clientId": seen.get("tenant"), "kid": (seen.get("header") or {}).get("kid")})
        stand.plane.requests.add(seen.get("tenant"), {
            "method": self.command, "path": self.route, "query": self.query, "form": seen.get("form"),
            "jwt": {"header": seen["header"], "claims": seen["claims"]} if "header" in seen else None,
            "headers": {h: self.headers[h] for h in HEADERS_LOGGED if h in self.headers},
            "status": status, **({"error": payload["error"]} if status != 200 else {})})
        self.reply(status, payload, headers, TOKEN_JSON)

    def grant(self, seen):
        """Check a client-credentials request (order in the module docstring); a token, or TokenRefusal."""
        stand, options = self.stand, self.stand.options
        if self.command != "POST":
            raise invalid_request("InvalidRequest", f"{self.command} on the token endpoint; it takes POST")
        content_type = (self.headers.get("content-type") or "").split(";")[0].strip().lower()
        if content_type != "application/x-www-form-urlencoded":
            raise invalid_request("InvalidRequest", f"Content-Type {content_type or 'missing'}, not application/x-www-form-urlencoded")
        try:
            pairs = parse_qsl(self.body.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(self.body))
        except (UnicodeDecodeError, ValueError):
            raise invalid_request("InvalidRequest", "the body is not form-urlencoded") from None
        names = [name for name, _ in pairs]
        form = dict(pairs)
        seen["form"] = {k: (v if k in ("grant_type", "client_assertion_type") else "(not logged)") for k, v in form.items()}
        if len(set(names)) != len(names):
            raise invalid_request("InvalidRequest", "a parameter is repeated")
        if self.headers.get("authorization") or "client_secret" in form:
            raise invalid_request("InvalidRequest", "more than one client authentication method")
        if form.get("grant_type") != "client_credentials":
            raise invalid_request("InvalidRequest", f"grant_type {form.get('grant_type')!r}, not client_credentials")
        if form.get("client_assertion_type") != JWT_BEARER:
            raise invalid_request("InvalidRequest", f"client_assertion_type {form.get('client_assertion_type')!r}")
        assertion = form.get("client_assertion")
        if not assertion:
            raise invalid_request("InvalidRequest", "client_assertion is missing")
        try:
            header = jwt.get_unverified_header(assertion)
            claims = jwt.decode(assertion, options={"verify_signature": False})
        except (jwt.PyJWTError, ValueError, TypeError) as error:
            raise invalid_request("MalformedToken", f"the client assertion is not a JWT: {error}") from None
        seen.update(header=header, claims=claims)
        if isinstance(claims.get("iss"), str):
            seen["tenant"] = claims["iss"]
        if header.get("typ") != "JWT":
            raise invalid_request("MalformedToken", f"typ {header.get('typ')!r}, not JWT")
        if not all(is_number(claims.get(name)) for name in ("iat", "exp")):
            raise invalid_request("MalformedToken", "iat and exp must be numbers (seconds since the epoch)")
        alg, kid = header.get("alg"), header.get("kid")
        if alg not in ALGORITHMS:
            raise invalid_client("UnsupportedAlgorithm", f"alg {alg!r} is not one of {', '.join(ALGORITHMS)}")
        if kid not in CERTIFICATES:
            raise invalid_client("UnknownCertificate", f"no certificate has the id {kid!r}")
        try:
            jwt.decode(assertion, key=stand.public_key, algorithms=[alg],
                       options={"verify_signature": True, "verify_exp": False, "verify_nbf": False, "verify_iat": False,
                                "verify_aud": False, "verify_iss": False, "verify_sub": False, "verify_jti": False,
                                "require": []})
        except (jwt.PyJWTError, ValueError, TypeError) as error:
            raise invalid_client("InvalidSignature", f"the signature does not verify with certificate {kid}: "
                                 f"{type(error).__name__}: {error}") from None
        iss = claims.get("iss")
        if not (isinstance(iss, str) and iss.startswith(CLIENT_PREFIX)):
            raise invalid_client("InvalidIntegration", f"iss {iss!r} is not an integration mapped to certificate {kid}")
        if CERTIFICATES[kid]:
            raise invalid_grant("CertificateRevoked", f"certificate {kid} is revoked")
        expected = f"http://{self.headers.get('host') or ''}{TOKEN_PATH}"
        audiences = claims.get("aud") if isinstance(claims.get("aud"), list) else [claims.get("aud")]
        if not any(isinstance(a, str) and same_url(a, expected) for a in audiences):
            raise invalid_client("InvalidAudience", f"aud {claims.get('aud')!r}, not {expected}")
        scope = claims.get("scope")
        scopes = (re.split(r"[\s,]+", scope) if isinstance(scope, str)
                  else [s for s in scope if isinstance(s, str)] if isinstance(scope, list) else [])
        if "rest_webservices" not in [s.strip() for s in scopes]:
            raise invalid_client("ScopeMismatched", f"scope {scope!r} does not hold rest_webservices")
        with stand.lock:
            tenant = stand.tenant(iss)
            now = tenant.timestamp()
        iat, exp = claims["iat"], claims["exp"]
        if iat > now + CLOCK_SKEW:
            raise invalid_grant("IssuedInFuture", f"iat is {iat - now:.0f} s ahead of the server's clock")
        if exp <= now:
            raise invalid_grant("AssertionExpired", f"exp passed {now - exp:.0f} s ago")
        if exp - iat >= MAX_ASSERTION_LIFETIME:
            raise invalid_grant("AssertionLifetimeTooLong", f"exp - iat is {exp - iat:.0f} s, not under {MAX_ASSERTION_LIFETIME}")
        token = secrets.token_urlsafe(32)
        with stand.lock:
            stand.tokens[token] = {"tenant": iss, "expires": now + options.token_lifetime, "revoked": False}
            tenant.tokens_issued += 1
        stand.audit.add(iss, {"result": "Success", "clientId": iss, "kid": kid})
        lifetime = options.token_lifetime
        return {"access_token": token, "expires_in": lifetime if options.expires_in_number else str(lifetime),
                "token_type": "bearer"}

    # The API: record service and SuiteQL.

    def authenticate(self):
        """The tenant of a valid bearer token; else Refusal 401 (self.known names the tenant if any)."""
        stand = self.stand
        scheme, _, token = (self.headers.get("authorization") or "").strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            stand.audit.add(None, {"result": "Failure", "reason": "MissingAccessToken",
                                   "detail": "no Authorization: Bearer header", "status": 401})
            raise login_refusal()
        with stand.lock:
            entry = stand.tokens.get(token)
            tenant = stand.tenant(entry["tenant"]) if entry else None
            expired = entry is not None and (entry["revoked"] or tenant.timestamp() >= entry["expires"])
        if entry is None:
            stand.audit.add(None, {"result": "Failure", "reason": "TokenRejected",
                                   "detail": "the bearer token was not issued by this server", "status": 401})
            raise login_refusal()
        self.known = tenant
        if expired:
            stand.audit.add(tenant.name, {"result": "Failure", "reason": "AccessTokenExpired",
                                          "detail": "the access token has expired", "status": 401,
                                          "clientId": tenant.name})
            raise login_refusal()
        return tenant

    def api(self):
        stand = self.stand
        self.known, notes = None, []
        arrival, slot, stall, fault = None, False, 0, None
        started = time.monotonic()
        tenant = None
        try:
            try:
                tenant = self.authenticate()
                with stand.lock:
                    arrival = tenant.in_flight
                    if arrival >= tenant.limit:
                        tenant.rejected += 1
                        raise refuse(429, "CONCURRENCY_LIMIT_EXCEEDED", CONCURRENCY_DETAIL)
                    tenant.in_flight += 1
                    tenant.max_in_flight = max(tenant.max_in_flight, tenant.in_flight)
                    slot = True
                    fault = stand.plane.faults.take(tenant.name, self.command, self.path)
                if fault is not None:
                    notes.append(f"fault {fault['fault']} injected")
                    if fault["fault"] == "stall":
                        stall = fault["seconds"]
                    else:
                        raise self.faulted(tenant, fault["fault"])
                status, payload, headers, content_type = self.serve(tenant, notes)
            except Refusal as refusal:
                status, payload, headers, content_type = refusal.status, refusal.body(), {}, ERROR
            except Exception:
                traceback.print_exc()
                refusal = refuse(500, "UNEXPECTED_ERROR", f"An unexpected error occurred. Error ID: {secrets.token_hex(8)}")
                status, payload, headers, content_type = 500, refusal.body(), {}, ERROR
            owner = tenant or self.known
            stand.plane.requests.add(owner.name if owner else None, {
                "method": self.command, "path": self.route, "query": self.query, "body": self.json_body(),
                "headers": {h: self.headers[h] for h in HEADERS_LOGGED if h in self.headers},
                "status": status, "inFlight": arrival, "notes": notes,
                **({"fault": fault["fault"]} if fault else {})})
            if slot:
                rest = tenant.latency_ms / 1000 - (time.monotonic() - started)
                if rest > 0:
                    time.sleep(rest)
                if stall:
                    time.sleep(stall)
        finally:
            if slot:
                with stand.lock:
                    tenant.in_flight -= 1
        self.reply(status, payload, headers, content_type)

    def faulted(self, tenant, kind):
        if kind == "429":
            with self.stand.lock:
                tenant.rejected += 1
            return refuse(429, "CONCURRENCY_LIMIT_EXCEEDED", CONCURRENCY_DETAIL)
        if kind == "401":
            return login_refusal()
        return refuse(500, "UNEXPECTED_ERROR", f"An unexpected error occurred. Error ID: {secrets.token_hex(8)}")

    def serve(self, tenant, notes):
        """(status, payload, headers, content type) of an authenticated API call."""
        if "X-NetSuite-Idempotency-Key" in self.headers:
            notes.append("X-NetSuite-Idempotency-Key ignored: the call is synchronous")
        if "respond-async" in (self.headers.get("prefer") or "").lower():
            notes.append("Prefer: respond-async is not served: answered synchronously")
        if self.route == SUITEQL:
            if self.command != "POST":
                raise refuse(405, "INVALID_METHOD", f"{self.command} is not allowed on the suiteql resource.")
            return self.suiteql(tenant, notes)
        if self.route.startswith(RECORD):
            return self.record_service(tenant, notes, self.route[len(RECORD):])
        raise refuse(404, "INVALID_URL", f"The requested URL {self.route} was not found.")

    def paging(self):
        """limit and offset of a collection or SuiteQL call (§6.8)."""
        def whole(name, default):
            text = self.query.get(name)
            if text is None:
                return default
            if not re.fullmatch(r"\d+", text.strip()):
                raise bad("INVALID_PARAMETER", f"Invalid value for the parameter {name}: {text!r}. It must be a whole "
                          "number.", param=name)
            return int(text)
        limit, offset = whole("limit", 1000), whole("offset", 0)
        if not 1 <= limit <= 1000:
            raise bad("INVALID_PARAMETER", f"Invalid value for the parameter limit: {limit}. It must be between 1 and 1000.",
                      param="limit")
        if offset % limit:
            raise bad("INVALID_PARAMETER", f"Invalid value for the parameter offset: {offset}. It must be a multiple of "
                      f"the limit ({limit}).", param="offset")
        ceiling = self.stand.options.max_results
        if offset >= ceiling:
            raise bad("INVALID_PARAMETER", f"Invalid value for the parameter offset: {offset}. At most {ceiling} results "
                      "can be read; narrow the query instead.", param="offset")
        return limit, offset

    def envelope(self, path, everything, limit, offset):
        """A page of `everything` in NetSuite's collection envelope."""
        ceiling = self.stand.options.max_results
        reachable = min(len(everything), ceiling)
        items = everything[offset:min(offset + limit, reachable)]
        has_more = offset + len(items) < reachable
        kept = [(k, v) for k, v in self.params if k not in ("limit", "offset")]

        def href(at):
            return f"{self.base}{path}?" + urlencode(kept + [("limit", limit), ("offset", at)])
        links = []
        if offset > 0:
            links += [{"rel": "first", "href": href(0)}, {"rel": "previous", "href": href(max(offset - limit, 0))}]
        if has_more:
            links.append({"rel": "next", "href": href(offset + limit)})
        if reachable > limit:
            links.append({"rel": "last", "href": href(((reachable - 1) // limit) * limit)})
        links.append({"rel": "self", "href": href(offset)})
        return {"links": links, "count": len(items), "hasMore": has_more, "items": items, "offset": offset,
                "totalResults": len(everything)}

    def suiteql(self, tenant, notes):
        if "transient" not in (self.headers.get("prefer") or "").lower():
            notes.append("Prefer: transient is missing")
        limit, offset = self.paging()
        try:
            body = json.loads(self.body) if self.body else None
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise bad("INVALID_CONTENT", "Invalid content in the request body. It must be a JSON object {\"q\": \"...\"}.")
        text = body.get("q")
        if not isinstance(text, str) or not text.strip():
            raise search_error("The query q is missing.")
        with self.stand.lock:
            rows = run_suiteql(text, self.stand.data(tenant), self.stand.tables)
        return 200, self.envelope(SUITEQL, rows, limit, offset), {}, COLLECTION

    def flag(self, name):
        text = self.query.get(name)
        if text is None:
            return False
        if text.lower() not in ("true", "false"):
            raise bad("INVALID_PARAMETER", f"Invalid value for the parameter {name}: {text!r}. Use true or false.", param=name)
        return text.lower() == "true"

    def record_service(self, tenant, notes, rest):
        parts = rest.split("/")
        if parts and parts[-1] == "":
            parts.pop()
        if not parts:
            raise refuse(404, "INVALID_URL", f"The requested URL {self.route} was not found.")
        stand = self.stand
        if parts[0] == CATALOG:
            return self.catalog(parts[1:])
        rtype = stand.types_lower.get(parts[0].lower())
        if rtype is None:
            raise bad("INVALID_RCRD_TYPE", f"Record type '{parts[0]}' does not exist.")
        method = self.command
        with stand.lock:
            data = stand.data(tenant)
            view = View(self.base, data, stand.types, self.flag("simpleEnumFormat"))
            if len(parts) == 1:
                if method == "GET":
                    return self.collection(rtype, data)
                if method == "POST":
                    return self.create(tenant, rtype, data, notes)
                raise refuse(405, "INVALID_METHOD", f"{method} is not allowed on a {rtype.name} collection.")
            record = rtype.find(data, parts[1])
            if len(parts) == 2:
                if method == "PUT":
                    raise refuse(405, "INVALID_METHOD", "The stand-in does not serve PUT (upsert).")
                if method not in ("GET", "PATCH", "DELETE"):
                    raise refuse(405, "INVALID_METHOD", f"{method} is not allowed on a {rtype.name} record.")
                if record is None:
                    raise not_found()
                if method == "GET":
                    chosen = self.chosen_fields(rtype)
                    return 200, view.record(rtype, record, self.flag("expandSubResources"), chosen), {}, SINGULAR
                if method == "PATCH":
                    return self.update(tenant, rtype, data, record, notes)
                return self.delete(rtype, data, record)
            if method != "GET" or parts[2] not in rtype.sublists or len(parts) > 4:
                raise refuse(404, "INVALID_URL", f"The requested URL {self.route} was not found.")
            if record is None:
                raise not_found()
            if len(parts) == 3:
                return 200, view.sublist(rtype, record, parts[2]), {}, COLLECTION
            line = next((l for l in record[parts[2]] if str(l["line"]) == parts[3]), None)
            if line is None:
                raise not_found()
            return 200, view.line(rtype, record, parts[2], line), {}, SINGULAR

    def chosen_fields(self, rtype):
        text = self.query.get("fields")
        if text is None:
            return None
        chosen = set()
        for name in (n.strip() for n in text.split(",") if n.strip()):
            spec = rtype.by_lower.get(name.lower())
            sub = next((s for s in rtype.sublists if s.lower() == name.lower()), None)
            if spec is None and sub is None and name.lower() != "id":
                raise bad("NONEXISTENT_FIELD", f"Field '{name}' does not exist on {rtype.name}.", param="fields")
            chosen.add(spec.name if spec else sub or "id")
        return chosen

    def collection(self, rtype, data):
        limit, offset = self.paging()
        text = self.query.get("q")
        test = RecordFilter(rtype, text, self.stand.options.allow_iso_dates).test if text and text.strip() else None
        records = sorted((r for r in rtype.records(data) if test is None or test(r)), key=lambda r: r["id"])
        view = View(self.base, data, self.stand.types)
        items = [{"links": view.links(view.href(rtype.name, r["id"])), "id": str(r["id"])} for r in records]
        return 200, self.envelope(RECORD + rtype.name, items, limit, offset), {}, COLLECTION

    def write_mode(self, notes):
        text = self.headers.get("X-NetSuite-PropertyNameValidation")
        if text is None:
            return "warning"
        if text.strip().lower() not in ("error", "warning", "ignore"):
            raise bad("INVALID_PARAMETER", f"Invalid value for the header X-NetSuite-PropertyNameValidation: {text!r}. "
                      "Use Error, Warning or Ignore.", header="X-NetSuite-PropertyNameValidation")
        return text.strip().lower()

    def write_body(self):
        try:
            body = json.loads(self.body) if self.body else None
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise bad("INVALID_CONTENT", "Invalid content in the request body. It must be a JSON object.")
        return body

    def create(self, tenant, rtype, data, notes):
        if not rtype.writable:
            raise refuse(405, "INVALID_METHOD", f"The stand-in does not create {rtype.name} records.")
        writer = WRITERS[rtype.name](self.stand, data, rtype, self.write_mode(notes), notes)
        at = self.stand.moment(tenant, commit=False)
        record = writer.create(self.write_body(), at)
        data["latest"] = at
        return 204, None, {"Location": f"{self.base}{RECORD}{rtype.name}/{record['id']}"}, None

    def update(self, tenant, rtype, data, record, notes):
        if not rtype.writable:
            raise refuse(405, "INVALID_METHOD", f"The stand-in does not update {rtype.name} records.")
        replace = {name.strip() for name in self.query.get("replace", "").split(",") if name.strip()}
        unknown = replace - set(rtype.sublists)
        if unknown:
            raise bad("INVALID_PARAMETER", f"Invalid value for the parameter replace: {sorted(unknown)[0]} is not a "
                      f"sublist of {rtype.name}.", param="replace")
        writer = WRITERS[rtype.name](self.stand, data, rtype, self.write_mode(notes), notes)
        at = self.stand.moment(tenant, commit=False)
        writer.update(record, self.write_body(), replace, at)
        data["latest"] = at
        return 204, None, {}, None

    def delete(self, rtype, data, record):
        if referrers(data, rtype.store, record["id"]):
            raise bad("USER_ERROR", "This record cannot be deleted because it has dependent records.")
        del data[rtype.store][record["id"]]
        return 204, None, {}, None

    def catalog(self, parts):
        types = self.stand.types
        if not parts:
            items = [{"name": name, "links": [
                {"rel": "canonical", "href": f"{self.base}{RECORD}{CATALOG}/{name}", "mediaType": "application/json"},
                {"rel": "alternate", "href": f"{self.base}{RECORD}{CATALOG}/{name}", "mediaType": "application/swagger+json"},
                {"rel": "alternate", "href": f"{self.base}{RECORD}{CATALOG}/{name}", "mediaType": "application/schema+json"}]}
                for name in types]
            return 200, {"items": items, "links": [{"rel": "self", "href": f"{self.base}{RECORD}{CATALOG}"}]}, {}, CONTROL_JSON
        rtype = self.stand.types_lower.get(parts[0].lower())
        if rtype is None or len(parts) > 1:
            raise bad("INVALID_RCRD_TYPE", f"Record type '{parts[0]}' does not exist.")
        if "swagger" in (self.headers.get("accept") or ""):
            raise refuse(406, "INVALID_PARAMETER", "The stand-in serves metadata as JSON Schema (application/schema+json) only.",
                         header="Accept")
        return 200, json_schema(rtype), {}, "application/schema+json"

    # Control endpoints.

    def control_body(self):
        """The body as a JSON object that names a tenant, else ControlError 400."""
        body = super().control_body()
        if not isinstance(body.get("tenant"), str) or not body["tenant"]:
            raise ControlError(400, "tenant must be a non-empty string (a client id).")
        return body

    def control_answer(self):
        """(status, payload) of a control endpoint, as the control plane routes it."""
        return self.stand.plane.answer(self)

    def stats(self):
        name = self.query.get("tenant")
        if not name:
            raise ControlError(400, "stats takes ?tenant=<client id>.")
        with self.stand.lock:
            tenant = self.stand.tenant(name)
            return 200, {"maxInFlight": tenant.max_in_flight, "rejectedConcurrency": tenant.rejected,
                         "tokensIssued": tenant.tokens_issued, "limit": tenant.limit}

    def limits(self):
        body = self.control_body()
        concurrency, latency = body.get("concurrency"), body.get("latencyMs")
        if concurrency is not None and (type(concurrency) is not int or concurrency < 1):
            raise ControlError(400, "concurrency must be a whole number of at least 1.")
        if latency is not None and (not is_number(latency) or latency < 0):
            raise ControlError(400, "latencyMs must be a number of at least 0.")
        with self.stand.lock:
            tenant = self.stand.tenant(body["tenant"])
            if concurrency is not None:
                tenant.limit = concurrency
            if latency is not None:
                tenant.latency_ms = latency
            return 200, {"tenant": tenant.name, "limit": tenant.limit, "latencyMs": tenant.latency_ms}

    def add_fault(self):
        """POST /_standin/faults: NetSuite's own {"tenant", "fault", "count"?, "method"?, "path"?, "seconds"?},
        or the common {"tenant", "match"?, "method"?, "responses": [...]} (see shared_fault)."""
        body = self.control_body()
        if "responses" in body:
            return self.stand.plane.add_faults(body)
        kind = str(body.get("fault"))
        count, seconds = body.get("count", 1), body.get("seconds", 20)
        method, path = body.get("method"), body.get("path")
        if kind not in ("429", "401", "500", "stall"):
            raise ControlError(400, 'fault must be "429", "401", "500" or "stall".')
        if type(count) is not int or count < 1:
            raise ControlError(400, "count must be a whole number of at least 1.")
        if not is_number(seconds) or seconds < 0:
            raise ControlError(400, "seconds must be a number of at least 0.")
        if any(v is not None and not isinstance(v, str) for v in (method, path)):
            raise ControlError(400, "method and path must be strings.")
        if path is not None and path.lower().startswith(REST):
            path = path[len(REST):]
        rule = {"fault": kind, "count": count, "method": method.upper() if method else None, "path": path,
                "seconds": seconds}
        responses = [{"fault": kind, "seconds": seconds}] * count
        self.stand.plane.faults.add(body["tenant"], responses, method=rule["method"],
                                    prefix=None if path is None else REST + path)
        return 200, {"tenant": body["tenant"], "queued": rule}

    def expire(self):
        body = self.control_body()
        with self.stand.lock:
            held = [t for t in self.stand.tokens.values() if t["tenant"] == body["tenant"] and not t["revoked"]]
            for token in held:
                token["revoked"] = True
        return 200, {"tenant": body["tenant"], "expired": len(held)}

    def clock(self):
        body = self.control_body()
        if not is_number(body.get("offsetSeconds")):
            raise ControlError(400, "offsetSeconds must be a number.")
        with self.stand.lock:
            tenant = self.stand.tenant(body["tenant"])
            tenant.offset = float(body["offsetSeconds"])
            return 200, {"tenant": tenant.name, "offsetSeconds": tenant.offset, "now": iso_z(tenant.now())}

    def touch(self):
        """Change a record as a NetSuite user would; lastModifiedDate = now."""
        stand, body = self.stand, self.control_body()
        type_name, ident, changes = str(body.get("type") or ""), str(body.get("id") or ""), body.get("fields")
        rtype = stand.types_lower.get(type_name.lower())
        if type_name.lower() == "item":
            rtype = stand.types["inventoryItem"]
        if rtype is None or not ident.isdigit() or not isinstance(changes, dict) or not changes:
            raise ControlError(400, 'touch takes {"tenant", "type": purchaseOrder | vendor | item | location | subsidiary | '
                               'currency | employee, "id", "fields": {name: value}}.')
        with stand.lock:
            tenant = stand.tenant(body["tenant"])
            data = stand.data(tenant)
            record = data[rtype.store].get(int(ident))
            if record is None:
                raise ControlError(404, f"{rtype.name} {ident} does not exist for tenant {tenant.name}.")
            draft = copy.deepcopy(record)
            for name, value in changes.items():
                spec = rtype.by_lower.get(name.lower())
                if spec is None or spec.derive or spec.name in ("createdDate", "lastModifiedDate", "dateCreated", "tranId",
                                                                 "subtotal", "total", "itemType"):
                    raise ControlError(400, f"A user cannot set {name} on {rtype.name} here.")
                try:
                    stored = touched_value(spec, value, data)
                except ValueError as error:
                    raise ControlError(400, f"{name}: {error}") from None
                if stored is None:
                    draft.pop(spec.name, None)
                else:
                    draft[spec.name] = stored
            if rtype.store == "purchaseOrder":
                given = {k.lower() for k in changes}
                status = draft["status"]
                settle(draft, data)
                if "status" in given:
                    draft["status"] = status
                if "supervisorapproval" in given:
                    draft["supervisorApproval"] = bool(changes[next(k for k in changes if k.lower() == "supervisorapproval")])
            draft["lastModifiedDate"] = stand.moment(tenant)
            record.clear()
            record.update(draft)
            view = View(self.base, data, stand.types)
            real = stand.types[record_type_of(rtype.store, record)] if rtype.store == "item" else rtype
            return 200, view.record(real, record, expand=True)


def shared_fault(response):
    """A response of the common fault format (standin_control) as a NetSuite fault: {"status": 429 | 401 |
    500} as the fault of that name, {"stallSeconds": s} as "stall" for s seconds."""
    status, stall = response.get("status"), response.get("stallSeconds")
    if set(response) == {"status"} and str(status) in ("429", "401", "500"):
        return {"fault": str(status), "seconds": 0}
    if set(response) == {"stallSeconds"} and is_number(stall) and stall >= 0:
        return {"fault": "stall", "seconds": stall}
    raise ControlError(400, 'a NetSuite fault response is {"status": 429 | 401 | 500} or {"stallSeconds": seconds}.')


def touched_value(spec, value, data):
    """A value a user sets through /_standin/touch, as stored."""
    if value is None:
        return None
    if spec.kind == "ref":
        ident = value.get("id") if isinstance(value, dict) else value
        if not str(ident).isdigit() or int(ident) not in data[spec.target]:
            raise ValueError(f"no {spec.target} {ident}")
        return int(ident)
    if spec.kind == "enum":
        ident = str(value.get("id") if isinstance(value, dict) else value)
        names = {"poStatus": PO_STATUS, "approvalStatus": APPROVAL, "itemType": ITEM_TYPES,
                 "country": data["countries"]}[spec.target]
        if ident not in names:
            raise ValueError(f"{ident!r} is not one of {', '.join(names)}")
        return ident
    if spec.kind == "date":
        parsed = parse_iso_date(value)
        if parsed is None:
            raise ValueError("dates are YYYY-MM-DD")
        return parsed
    if spec.kind in ("number", "integer"):
        if not is_number(value):
            raise ValueError("a number is expected")
        return float(value) if spec.kind == "number" else int(value)
    if spec.kind == "boolean":
        if not isinstance(value, bool):
            raise ValueError("true or false is expected")
        return value
    if not isinstance(value, str):
        raise ValueError("a string is expected")
    return value


def same_url(given, expected):
    """Whether an aud is the token URL: scheme and host compared case-insensitively, the path exactly."""
    a, b = urlsplit(given), urlsplit(expected)
    return (a.scheme.lower(), a.netloc.lower(), a.path, a.query, a.fragment) == (b.scheme.lower(), b.netloc.lower(),
                                                                                  b.path, "", "")


def main():
    parser = argparse.ArgumentParser(description="A local stand-in for Oracle NetSuite's REST web services.")
    parser.add_argument("--port", type=int, required=True, help="0 picks a free port")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--account-id", default="TSTDRV1234567", help="the account id (WWW-Authenticate realm)")
    parser.add_argument("--concurrency-limit", type=int, default=5, help="concurrent API calls per tenant")
    parser.add_argument("--token-lifetime", type=int, default=3600, help="seconds an access token lives")
    parser.add_argument("--expires-in-number", action="store_true", help="send expires_in as a number, not a string")
    parser.add_argument("--allow-iso-dates", action="store_true", help='accept "YYYY-MM-DD" dates in the record q filter')
    parser.add_argument("--max-results", type=int, default=100_000, help="results reachable by paging (NetSuite: 100000)")
    options = parser.parse_args()
    if options.concurrency_limit < 1 or options.token_lifetime < 1 or options.max_results < 1:
        parser.error("--concurrency-limit, --token-lifetime and --max-results must be at least 1")
    try:
        seed = json.loads(SEED_FILE.read_text("utf-8"))
        data = build_seed(seed, utcnow())
        types, tables = build_record_types(seed["customFields"]), build_tables(seed["customFields"])
        public_key = x509.load_pem_x509_certificate(CERTIFICATE_FILE.read_bytes()).public_key()
    except (OSError, ValueError, KeyError, TypeError) as error:
        parser.error(f"the seed data ({SEED_FILE.name}) or the certificate ({CERTIFICATE_FILE.name}) does not hold: {error}")
    server = ThreadingHTTPServer((options.host, options.port), Handler)
    server.stand = Stand(options, data, types, tables, public_key)
    serve(server, f"netsuite stand-in on http://{options.host}:{server.server_address[1]}")


if __name__ == "__main__":
    main()
