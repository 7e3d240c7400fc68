"""A local stand-in for FM:Systems' FMS:Workplace (formerly FM:Interact) "FMInteract Web Service".

The FM:Systems connector's tests and local dev talk to this server instead of a hosted tenant
(<company>.fmshosted.com). It serves what the vendor-spec dossier (shared/specs/fm-systems/README.md,
"the dossier" below) establishes or assumes: a WCF service on IIS speaking SOAP 1.1 with one
operation, GetData, whose request body carries the web-service user name and password, an object
name, an object type (a view or a stored procedure the web-service user is permissioned for) and
optional parameters, and whose answer is the object's tabular rows as a string.

    POST /FMIWebService/FMInteractWebService.svc            (production path; the path is matched
    POST /TST_FMIWebservices/FMInteractWebService.svc       case-insensitively, as IIS does, and both
                                                            paths serve the same tenants)
    Content-Type: text/xml; charset=utf-8
    SOAPAction: "http://tempuri.org/IFMInteractWebService/GetData"

    <s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>
      <GetData xmlns="http://tempuri.org/">
        <userName>…</userName><password>…</password>
        <objectName>vw_WS_Spaces</objectName><objectType>View</objectType>
        <parameters>@BuildingCode=HQ1;@FloorCode=03</parameters>
      </GetData></s:Body></s:Envelope>

answers 200 `text/xml; charset=utf-8` with
`<s:Envelope xmlns:s="…"><s:Body><GetDataResponse xmlns="http://tempuri.org/"><GetDataResult>…`
whose text is the row set: by default an escaped DataSet.GetXml() document (`<NewDataSet>`, one
`<Table>` per row, one element per column, a NULL column left out, indented by two spaces;
`<NewDataSet />` when there are no rows), or, in json mode, a JSON array of row objects (NULL as null,
compact, non-ASCII as is). Values: integers and decimals in invariant culture (a decimal with no
fraction as an integer in XML, e.g. 240; as a JSON number, e.g. 240.0), booleans true/false, dates
yyyy-MM-ddTHH:mm:ss. Rows come in the order of the object's key column. GET …svc?wsdl (or ?singleWsdl)
serves the dossier's assumed WSDL (examples/FMInteractWebService.assumed.wsdl, rebuilt here) with
soap:address set to the URL asked; GET …svc alone serves WCF's HTML service page.

The objects are the dossier's assumed catalogue (examples/standin-object-catalog.assumed.json; every
name invented), seeded from fm_systems_seed.json beside this file, which keeps the catalogue's objects,
columns, users and rows and adds its own: views vw_WS_Sites, vw_WS_Buildings, vw_WS_Floors,
vw_WS_Spaces (rooms, with Area, AreaUnit, Capacity, SpaceUse, Department), vw_WS_Assets,
vw_WS_WorkRequests and vw_WS_WorkOrders, each with a ModifiedDate column; stored procedures
sp_WS_GetSpacesByBuilding(@BuildingCode, @FloorCode?) and sp_WS_GetWorkOrdersModifiedSince(@Since),
the latter the one modified-date filter (ModifiedDate >= @Since) the dossier has.

Tenants and authentication: the credentials come from the SOAP body only (an HTTP Authorization
header is ignored); the user name is the tenant, and each tenant gets its own deep copy of the seed on
first use. The seed's web-service users have their own passwords and object grants: svc_integration /
example-password (every object; the dossier's example requests use it), svc_space_only /
example-password-2 (the four space views), svc_escape / `Mw<Demo&Pass]]>1` (every object; a password
with XML's special characters). Any other user name is a tenant with the password Millwright-Demo-1
and every object granted. A wrong or missing password is the dossier's s:Client fault "Invalid web
service credentials."; an object that does not exist, is not granted to the user or is not of the type
asked is "Object '<name as asked>' was not found or is not available to this web service user."
(both HTTP 500). The password is never logged or echoed.

Decisions where the dossier marks something assumed or open (its §10); the connector must keep
namespace, SOAPAction, element names and the result mode configurable, since a real tenant's ?wsdl
decides them:
  * Binding: SOAP 1.1 (basicHttpBinding), WCF's defaults: namespace http://tempuri.org/, contract
    IFMInteractWebService, the action above. Other media types (SOAP 1.2's application/soap+xml
    included) and charsets other than utf-8 get 415 with no body; no lenient SOAP 1.2 mode. No XML
    declaration in answers (WCF's text encoder writes none); the namespace prefixes and declarations
    are WCF's, as in the dossier's examples.
  * Dispatch: SOAPAction, quoted or not; when absent or empty, the local name of the first element
    in Body (the dossier's fallback). Any other action, or a body that names no GetData, is WCF's
    a:ActionNotSupported fault (the whole WCF text). A Body whose first element is not GetData under
    the GetData action is a:DeserializationFailed, as is a GetData field given twice or holding
    elements. A Header entry with mustUnderstand="1" (e.g. WS-Security) is s:MustUnderstand, as WCF
    answers when it has no binding for it. A body that is not well-formed XML, holds a DTD or an
    entity declaration (refused: never expanded, never fetched), or is not a SOAP 1.1 Envelope with a
    Body, is HTTP 400 with no body (WCF's answer to a message it cannot read).
  * Lenient reading, as the dossier's §8.5 asks: GetData and its fields match by local name,
    case-insensitively, in any order and in any namespace; xsi:nil="true" is a missing field. What a
    real WCF service (DataContract, ordered, namespace-qualified) would not read the same is recorded
    at /_standin/violations: a missing SOAPAction, a wrapper or field outside http://tempuri.org/, a
    field name of another case, fields out of the WSDL's order, an unknown field, and every 400/415.
    A connector that sends what the WSDL says leaves no violation.
  * Field values are taken as sent (no trimming of userName or password); objectName, objectType and
    parameters are trimmed. A missing userName or password is invalid credentials; object names, and
    column and parameter names, match case-insensitively (SQL Server's default collation).
  * Order of checks: credentials, then objectType (View/V, StoredProcedure/Stored Procedure/Procedure/
    SP, case-insensitive; else "Unsupported object type '<value>'."), then the object (an object of the
    other type is "not found"), then parameters.
  * parameters: absent or empty, `@Name=Value;@Name2=Value2` (leading @ optional, empty segments
    skipped, values percent-decoded with '+' kept as '+'), or a JSON object of strings, numbers,
    booleans and nulls. What cannot be read is "Invalid parameters: <why>." (s:Client). For a view each
    parameter is an equality filter on the column of its name (strings case-insensitively, numbers,
    booleans and dates by value; JSON null is IS NULL); an unknown column is the dossier's "Unknown
    parameter '<name>' for '<object>'." For a procedure the parameters are its arguments (an optional one
    given empty or null is left out): unknown ones are that same fault, a missing required one is "Parameter '<@name>' is required for '<object>'.",
    and a value of the wrong type (a date that does not parse, say) is "Invalid value '<value>' for
    parameter '<name>' of '<object>'." (the last two are the stand-in's additions to the dossier's
    faults, same s:Client shape). @Since takes yyyy-MM-dd[THH:mm[:ss[.fff]]]; one with an offset is
    converted to UTC, the time zone the stand-in gives the tenant's ModifiedDate values.
  * Faults: SOAP 1.1, HTTP 500, `<s:Fault><faultcode>…</faultcode><faultstring xml:lang="en-US">…`,
    no detail; WCF's own codes (a:ActionNotSupported, a:DeserializationFailed, a:InternalServiceFault)
    declare their prefix on faultcode as WCF does. A bug of the stand-in answers a:InternalServiceFault.
  * Read-only: no operation but GetData, no paging (the whole row set). A user's changes come through
    /_standin/touch only.

Control endpoints (no auth, JSON). The common ones are standin_control.py's: GET /_standin/health;
GET and DELETE /_standin/requests[?tenant=T] (each GetData call: soapAction, objectName, objectType,
parameters, status, faultcode, returned rows, injected fault; never the password) and
/_standin/violations[?tenant=T]; POST /_standin/faults {"tenant", "match"?, "method"?, "responses":
[...]} and DELETE /_standin/faults[?tenant=T]. A fault applies to the tenant's next GetData calls (the
user name read from the body, whatever the password); `match` is looked for in
"<path>?objectName=<objectName>", so it can pick an object. Its responses, one per call, in order:
    {"kind": "soapFault", "faultcode"?: "InternalServiceFault" (default) | "Client" | "Server" |
        "DeserializationFailed" | "ActionNotSupported", "faultstring"?, "status"?: 500}
    {"kind": "malformed", "status"?: 200}     a text/xml envelope cut off inside GetDataResult
    {"kind": "html", "status"?: 503}          an IIS/HTTP.SYS-style HTML error page (text/html)
    {"kind": "plainText", "text"?}            200, GetDataResult holding an error message as plain text
    {"status": 400-599, "retryAfter"?}        the HTML error page of that status (Retry-After when given)
    {"delaySeconds"} / {"stallSeconds"}       wait before the answer / answer late after the work
("retryAfter" and "delaySeconds" combine with any of them). And this stand-in's:
    POST /_standin/touch {"tenant", "object": a view, "key" (or "id")?: the key value, "fields": {column:
        value}, "delete"?: true, "afterNextRead"?: true}
        changes the row as an FM:Systems user would: ModifiedDate becomes now (UTC, to the second),
        strictly later than the row's and the tenant's last one; without a key, adds a row (key = the
        largest + 1; 201); with "delete", removes it. Answers {"object", "key", "row"} ({"deleted":
        true} for a delete). With "afterNextRead" the change waits until just after the tenant's next
        GetData read of that view (directly or through a procedure); answers {"deferred": …}.
        The views are stored apart: a touch changes that view's row only (a floor's new code does not
        reach the spaces' FloorCode), and ModifiedDate, the key and unknown columns cannot be set.
    POST /_standin/grants {"tenant", "revoke"?: [object, ...], "grant"?: [object | "*", ...]}
    GET  /_standin/grants?tenant=T
        the objects granted to the tenant's web-service user: {"tenant", "granted": [...]}.
    POST /_standin/settings {"tenant", "password"?, "resultFormat"?: "xml" | "json"}
        the tenant's password (as its FMS administrator would change it) and result mode.

    python3 infra/local/standins/fm_systems.py --port 8096 [--host 127.0.0.1] [--result-format xml|json] [--recent]

With --recent (as scripts/dev starts it) each tenant's dates move forward by whole days so that its
newest change was yesterday, keeping the sample inside a sync's default 365-day window; without it
the dates are the seed's (the dossier's examples).

prints `fm-systems stand-in on http://127.0.0.1:8096` once it listens (--port 0 picks a free port).
Nothing outside this folder is read: the stand-in starts on a bare checkout.
"""

import argparse
import copy
import hmac
import html
import json
import re
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from http import HTTPStatus
from http.server import ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote, unquote
from xml.etree import ElementTree as ET
from xml.parsers import expat

import standin_control
from standin_control import ControlError, ControlPlane, faulted
from standin_http import RequestHandler, serve

SEED_FILE = Path(__file__).with_name("fm_systems_seed.json")
DEMO_PASSWORD = "Millwright-Demo-1"
SERVICE_PATHS = ("/FMIWebService/FMInteractWebService.svc", "/TST_FMIWebservices/FMInteractWebService.svc")

SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
TEMPURI = "http://tempuri.org/"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
ADDRESSING_NONE = "http://schemas.microsoft.com/ws/2005/05/addressing/none"
DISPATCHER = "http://schemas.microsoft.com/net/2005/12/windowscommunicationfoundation/dispatcher"
CONTRACT = "IFMInteractWebService"
GET_DATA_ACTION = f"{TEMPURI}{CONTRACT}/GetData"
XML_TYPE = "text/xml; charset=utf-8"

# GetData's fields in the WSDL's order, by their lower-case names.
FIELDS = {"username": "userName", "password": "password", "objectname": "objectName",
          "objecttype": "objectType", "parameters": "parameters"}
OBJECT_TYPES = {"view": "View", "v": "View", "storedprocedure": "StoredProcedure",
                "stored procedure": "StoredProcedure", "procedure": "StoredProcedure", "sp": "StoredProcedure"}
COLUMN_TYPES = ("int", "decimal", "bool", "datetime", "string")
OPERATORS = {"=": lambda a, b: a == b, ">=": lambda a, b: a >= b, "<=": lambda a, b: a <= b,
             ">": lambda a, b: a > b, "<": lambda a, b: a < b}
MODIFIED = "ModifiedDate"
NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
NOT_XML_TEXT = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
SECOND = timedelta(seconds=1)

INVALID_CREDENTIALS = "Invalid web service credentials."
ACTION_MISMATCH = ("The message with Action '{}' cannot be processed at the receiver, due to a ContractFilter "
                   "mismatch at the EndpointDispatcher. This may be because of either a contract mismatch "
                   "(mismatched Actions between sender and receiver) or a binding/security mismatch between the "
                   "sender and the receiver.  Check that sender and receiver have the same contract and the same "
                   "binding (including security requirements, e.g. Message, Transport, None).")
INTERNAL_ERROR = ("The server was unable to process the request due to an internal error.  For more information "
                  "about the error, either turn on IncludeExceptionDetailInFaults (either from ServiceBehaviorAttribute "
                  "or from the <serviceDebug> configuration behavior) on the server in order to send the exception "
                  "information back to the client, or turn on tracing as per the Microsoft .NET Framework SDK "
                  "documentation and inspect the server trace logs.")
DESERIALIZATION = ("The formatter threw an exception while trying to deserialize the message: Error in deserializing "
                   "body of request message for operation 'GetData'. {}")
PLAIN_TEXT_ERROR = ("Error: Timeout expired.  The timeout period elapsed prior to completion of the operation or the "
                    "server is not responding.")

# A faultcode's local name -> its prefix and the namespace declared for it on <faultcode> (None: the
# envelope's own s:).
FAULT_CODES = {
    "Client": ("s", None), "Server": ("s", None), "MustUnderstand": ("s", None),
    "ActionNotSupported": ("a", ADDRESSING_NONE),
    "DeserializationFailed": ("a", DISPATCHER), "InternalServiceFault": ("a", DISPATCHER),
}
FAULT_TEXTS = {"Client": "The request was refused.", "Server": INTERNAL_ERROR,
               "ActionNotSupported": ACTION_MISMATCH.format(GET_DATA_ACTION),
               "DeserializationFailed": DESERIALIZATION.format("The message could not be read."),
               "InternalServiceFault": INTERNAL_ERROR}
INJECTED_STATUS = {"soapFault": 500, "malformed": 200, "html": 503, "plainText": 200}


# XML in and out.

class UnsafeXml(ValueError):
    """A document with a DTD or an entity declaration, which is refused rather than read."""


def parse_xml(data):
    """The element tree of a document, read with expat, refusing any DTD or entity declaration (the
    safety defusedxml gives): nothing is expanded or fetched. Raises UnsafeXml or expat.ExpatError."""

    def refuse(*_):
        raise UnsafeXml("The document has a DTD or an entity declaration, which the service does not read.")

    def qualified(name):
        return "{" + name if "}" in name else name

    builder = ET.TreeBuilder()
    parser = expat.ParserCreate(namespace_separator="}")
    parser.buffer_text = True
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse
    parser.UnparsedEntityDeclHandler = refuse
    parser.ExternalEntityRefHandler = refuse
    parser.StartElementHandler = lambda name, attributes: builder.start(
        qualified(name), {qualified(k): v for k, v in attributes.items()})
    parser.EndElementHandler = lambda name: builder.end(qualified(name))
    parser.CharacterDataHandler = builder.data
    parser.Parse(data, True)
    return builder.close()


def local_name(tag):
    return tag.rpartition("}")[2]


def namespace_of(tag):
    return tag[1:].partition("}")[0] if tag.startswith("{") else ""


def envelope():
    """A SOAP 1.1 envelope and its body, with WCF's prefix s:. Elements are built with their prefixed
    names and the namespace declarations WCF writes where WCF writes them; ElementTree escapes every
    value."""
    root = ET.Element("s:Envelope", {"xmlns:s": SOAP11})
    return root, ET.SubElement(root, "s:Body")


def xml_bytes(root):
    return ET.tostring(root, encoding="utf-8")  # utf-8: no XML declaration, as WCF writes none


def fault_document(code, text):
    """A SOAP 1.1 fault as WCF's basicHttpBinding writes it."""
    prefix, namespace = FAULT_CODES[code]
    root, body = envelope()
    fault = ET.SubElement(body, "s:Fault")
    ET.SubElement(fault, "faultcode", {f"xmlns:{prefix}": namespace} if namespace else {}).text = f"{prefix}:{code}"
    ET.SubElement(fault, "faultstring", {"xml:lang": "en-US"}).text = text
    return xml_bytes(root)


def response_document(result):
    """GetDataResponse with GetDataResult holding `result` (a string, escaped as text)."""
    root, body = envelope()
    response = ET.SubElement(body, "GetDataResponse", {"xmlns": TEMPURI})
    ET.SubElement(response, "GetDataResult").text = result
    return xml_bytes(root)


def wsdl_document(address):
    """The dossier's assumed WSDL (examples/FMInteractWebService.assumed.wsdl), with soap:address `address`."""
    names = {"xmlns:wsdl": "http://schemas.xmlsoap.org/wsdl/", "xmlns:soap": "http://schemas.xmlsoap.org/wsdl/soap/",
             "xmlns:xsd": "http://www.w3.org/2001/XMLSchema", "xmlns:tns": TEMPURI}
    root = ET.Element("wsdl:definitions", {"name": "FMInteractWebService", "targetNamespace": TEMPURI, **names})
    schema = ET.SubElement(ET.SubElement(root, "wsdl:types"), "xsd:schema",
                           {"elementFormDefault": "qualified", "targetNamespace": TEMPURI})

    def wrapper(name, fields):
        sequence = ET.SubElement(ET.SubElement(ET.SubElement(schema, "xsd:element", {"name": name}),
                                               "xsd:complexType"), "xsd:sequence")
        for field_name in fields:
            ET.SubElement(sequence, "xsd:element", {"minOccurs": "0", "name": field_name, "nillable": "true",
                                                    "type": "xsd:string"})

    wrapper("GetData", FIELDS.values())
    wrapper("GetDataResponse", ["GetDataResult"])
    for direction, element in (("Input", "GetData"), ("Output", "GetDataResponse")):
        message = ET.SubElement(root, "wsdl:message", {"name": f"{CONTRACT}_GetData_{direction}Message"})
        ET.SubElement(message, "wsdl:part", {"name": "parameters", "element": f"tns:{element}"})
    operation = ET.SubElement(ET.SubElement(root, "wsdl:portType", {"name": CONTRACT}), "wsdl:operation",
                              {"name": "GetData"})
    ET.SubElement(operation, "wsdl:input", {"message": f"tns:{CONTRACT}_GetData_InputMessage"})
    ET.SubElement(operation, "wsdl:output", {"message": f"tns:{CONTRACT}_GetData_OutputMessage"})
    binding = ET.SubElement(root, "wsdl:binding", {"name": f"BasicHttpBinding_{CONTRACT}", "type": f"tns:{CONTRACT}"})
    ET.SubElement(binding, "soap:binding", {"transport": "http://schemas.xmlsoap.org/soap/http"})
    operation = ET.SubElement(binding, "wsdl:operation", {"name": "GetData"})
    ET.SubElement(operation, "soap:operation", {"soapAction": GET_DATA_ACTION, "style": "document"})
    for direction in ("wsdl:input", "wsdl:output"):
        ET.SubElement(ET.SubElement(operation, direction), "soap:body", {"use": "literal"})
    port = ET.SubElement(ET.SubElement(root, "wsdl:service", {"name": "FMInteractWebService"}), "wsdl:port",
                         {"name": f"BasicHttpBinding_{CONTRACT}", "binding": f"tns:BasicHttpBinding_{CONTRACT}"})
    ET.SubElement(port, "soap:address", {"location": address})
    ET.indent(root, space="  ")
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def html_page(status, title, message):
    """An HTML error page as IIS / HTTP.SYS (or a proxy in front of it) sends one."""
    return (
        '<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01//EN""http://www.w3.org/TR/html4/strict.dtd">\r\n'
        f"<HTML><HEAD><TITLE>{html.escape(title)}</TITLE>\r\n"
        '<META HTTP-EQUIV="Content-Type" Content="text/html; charset=us-ascii"></HEAD>\r\n'
        f"<BODY><h2>{html.escape(title)}</h2>\r\n<hr><p>{html.escape(message)}</p>\r\n</BODY></HTML>\r\n"
    ).encode("ascii", "xmlcharrefreplace")


def error_page(status):
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    if status == 503:
        return html_page(status, "Service Unavailable", "HTTP Error 503. The service is unavailable.")
    return html_page(status, phrase, f"HTTP Error {status}. {phrase}.")


def service_page(url):
    """WCF's HTML page for a GET of the .svc without ?wsdl."""
    text = (f"<html><head><title>FMInteractWebService Service</title></head><body><div id=\"content\">"
            f"<p class=\"heading1\">FMInteractWebService Service</p><p>You have created a service.</p>"
            f"<p>To test this service, you will need to create a client and use it to call the service. You can do "
            f"this using the svcutil.exe tool from the command line with the following syntax:</p>"
            f"<pre>svcutil.exe {html.escape(url)}?wsdl</pre></div></body></html>")
    return text.encode("utf-8")


# Values.

def parse_moment(text):
    """A date-time parameter or touch value as a naive UTC datetime, or None."""
    if not isinstance(text, str):
        return None
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    return moment


def moment_text(moment):
    return moment.strftime("%Y-%m-%dT%H:%M:%S")


def decimal_text(value):
    """A decimal as .NET writes a double in invariant culture: 412.5, 240 (no fraction), 0.75."""
    number = float(value)
    if number.is_integer() and abs(number) < 1e15:
        return str(int(number))
    return repr(number)


def wire_text(value, kind):
    """A non-NULL column value as DataSet.GetXml writes it."""
    if kind == "bool":
        return "true" if value else "false"
    if kind == "decimal":
        return decimal_text(value)
    return str(value)


def json_value(value, kind):
    if value is not None and kind == "decimal":
        return float(value)
    return value


def fits(value, kind):
    """Whether a JSON value can be stored in a column of this kind (None: NULL, always)."""
    if value is None:
        return True
    if kind == "int":
        return type(value) is int
    if kind == "decimal":
        return type(value) in (int, float)
    if kind == "bool":
        return type(value) is bool
    if kind == "datetime":
        return parse_moment(value) is not None
    return isinstance(value, str) and not NOT_XML_TEXT.search(value)


def stored(value, kind):
    """A fitting value as a row keeps it (dates as yyyy-MM-ddTHH:mm:ss in UTC)."""
    if value is not None and kind == "datetime":
        return moment_text(parse_moment(value))
    return value


# The catalogue.

class SoapFault(Exception):
    """A SOAP fault answer: faultcode's local name (FAULT_CODES), faultstring and HTTP status."""

    def __init__(self, code, text, status=500):
        super().__init__(text)
        self.code, self.text, self.status = code, text, status


def client_fault(text):
    return SoapFault("Client", text)


def not_found(name):
    return client_fault(f"Object '{name}' was not found or is not available to this web service user.")


def unknown_parameter(name, obj):
    return client_fault(f"Unknown parameter '{name}' for '{obj}'.")


def invalid_value(value, name, obj):
    return client_fault(f"Invalid value '{value}' for parameter '{name}' of '{obj}'.")


@dataclass
class View:
    name: str
    key: str
    columns: dict  # column -> kind, in the order served
    rows: list
    kind = "View"

    def column(self, name):
        """The column of that name (case-insensitive, a leading @ ignored), or None."""
        wanted = name.lstrip("@").lower()
        return next((c for c in self.columns if c.lower() == wanted), None)

    def source(self):
        return self


@dataclass
class Argument:
    name: str  # with its @
    required: bool
    kind: str
    column: str
    operator: str


@dataclass
class Procedure:
    name: str
    key: str
    view: View
    arguments: list
    kind = "StoredProcedure"

    def source(self):
        return self.view


def condition(obj, given, value, kind, column, operator):
    """A row test comparing `column` with a parameter value (text, or None for NULL)."""
    if value is None:
        return lambda row: row[column] is None if operator == "=" else False
    if kind == "string":
        wanted = value.casefold()
        return lambda row: row[column] is not None and OPERATORS[operator](row[column].casefold(), wanted)
    if kind in ("int", "decimal"):
        try:
            wanted = Decimal(value.strip())
        except InvalidOperation:
            raise invalid_value(value, given, obj) from None
        if not wanted.is_finite():
            raise invalid_value(value, given, obj)
        return lambda row: row[column] is not None and OPERATORS[operator](Decimal(str(row[column])), wanted)
    if kind == "bool":
        flags = {"true": True, "1": True, "false": False, "0": False}
        if value.strip().lower() not in flags:
            raise invalid_value(value, given, obj)
        wanted = flags[value.strip().lower()]
        return lambda row: row[column] is not None and OPERATORS[operator](row[column], wanted)
    wanted = parse_moment(value)
    if wanted is None:
        raise invalid_value(value, given, obj)
    return lambda row: row[column] is not None and OPERATORS[operator](parse_moment(row[column]), wanted)


def parse_parameters(text):
    """GetData's parameters as [(name as given, value text or None)]; SoapFault when unreadable."""
    text = (text or "").strip()
    if not text:
        return []
    pairs = []
    if text.startswith("{") or text.startswith("["):
        try:
            data = json.loads(text)
        except ValueError as error:
            raise client_fault(f"Invalid parameters: not a JSON object ({error}).") from None
        if not isinstance(data, dict):
            raise client_fault("Invalid parameters: JSON parameters must be an object of names and values.")
        for name, value in data.items():
            if isinstance(value, bool):
                value = "true" if value else "false"
            elif isinstance(value, (int, float)):
                value = str(value)
            elif value is not None and not isinstance(value, str):
                raise client_fault(f"Invalid parameters: the value of '{name}' is not a string, number, boolean or null.")
            pairs.append((name, value))
    else:
        for segment in text.split(";"):
            if not segment.strip():
                continue
            name, equals, value = segment.partition("=")
            if not equals or not name.strip().lstrip("@"):
                raise client_fault(f"Invalid parameters: '{segment.strip()}' is not @Name=Value.")
            pairs.append((name.strip(), unquote(value)))
    seen = set()
    for name, _ in pairs:
        key = name.lstrip("@").lower()
        if not key:
            raise client_fault("Invalid parameters: a parameter has no name.")
        if key in seen:
            raise client_fault(f"Invalid parameters: '{name}' is given twice.")
        seen.add(key)
    return pairs


class Catalog:
    """The seed: web-service users and objects (views with rows, procedures over views)."""

    def __init__(self, data, recent=False):
        self.recent = recent
        self.users = {}
        for user in data["webServiceUsers"]:
            if not isinstance(user["userName"], str) or not isinstance(user["password"], str):
                raise ValueError("a web-service user needs a userName and a password")
            self.users[user["userName"]] = {"password": user["password"], "allowed": list(user["allowedObjects"])}
        self.objects = {}
        for spec in data["objects"]:
            if spec["type"] == "View":
                obj = self.view(spec)
            elif spec["type"] == "StoredProcedure":
                obj = self.procedure(spec)
            else:
                raise ValueError(f"{spec['name']} has the unknown type {spec['type']}")
            if obj.name.lower() in self.objects:
                raise ValueError(f"{obj.name} is defined twice")
            self.objects[obj.name.lower()] = obj
        for user in self.users.values():
            self.granted(user["allowed"])  # every grant names an object

    def view(self, spec):
        columns = dict(spec["columns"])
        for column, kind in columns.items():
            if not NAME.match(column) or kind not in COLUMN_TYPES:
                raise ValueError(f"{spec['name']}.{column}: not a column name or not one of {COLUMN_TYPES}")
        if spec["key"] not in columns or columns[spec["key"]] != "int":
            raise ValueError(f"{spec['name']}: the key {spec['key']} is not an int column")
        rows, keys = [], set()
        for row in spec["rows"]:
            if set(row) - set(columns) or not all(fits(row.get(c), k) for c, k in columns.items()):
                raise ValueError(f"{spec['name']}: the row {row} does not fit the columns")
            if row.get(spec["key"]) is None or row[spec["key"]] in keys:
                raise ValueError(f"{spec['name']}: the row {row} has no key or a key already used")
            keys.add(row[spec["key"]])
            rows.append({c: stored(row.get(c), k) for c, k in columns.items()})
        return View(spec["name"], spec["key"], columns, rows)

    def procedure(self, spec):
        view = self.objects.get(spec["resultFrom"].lower())
        if not isinstance(view, View):
            raise ValueError(f"{spec['name']} reads {spec['resultFrom']}, which is not a view defined before it")
        arguments = []
        for argument in spec["arguments"]:
            column, _, operator = spec["argumentToColumn"][argument["name"]].partition(" ")
            operator = operator.strip() or "="
            if view.column(column) != column or operator not in OPERATORS or not argument["name"].startswith("@"):
                raise ValueError(f"{spec['name']}: {argument['name']} maps to no column of {view.name} or no operator")
            kind = argument.get("type", view.columns[column])
            if kind not in COLUMN_TYPES:
                raise ValueError(f"{spec['name']}: {argument['name']} has the unknown type {kind}")
            arguments.append(Argument(argument["name"], bool(argument["required"]), kind, column, operator))
        if spec["key"] != view.key:
            raise ValueError(f"{spec['name']}: its key is not its view's")
        return Procedure(spec["name"], spec["key"], view, arguments)

    def views(self):
        return [obj for obj in self.objects.values() if isinstance(obj, View)]

    def named(self, name):
        """The object of that name (case-insensitive), or None."""
        return self.objects.get((name or "").lower())

    def granted(self, names):
        """Canonical object names for a grant list ("*": every object); ValueError for an unknown name."""
        out = set()
        for name in names:
            if name == "*":
                out |= {obj.name for obj in self.objects.values()}
            elif self.named(name) is None:
                raise ValueError(f"there is no object {name}")
            else:
                out.add(self.named(name).name)
        return out

    def profile(self, user):
        """A user's password and grants: the seed's user, else the demo password and every object."""
        return self.users.get(user) or {"password": DEMO_PASSWORD, "allowed": ["*"]}

    def tenant(self, user):
        """A new tenant's state: its copy of every view's rows, its grants, password and clock."""
        profile = self.profile(user)
        rows = {view.name: copy.deepcopy(view.rows) for view in self.views()}
        if self.recent:
            self.bring_forward(rows)
        return {"rows": rows,
                "granted": self.granted(profile["allowed"]), "password": profile["password"],
                "format": None, "clock": None}

    def bring_forward(self, rows):
        """Moves every date of a tenant's rows forward by whole days, so that its newest change was
        yesterday: the sample then stays inside a sync's default window (--recent)."""
        kinds = {view.name: view.columns for view in self.views()}
        changes = [parse_moment(row[MODIFIED]) for name, table in rows.items() for row in table
                   if row.get(MODIFIED) and kinds[name].get(MODIFIED) == "datetime"]
        if not changes:
            return
        yesterday = datetime.now(timezone.utc).date() - timedelta(days=1)
        days = timedelta(days=(yesterday - max(changes).date()).days)
        for name, table in rows.items():
            for row in table:
                for column, kind in kinds[name].items():
                    if kind == "datetime" and row.get(column):
                        row[column] = moment_text(parse_moment(row[column]) + days)

    def select(self, obj, rows, parameters):
        """The rows of `obj` (a view or procedure) the parameters select, in key order."""
        tests = []
        if isinstance(obj, View):
            for given, value in parameters:
                column = obj.column(given)
                if column is None:
                    raise unknown_parameter(given, obj.name)
                tests.append(condition(obj.name, given, value, obj.columns[column], column, "="))
        else:
            by_name = {argument.name.lstrip("@").lower(): argument for argument in obj.arguments}
            given_names = set()
            for given, value in parameters:
                argument = by_name.get(given.lstrip("@").lower())
                if argument is None:
                    raise unknown_parameter(given, obj.name)
                given_names.add(argument.name)
                if value is None or value.strip() == "":
                    if argument.required:
                        raise client_fault(f"Parameter '{argument.name}' is required for '{obj.name}'.")
                    continue  # an optional argument left NULL selects nothing out
                tests.append(condition(obj.name, given, value, argument.kind, argument.column, argument.operator))
            for argument in obj.arguments:
                if argument.required and argument.name not in given_names:
                    raise client_fault(f"Parameter '{argument.name}' is required for '{obj.name}'.")
        chosen = [row for row in rows if all(test(row) for test in tests)]
        return sorted(chosen, key=lambda row: row[obj.key])


def result_text(view, rows, mode):
    """GetDataResult's text for these rows: DataSet XML, or a JSON array in json mode."""
    if mode == "json":
        return json.dumps([{c: json_value(row[c], k) for c, k in view.columns.items()} for row in rows],
                          ensure_ascii=False, separators=(",", ":"))
    dataset = ET.Element("NewDataSet")
    for row in rows:
        table = ET.SubElement(dataset, "Table")
        for column, kind in view.columns.items():
            if row[column] is not None:
                ET.SubElement(table, column).text = wire_text(row[column], kind)
    ET.indent(dataset, space="  ")
    return ET.tostring(dataset, encoding="unicode")


def json_row(view, row):
    return {c: json_value(row[c], k) for c, k in view.columns.items()}


# Faults the control plane queues.

def check_fault(response):
    """A response POST /_standin/faults takes (see the module docstring); ControlError 400 otherwise."""
    if not isinstance(response, dict) or "kind" not in response:
        return standin_control.check_fault(response)
    kind = response["kind"]
    extra = {"soapFault": {"faultcode", "faultstring"}, "plainText": {"text"}}.get(kind, set())
    known = {"kind", "status", "retryAfter", "delaySeconds"} | extra
    status = response.get("status", INJECTED_STATUS.get(kind))
    problems = [
        kind not in INJECTED_STATUS,
        bool(set(response) - known),
        not (type(status) is int and 200 <= status <= 599),
        "retryAfter" in response and not (type(response["retryAfter"]) is int and response["retryAfter"] >= 0),
        "delaySeconds" in response and not (type(response["delaySeconds"]) in (int, float) and response["delaySeconds"] >= 0),
        "faultcode" in response and response["faultcode"] not in FAULT_TEXTS,
        any(name in response and not (isinstance(response[name], str) and not NOT_XML_TEXT.search(response[name]))
            for name in ("faultstring", "text")),
    ]
    if any(problems):
        raise ControlError(400, 'responses are {"kind": "soapFault", "faultcode"?: one of ' + ", ".join(FAULT_TEXTS)
                           + ', "faultstring"?} | {"kind": "malformed"} | {"kind": "html"} | {"kind": "plainText", '
                           '"text"?} (each with "status"?: 200-599, "retryAfter"?, "delaySeconds"?), or '
                           + standin_control.FAULT_FORM)
    return {**response, "status": status}


# The server's state.

@dataclass
class Reply:
    """One answer of the service: status, body, content type (None: no body) and what the log keeps."""
    status: int
    data: bytes = b""
    content_type: str = None
    headers: dict = field(default_factory=dict)
    faultcode: str = None
    returned: int = None
    injected: str = None


def fault_reply(fault):
    return Reply(fault.status, fault_document(fault.code, fault.text), XML_TYPE,
                 faultcode=f"{FAULT_CODES[fault.code][0]}:{fault.code}")


@dataclass
class Call:
    """A GetData request as read: its fields, None where missing or nil."""
    user: str = None
    password: str = None
    object_name: str = None
    object_type: str = None
    parameters: str = None


class Stand:
    """All the server holds, behind one lock: the catalogue, the default result mode, and the control
    plane (standin_control): each tenant's state (rows, grants, password, result mode, clock) made on
    first use, the request log, the violations, pending faults and deferred touches."""

    def __init__(self, catalog, result_format):
        self.lock = threading.Lock()
        self.catalog, self.result_format = catalog, result_format
        self.plane = ControlPlane(make=catalog.tenant, violations=True, check_fault=check_fault)
        self.plane.route("POST", "/_standin/touch", lambda request: self.touch(request.control_body()))
        self.plane.route("POST", "/_standin/grants", lambda request: self.grants(request.control_body()))
        self.plane.route("GET", "/_standin/grants", lambda request: self.grants({"tenant": request.query.get("tenant")}))
        self.plane.route("POST", "/_standin/settings", lambda request: self.settings(request.control_body()))

    # GetData.

    def get_data(self, call):
        """The answer to a GetData call, or SoapFault."""
        with self.lock:
            state = self.authenticate(call.user, call.password)
            kind = OBJECT_TYPES.get((call.object_type or "").strip().lower())
            if kind is None:
                raise client_fault(f"Unsupported object type '{(call.object_type or '').strip()}'.")
            name = (call.object_name or "").strip()
            obj = self.catalog.named(name)
            if obj is None or obj.kind != kind or obj.name not in state["granted"]:
                raise not_found(name)
            parameters = parse_parameters(call.parameters)
            view = obj.source()
            rows = self.catalog.select(obj, state["rows"][view.name], parameters)
            text = result_text(view, rows, state["format"] or self.result_format)
            for touch in self.plane.touches.due(call.user, view.name):
                try:
                    self.change(state, touch)
                except ControlError:
                    pass  # the row has gone meanwhile
        return Reply(200, response_document(text), XML_TYPE, returned=len(rows))

    def authenticate(self, user, password):
        """The tenant's state when the password is its user's (lock held); SoapFault otherwise."""
        if not user or password is None:
            raise client_fault(INVALID_CREDENTIALS)
        expected = (self.plane.tenants.get(user)["password"] if user in self.plane.tenants
                    else self.catalog.profile(user)["password"])
        if not hmac.compare_digest(password.encode("utf-8"), expected.encode("utf-8")):
            raise client_fault(INVALID_CREDENTIALS)
        return self.plane.tenants.get(user)

    # Control endpoints (each answers (status, payload) or raises ControlError).

    def tenant_of(self, body):
        tenant = body.get("tenant")
        if not isinstance(tenant, str) or not tenant:
            raise ControlError(400, "tenant must be a non-empty string (the web-service user name).")
        return tenant

    def view_of(self, body):
        obj = self.catalog.named(body.get("object")) if isinstance(body.get("object"), str) else None
        if not isinstance(obj, View):
            raise ControlError(400, "object must be one of the views: " + ", ".join(v.name for v in self.catalog.views()))
        return obj

    def touch(self, body):
        """POST /_standin/touch: change, add or delete a row as an FM:Systems user would."""
        tenant, view = self.tenant_of(body), self.view_of(body)
        fields = body.get("fields", {})
        if "key" in body and "id" in body:
            raise ControlError(400, "give key or id, not both.")
        key = body.get("key", body.get("id"))
        if not isinstance(fields, dict) or (not fields and not body.get("delete") and key is not None):
            raise ControlError(400, 'fields must be a non-empty object {column: value} (or give "delete": true).')
        if body.get("delete") and (key is None or fields):
            raise ControlError(400, "a delete names the row's key and gives no fields.")
        for column, value in fields.items():
            if view.column(column) != column or column in (view.key, MODIFIED):
                raise ControlError(400, f"{column} is not a column of {view.name} a user can set "
                                   f"(the key and {MODIFIED} are the server's).")
            if not fits(value, view.columns[column]):
                raise ControlError(400, f"{column} takes a {view.columns[column]} (or null), not {value!r}.")
        if key is not None and not (type(key) is int or (isinstance(key, str) and key.isdigit())):
            raise ControlError(400, f"key must be a {view.key} value (a whole number).")
        change = {"view": view.name, "key": None if key is None else int(key), "fields": fields,
                  "delete": bool(body.get("delete"))}
        if body.get("afterNextRead"):
            self.plane.touches.defer(tenant, view.name, change)
            return 200, {"deferred": {k: v for k, v in body.items() if k != "afterNextRead"}}
        with self.lock:
            return self.change(self.plane.tenants.get(tenant), change)

    def change(self, state, change):
        """Apply a checked touch to a tenant's rows (lock held): (status, payload)."""
        view = self.catalog.named(change["view"])
        rows = state["rows"][view.name]
        if change["key"] is None:
            row = {column: None for column in view.columns}
            row[view.key] = max((r[view.key] for r in rows), default=0) + 1
            rows.append(row)
            status = 201
        else:
            row = next((r for r in rows if r[view.key] == change["key"]), None)
            if row is None:
                raise ControlError(404, f"{view.name} has no row with {view.key} {change['key']}.")
            status = 200
            if change["delete"]:
                rows.remove(row)
                return 200, {"object": view.name, "key": row[view.key], "deleted": True}
        for column, value in change["fields"].items():
            row[column] = stored(value, view.columns[column])
        if MODIFIED in view.columns:
            row[MODIFIED] = self.stamp(state, parse_moment(row[MODIFIED]) if row[MODIFIED] else None)
        return status, {"object": view.name, "key": row[view.key], "row": json_row(view, row)}

    def stamp(self, state, before):
        """Now in UTC to the second, later than `before` and than the tenant's last stamp (lock held)."""
        moment = datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0)
        for floor in (state["clock"], before):
            if floor is not None and moment <= floor:
                moment = floor + SECOND
        state["clock"] = moment
        return moment_text(moment)

    def grants(self, body):
        """POST (and GET) /_standin/grants: withdraw or give objects to the tenant's web-service user."""
        tenant = self.tenant_of(body)
        changes = {}
        for verb in ("revoke", "grant"):
            names = body.get(verb, [])
            if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                raise ControlError(400, f"{verb} must be a list of object names.")
            try:
                changes[verb] = self.catalog.granted(names)
            except ValueError as error:
                raise ControlError(400, f"{error}; the objects are " + ", ".join(
                    obj.name for obj in self.catalog.objects.values()) + ".") from None
        with self.lock:
            state = self.plane.tenants.get(tenant)
            state["granted"] = (state["granted"] - changes["revoke"]) | changes["grant"]
            return 200, {"tenant": tenant, "granted": sorted(state["granted"])}

    def settings(self, body):
        """POST /_standin/settings: the tenant's password and result mode."""
        tenant = self.tenant_of(body)
        password, mode = body.get("password"), body.get("resultFormat")
        if password is not None and (not isinstance(password, str) or not password):
            raise ControlError(400, "password must be a non-empty string.")
        if mode is not None and mode not in ("xml", "json"):
            raise ControlError(400, 'resultFormat must be "xml" or "json".')
        if set(body) - {"tenant", "password", "resultFormat"}:
            raise ControlError(400, "settings takes tenant, password and resultFormat.")
        with self.lock:
            state = self.plane.tenants.get(tenant)
            if password is not None:
                state["password"] = password
            if mode is not None:
                state["format"] = mode
            return 200, {"tenant": tenant, "resultFormat": state["format"] or self.result_format}


class BadMessage(Exception):
    """A request the service cannot read at all: its status (400, 415) with no body, and why."""

    def __init__(self, status, reason):
        super().__init__(reason)
        self.status = status


def read_call(root, action, notes):
    """The GetData call of a parsed envelope; appends to `notes` what a strict WCF service would not
    read the same. Raises BadMessage or SoapFault."""
    if root.tag != f"{{{SOAP11}}}Envelope":
        if root.tag == f"{{{SOAP12}}}Envelope":
            raise BadMessage(400, "A SOAP 1.2 envelope was sent to the SOAP 1.1 (basicHttpBinding) endpoint.")
        raise BadMessage(400, f"The document is not a SOAP 1.1 Envelope (its root is {root.tag}).")
    header, body = root.find(f"{{{SOAP11}}}Header"), root.find(f"{{{SOAP11}}}Body")
    if body is None:
        raise BadMessage(400, "The SOAP envelope has no Body.")
    for entry in (header if header is not None else []):
        if entry.get(f"{{{SOAP11}}}mustUnderstand") in ("1", "true"):
            notes.append(f"The header {local_name(entry.tag)} is marked mustUnderstand; the service understands none.")
            raise SoapFault("MustUnderstand", f"The header '{local_name(entry.tag)}' from the namespace "
                            f"'{namespace_of(entry.tag)}' was not understood by the recipient of this message, "
                            "causing the message to not be processed.  This error typically indicates that the "
                            "sender of this message has enabled a communication protocol that the receiver cannot "
                            "process.  Please ensure that the configuration of the sender's binding is consistent "
                            "with the binding of the receiver.")
    first = next(iter(body), None)
    if not action:
        notes.append("The request has no SOAPAction; a WCF endpoint dispatches on it "
                     f"(expected \"{GET_DATA_ACTION}\").")
        if first is None or local_name(first.tag).lower() != "getdata":
            raise SoapFault("ActionNotSupported", ACTION_MISMATCH.format(action or ""))
    elif action != GET_DATA_ACTION:
        raise SoapFault("ActionNotSupported", ACTION_MISMATCH.format(action))
    if first is None or local_name(first.tag).lower() != "getdata":
        found = "nothing" if first is None else f"'{local_name(first.tag)}' from namespace '{namespace_of(first.tag)}'"
        raise SoapFault("DeserializationFailed", DESERIALIZATION.format(
            f"OperationFormatter encountered an invalid Message body. Expected to find an element 'GetData' from "
            f"namespace '{TEMPURI}'; found {found}."))
    if first.tag != f"{{{TEMPURI}}}GetData":
        notes.append(f"The body element is {first.tag}, not {{{TEMPURI}}}GetData.")
    values, order = {}, []
    for child in first:
        name, key = local_name(child.tag), local_name(child.tag).lower()
        if key not in FIELDS:
            notes.append(f"GetData has no field {name}; it was ignored.")
            continue
        if key in values:
            raise SoapFault("DeserializationFailed", DESERIALIZATION.format(f"The element '{name}' is given twice."))
        if len(child):
            raise SoapFault("DeserializationFailed", DESERIALIZATION.format(
                f"The element '{name}' holds elements; it is an xsd:string."))
        if child.tag != f"{{{TEMPURI}}}{FIELDS[key]}":
            notes.append(f"The field {child.tag} is not {{{TEMPURI}}}{FIELDS[key]}.")
        nil = (child.get(f"{{{XSI}}}nil") or "").strip() in ("true", "1")
        values[key] = None if nil else (child.text or "")
        order.append(key)
    if order != [key for key in FIELDS if key in order]:
        notes.append("GetData's fields are not in the WSDL's order (" + ", ".join(FIELDS.values()) + ").")
    return Call(values.get("username"), values.get("password"), values.get("objectname"),
                values.get("objecttype"), values.get("parameters"))


def user_named(data):
    """The userName a request the service refused names, if it can be read, for the logs; else None."""
    try:
        root = parse_xml(data)
    except (UnsafeXml, expat.ExpatError):
        return None
    return next((e.text for e in root.iter() if local_name(e.tag).lower() == "username" and e.text), None)


def injected_reply(fault):
    """The answer an injected fault gives instead of the service's."""
    status, kind = fault["status"], fault.get("kind", "html")
    headers = {"Retry-After": str(fault["retryAfter"])} if "retryAfter" in fault else {}
    if kind == "soapFault":
        code = fault.get("faultcode", "InternalServiceFault")
        reply = Reply(status, fault_document(code, fault.get("faultstring", FAULT_TEXTS[code])), XML_TYPE,
                      faultcode=f"{FAULT_CODES[code][0]}:{code}")
    elif kind == "malformed":
        whole = response_document(result_text(View("", "", {}, []), [], "xml"))
        reply = Reply(status, whole[:whole.index(b"</GetDataResult>")], XML_TYPE)  # cut off mid-element
    elif kind == "plainText":
        reply = Reply(status, response_document(fault.get("text", PLAIN_TEXT_ERROR)), XML_TYPE)
    else:
        reply = Reply(status, error_page(status), "text/html; charset=us-ascii", {"Server": "Microsoft-HTTPAPI/2.0"})
    reply.headers.update(headers)
    reply.injected = kind
    return reply


class Handler(RequestHandler):
    """Routes the .svc paths to the stand-in's FMInteract web service and /_standin/… to its control plane."""

    def version_string(self):
        """The Server header: IIS's, or what the reply being sent names (an HTTP.SYS error page)."""
        return getattr(self, "server_header", None) or "Microsoft-IIS/10.0"

    def answer(self):
        self.stand = self.server.stand
        if self.route.startswith("/_standin/"):
            return self.control()
        path = unquote(self.route).lower()
        if path not in {p.lower() for p in SERVICE_PATHS}:
            return self.send_reply(Reply(404, html_page(404, "Not Found", "HTTP Error 404. The requested resource is "
                                                        "not found."), "text/html; charset=us-ascii"))
        if self.command == "GET":
            return self.metadata()
        if self.command != "POST":
            return self.send_reply(Reply(405, headers={"Allow": "GET, POST"}))
        self.soap()

    def failed(self):
        """A bug of the stand-in: WCF's InternalServiceFault."""
        self.send_reply(fault_reply(SoapFault("InternalServiceFault", INTERNAL_ERROR)))

    def control_answer(self):
        return self.stand.plane.answer(self)

    def send_reply(self, reply):
        headers = dict(reply.headers)
        self.server_header = headers.pop("Server", None)
        self.send_response(reply.status)
        for name, value in headers.items():
            self.send_header(name, value)
        if reply.content_type:
            self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.data)))
        self.end_headers()
        if reply.data:
            self.wfile.write(reply.data)

    def metadata(self):
        """GET of the .svc: the WSDL for ?wsdl / ?singleWsdl, else WCF's service page."""
        url = self.base + self.route
        if {name.lower() for name, _ in self.params} & {"wsdl", "singlewsdl"}:
            return self.send_reply(Reply(200, wsdl_document(url), XML_TYPE))
        self.send_reply(Reply(200, service_page(url), "text/html; charset=UTF-8"))

    def soap_action(self):
        action = self.headers.get("SOAPAction")
        if action is None:
            return None
        action = action.strip()
        return action[1:-1] if len(action) >= 2 and action[0] == action[-1] == '"' else action

    def content_type_problem(self):
        """Why the Content-Type is not SOAP 1.1's text/xml in utf-8, or None."""
        given = self.headers.get("Content-Type") or ""
        media, *parameters = [part.strip() for part in given.split(";")]
        charset = next((p.partition("=")[2].strip().strip('"') for p in parameters if p.lower().startswith("charset=")), "")
        if media.lower() != "text/xml" or charset.lower() not in ("", "utf-8"):
            return (f"Cannot process the message because the content type '{given}' was not the expected type "
                    "'text/xml; charset=utf-8'.")
        return None

    def soap(self):
        """Answer a SOAP POST, then log it (and what a strict service would have refused)."""
        plane, action, notes, tenant, call = self.stand.plane, self.soap_action(), [], None, Call()
        try:
            problem = self.content_type_problem()
            if problem:
                raise BadMessage(415, problem)
            try:
                root = parse_xml(self.body)
            except UnsafeXml as error:
                raise BadMessage(400, str(error)) from None
            except expat.ExpatError as error:
                raise BadMessage(400, f"The body is not well-formed XML: {error}.") from None
            call = read_call(root, action, notes)
            tenant = call.user or None
            target = f"{self.route}?objectName={quote((call.object_name or '').strip(), safe='')}"
            fault = plane.faults.take(tenant, self.command, target) if tenant else None
            reply = faulted(fault, injected_reply, lambda: self.stand.get_data(call))
        except SoapFault as fault:
            reply = fault_reply(fault)
        except BadMessage as bad:
            reply = Reply(bad.status)
            notes.append(str(bad))
            tenant = tenant or user_named(self.body)
        for note in notes:
            plane.violations.add(tenant, {"method": self.command, "path": self.route, "reason": note})
        plane.requests.add(tenant, {
            "method": self.command, "path": self.route, "soapAction": action,
            "objectName": call.object_name, "objectType": call.object_type, "parameters": call.parameters,
            "status": reply.status, "faultcode": reply.faultcode, "returned": reply.returned,
            "injected": reply.injected})
        self.send_reply(reply)


def main():
    """Read the seed, serve until interrupted."""
    parser = argparse.ArgumentParser(description="A local stand-in for FM:Systems' FMInteract Web Service (SOAP GetData).")
    parser.add_argument("--port", type=int, required=True, help="0 picks a free port")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--result-format", choices=("xml", "json"), default="xml",
                        help="GetDataResult's default form (a tenant's own: POST /_standin/settings)")
    parser.add_argument("--recent", action="store_true",
                        help="move each tenant's dates forward by whole days, its newest change yesterday")
    args = parser.parse_args()
    try:
        catalog = Catalog(json.loads(SEED_FILE.read_text("utf-8")), recent=args.recent)
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        parser.error(f"the seed data in {SEED_FILE} does not hold: {error}")
    server = ThreadingHTTPServer((args.host, args.port), Handler)
    server.stand = Stand(catalog, args.result_format)
    serve(server, f"fm-systems stand-in on http://{args.host}:{server.server_address[1]}")


if __name__ == "__main__":
    main()
