"""OData V2 the way SAP Gateway speaks it, for the SAP stand-in (sap.py).

The stand-in knows nothing about SAP's entity types by heart: properties, Edm types, keys,
navigation and the sap: annotations that say what a client may create, update, filter and sort are
read at run time from the vendor's own service description — the EDMX ($metadata) where SAP
publishes one, its OpenAPI export where it does not. This module turns those files into a small
model, converts values between Python and SAP's JSON wire format (`/Date(ms)/`, `PT14H30M00S`,
decimals as strings) and parses what a client puts in a URL: key predicates, $filter, $orderby,
$select and $expand. Whatever the description does not allow raises QueryError.
"""

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from urllib.parse import quote

EDM = "{http://schemas.microsoft.com/ado/2008/09/edm}"
SAP = "{http://www.sap.com/Protocols/SAPData}"
META = "{http://schemas.microsoft.com/ado/2007/08/dataservices/metadata}"
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
INTEGERS = {"Edm.Byte", "Edm.SByte", "Edm.Int16", "Edm.Int32"}
NUMBERS = INTEGERS | {"Edm.Int64", "Edm.Decimal", "Edm.Double", "Edm.Single"}
# Decimal places SAP shows for an amount in a currency (TCURX) or a quantity in a unit (T006);
# a code not listed keeps two places for a currency and the declared scale for a unit.
CURRENCY_DECIMALS = {"JPY": 0, "KRW": 0}
UNIT_DECIMALS = {"PC": 0, "EA": 0, "ST": 0}
COMPARISONS = {
    "eq": lambda a, b: a == b,
    "ne": lambda a, b: a != b,
    "gt": lambda a, b: a is not None and b is not None and a > b,
    "ge": lambda a, b: a is not None and b is not None and a >= b,
    "lt": lambda a, b: a is not None and b is not None and a < b,
    "le": lambda a, b: a is not None and b is not None and a <= b,
}
WIRE_DATE = re.compile(r"/Date\((-?\d+)(?:([+-])(\d{4}))?\)/")
WIRE_TIME = re.compile(r"PT(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)(?:\.\d+)?S)?")
ISO = re.compile(r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d)(?::(\d\d)(?:\.(\d{1,7}))?)?(Z|[+-]\d\d:\d\d)?")
TOKEN = re.compile(
    r"\s*(?:(?P<typed>(?:datetimeoffset|datetime|time)'[^']*')"
    r"|(?P<string>'(?:[^']|'')*')"
    r"|(?P<number>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?[MmLlDdFf]?)"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<punct>[(),=/]))"
)


class QueryError(ValueError):
    """A request the service description does not allow; the message says why."""


@dataclass
class Prop:
    """One property (or function parameter) with what the description says about it."""

    name: str
    type: str
    nullable: bool = True
    max_length: int | None = None
    scale: int = 0
    unit: str | None = None  # the property holding this amount's currency or quantity's unit
    semantics: str | None = None
    creatable: bool = True
    updatable: bool = True
    filterable: bool = True
    sortable: bool = True


@dataclass
class Nav:
    """A navigation property: where it leads and which properties link the two ends."""

    name: str
    many: bool
    target: str | None  # entity set; None when the description does not say
    pairs: tuple = ()  # (property here, property there)


@dataclass
class EntityType:
    """The entity type behind one entity set."""

    qualified: str  # Namespace.TypeName, as __metadata.type shows it
    keys: list
    props: dict
    navs: dict = field(default_factory=dict)

    def default(self, name):
        """The initial value SAP shows for a property nobody filled."""
        prop = self.props[name]
        if prop.type == "Edm.Boolean":
            return False
        if prop.type == "Edm.Time":
            return timedelta(0)
        if prop.type == "Edm.Decimal":
            return Decimal(0)
        if prop.type in NUMBERS:
            return 0
        if prop.type == "Edm.String":
            return ""
        return None


@dataclass
class Function:
    """A function import: its HTTP method, parameters and the complex type it answers."""

    name: str
    method: str
    params: dict
    returns: str
    result: dict


@dataclass
class Model:
    """What one service serves: entity sets by name and function imports by name."""

    sets: dict
    functions: dict = field(default_factory=dict)


def _edmx_prop(el, nullable_default=True):
    """A Prop from an EDMX <Property> or <Parameter>."""
    nullable = el.get("Nullable")
    return Prop(
        name=el.get("Name"),
        type=el.get("Type"),
        nullable=nullable_default if nullable is None else nullable == "true",
        max_length=int(el.get("MaxLength")) if (el.get("MaxLength") or "").isdigit() else None,
        scale=int(el.get("Scale") or 0),
        unit=el.get(SAP + "unit"),
        semantics=el.get(SAP + "semantics"),
        creatable=el.get(SAP + "creatable") != "false",
        updatable=el.get(SAP + "updatable") != "false",
        filterable=el.get(SAP + "filterable") != "false",
        sortable=el.get(SAP + "sortable") != "false",
    )


def _names(el, tag):
    """The Name attributes of el's <PropertyRef> children under tag."""
    return [ref.get("Name") for ref in el.find(EDM + tag).findall(EDM + "PropertyRef")]


def parse_edmx(data):
    """The Model of a V2 $metadata document."""
    root = ET.fromstring(data)
    types, complex_types, assocs, set_types, assoc_sets, imports = {}, {}, {}, {}, {}, []
    for schema in root.iter(EDM + "Schema"):
        ns = schema.get("Namespace")
        types.update((f"{ns}.{el.get('Name')}", el) for el in schema.findall(EDM + "EntityType"))
        assocs.update((f"{ns}.{el.get('Name')}", el) for el in schema.findall(EDM + "Association"))
        for el in schema.findall(EDM + "ComplexType"):
            complex_types[f"{ns}.{el.get('Name')}"] = {
                p.get("Name"): _edmx_prop(p) for p in el.findall(EDM + "Property")
            }
        for container in schema.findall(EDM + "EntityContainer"):
            set_types.update((s.get("Name"), s.get("EntityType")) for s in container.findall(EDM + "EntitySet"))
            for aset in container.findall(EDM + "AssociationSet"):
                for end in aset.findall(EDM + "End"):
                    assoc_sets[(aset.get("Association"), end.get("Role"))] = end.get("EntitySet")
            imports += container.findall(EDM + "FunctionImport")
    sets = {}
    for set_name, type_name in set_types.items():
        el = types[type_name]
        navs = {}
        for nav in el.findall(EDM + "NavigationProperty"):
            assoc = assocs[nav.get("Relationship")]
            ends = {end.get("Role"): end for end in assoc.findall(EDM + "End")}
            pairs = ()
            constraint = assoc.find(EDM + "ReferentialConstraint")
            if constraint is not None:
                principal, dependent = _names(constraint, "Principal"), _names(constraint, "Dependent")
                from_principal = constraint.find(EDM + "Principal").get("Role") == nav.get("FromRole")
                pairs = tuple(zip(principal, dependent) if from_principal else zip(dependent, principal))
            navs[nav.get("Name")] = Nav(
                nav.get("Name"),
                ends[nav.get("ToRole")].get("Multiplicity") == "*",
                assoc_sets.get((nav.get("Relationship"), nav.get("ToRole"))),
                pairs,
            )
        props = {p.get("Name"): _edmx_prop(p) for p in el.findall(EDM + "Property")}
        sets[set_name] = EntityType(type_name, _names(el, "Key"), props, navs)
    functions = {
        f.get("Name"): Function(
            f.get("Name"),
            f.get(META + "HttpMethod") or "GET",
            {p.get("Name"): _edmx_prop(p, nullable_default=False) for p in f.findall(EDM + "Parameter")},
            f.get("ReturnType"),
            complex_types.get(f.get("ReturnType"), {}),
        )
        for f in imports
    }
    return Model(sets, functions)


def without_property(data, entity_type, prop):
    """The metadata document with one property of one entity type cut out, all other bytes kept."""
    text = data.decode("utf-8")
    start = text.index(f'<EntityType Name="{entity_type}"')
    end = text.index("</EntityType>", start)
    element = re.compile(r'\n[ \t]*<Property Name="%s"(?:[^>]*/>|.*?</Property>)' % re.escape(prop), re.S)
    found = element.search(text, start, end)
    return (text[: found.start()] + text[found.end() :]).encode("utf-8")


def _openapi_prop(name, schema, create, update, sortable):
    """A Prop from an OpenAPI export's property schema.

    The export writes every Edm type as a JSON type plus hints: format "decimal" with multipleOf
    for Edm.Decimal, a `/Date(…)/` example for dates (SAP's Edm.DateTimeOffset properties are its
    time stamps, so a "Time Stamp" title or description tells them from Edm.DateTime) and a
    `PT…` example for Edm.Time.
    """
    example = str(schema.get("example", ""))
    words = f"{schema.get('title', '')} {schema.get('description', '')}"
    scale = 0
    if schema.get("type") == "boolean":
        edm = "Edm.Boolean"
    elif schema.get("type") == "integer":
        edm = "Edm.Int32"
    elif schema.get("format") == "decimal":
        edm = "Edm.Decimal"
        scale = max(0, -Decimal(str(schema.get("multipleOf", 1))).as_tuple().exponent)
    elif schema.get("format") == "int64":
        edm = "Edm.Int64"
    elif example.startswith("/Date("):
        edm = "Edm.DateTimeOffset" if "Time Stamp" in words else "Edm.DateTime"
    elif example.startswith("PT"):
        edm = "Edm.Time"
    else:
        edm = "Edm.String"
    return Prop(
        name=name,
        type=edm,
        nullable=schema.get("nullable", False),
        max_length=schema.get("maxLength"),
        scale=scale,
        creatable=name in create,
        updatable=name in update,
        sortable=name in sortable,
    )


def parse_openapi(doc):
    """The Model of an OpenAPI export of a V2 service (entity sets only)."""
    schemas = doc["components"]["schemas"]
    found = {}  # set name -> (type name, keys)
    for path, item in doc["paths"].items():
        match = re.fullmatch(r"/(\w+)\(([^/]+)\)", path)
        if match and "get" in item:
            ref = item["get"]["responses"]["200"]["content"]["application/json"]["schema"]["properties"]["d"]["$ref"]
            keys = re.findall(r"(\w+)=\w*'\{", match[2]) or re.findall(r"\{(\w+)\}", match[2])
            found[match[1]] = (ref.rsplit("/", 1)[1], keys)
    set_of_type = {type_name: set_name for set_name, (type_name, _) in found.items()}
    sets = {}
    for set_name, (type_name, keys) in found.items():
        listing = doc["paths"].get(f"/{set_name}", {}).get("get", {})
        orderby = [p for p in listing.get("parameters", []) if p.get("name") == "$orderby"]
        sortable = set(orderby[0]["schema"]["items"]["enum"]) if orderby else set()
        create = schemas.get(f"{type_name}-create", {}).get("properties", {})
        update = schemas.get(f"{type_name}-update", {}).get("properties", {})
        props, navs = {}, {}
        for name, schema in schemas[type_name]["properties"].items():
            many = schema.get("properties", {}).get("results", {}).get("items", {}).get("$ref")
            single = schema.get("$ref")
            if many or single:
                navs[name] = Nav(name, bool(many), set_of_type.get((many or single).rsplit("/", 1)[1]))
            else:
                props[name] = _openapi_prop(name, schema, create, update, sortable)
        sets[set_name] = EntityType(type_name, keys, props, navs)
    return Model(sets)


def _ms(value):
    """Milliseconds since the epoch of an aware datetime."""
    return (value - EPOCH) // timedelta(milliseconds=1)


def decimals(et, prop, record):
    """How many decimal places SAP shows for a decimal, given its currency or unit."""
    unit = et.props.get(prop.unit) if prop.unit else None
    if unit is None:
        return prop.scale
    code = record.get(unit.name) or ""
    if unit.semantics == "currency-code":
        return CURRENCY_DECIMALS.get(code, 2)
    return UNIT_DECIMALS.get(code, prop.scale)


def to_json(et, prop, record):
    """A record's value of prop as SAP sends it in JSON."""
    value = record.get(prop.name, et.default(prop.name))
    if value is None:
        return None
    if prop.type == "Edm.DateTime":
        return f"/Date({_ms(value)})/"
    if prop.type == "Edm.DateTimeOffset":
        return f"/Date({_ms(value)}+0000)/"
    if prop.type == "Edm.Time":
        seconds = int(value.total_seconds())
        return f"PT{seconds // 3600:02d}H{seconds // 60 % 60:02d}M{seconds % 60:02d}S"
    if prop.type == "Edm.Decimal":
        return str(value.quantize(Decimal(1).scaleb(-decimals(et, prop, record))))
    if prop.type == "Edm.Int64":
        return str(value)
    return value


def _iso(text, offset):
    """An aware UTC datetime from ISO text; offset says whether a zone must (True) or must not be given."""
    match = ISO.fullmatch(text)
    if not match or (match[8] is not None) != offset:
        raise ValueError(f"'{text}' is not a valid {'datetimeoffset' if offset else 'datetime'} value")
    year, month, day, hour, minute = (int(part) for part in match.groups()[:5])
    micro = int((match[7] or "0")[:6].ljust(6, "0"))
    value = datetime(year, month, day, hour, minute, int(match[6] or 0), micro, tzinfo=timezone.utc)
    zone = match[8] or "Z"
    if zone != "Z":
        value -= (1 if zone[0] == "+" else -1) * timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6]))
    return value


def _wire_date(text):
    """An aware datetime from `/Date(ms)/` or `/Date(ms+mmmm)/` (offset in minutes), or None."""
    match = WIRE_DATE.fullmatch(text)
    if not match:
        return None
    value = EPOCH + timedelta(milliseconds=int(match[1]))
    if match[2]:
        value -= (1 if match[2] == "+" else -1) * timedelta(minutes=int(match[3]))
    return value


def _time(text):
    """A timedelta from `PT14H30M00S`."""
    match = WIRE_TIME.fullmatch(text)
    if not match or text == "PT":
        raise ValueError(f"'{text}' is not a valid Edm.Time value")
    hours, minutes, seconds = (int(part or 0) for part in match.groups())
    return timedelta(hours=hours, minutes=minutes, seconds=seconds)


def from_json(prop, value):
    """The Python value of a JSON request value for prop; ValueError says what is wrong with it."""
    if value is None:
        if not prop.nullable:
            raise ValueError(f"Property '{prop.name}' must not be null")
        return None
    expected = {"Edm.Boolean": bool, "Edm.Double": (int, float), "Edm.Single": (int, float)}.get(prop.type, str)
    if prop.type in INTEGERS:
        expected = int
    if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
        raise ValueError(f"Property '{prop.name}' ({prop.type}) has a value of the wrong JSON type")
    try:
        if prop.type == "Edm.String":
            if prop.max_length is not None and len(value) > prop.max_length:
                raise ValueError(f"Property '{prop.name}' is longer than {prop.max_length} characters")
            return value
        if prop.type == "Edm.Decimal":
            number = Decimal(value)
            if not number.is_finite():
                raise InvalidOperation
            return number
        if prop.type == "Edm.Int64":
            return int(value)
        if prop.type in ("Edm.DateTime", "Edm.DateTimeOffset"):
            return _wire_date(value) or _iso(value, offset=prop.type == "Edm.DateTimeOffset")
        if prop.type == "Edm.Time":
            return _time(value)
    except (ValueError, InvalidOperation):
        raise ValueError(f"Property '{prop.name}' has an invalid {prop.type} value '{value}'") from None
    return value


def literal(prop, value):
    """The URI literal of a value, as in a key predicate (percent-encoded like SAP's own links)."""
    if prop.type == "Edm.String":
        text = "'" + value.replace("'", "''") + "'"
    elif prop.type == "Edm.DateTime":
        text = f"datetime'{value:%Y-%m-%dT%H:%M:%S}'"
    elif prop.type == "Edm.DateTimeOffset":
        text = f"datetimeoffset'{value:%Y-%m-%dT%H:%M:%S}Z'"
    elif prop.type == "Edm.Boolean":
        text = "true" if value else "false"
    else:
        text = str(value)
    return quote(text, safe="'")


def key_predicate(et, record):
    """`('4500000001')` or `(PurchaseOrder='4500000001',PurchaseOrderItem='10')`."""
    if len(et.keys) == 1:
        return f"({literal(et.props[et.keys[0]], record[et.keys[0]])})"
    return "(" + ",".join(f"{k}={literal(et.props[k], record[k])}" for k in et.keys) + ")"


def _tokens(text):
    """The tokens of a URI expression: ("lit", (kind, value)), ("name", text) or ("punct", char)."""
    tokens, pos = [], 0
    text = text.rstrip()
    while pos < len(text):
        match = TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise QueryError(f"Invalid expression at position {pos}: '{text[pos:pos + 20]}'")
        pos = match.end()
        kind = match.lastgroup
        token = match[kind]
        if kind == "name" and token in ("true", "false", "null"):
            tokens.append(("lit", ("Edm.Boolean", token == "true") if token != "null" else ("null", None)))
        elif kind in ("typed", "string", "number"):
            tokens.append(("lit", _literal_value(kind, token)))
        else:
            tokens.append((kind, token))
    return tokens


def _literal_value(kind, token):
    """(literal kind, Python value) of one literal token."""
    try:
        if kind == "string":
            return "Edm.String", token[1:-1].replace("''", "'")
        if kind == "typed":
            prefix, body = token[:-1].split("'", 1)
            if prefix == "time":
                return "Edm.Time", _time(body)
            return (
                ("Edm.DateTimeOffset", _iso(body, True))
                if prefix == "datetimeoffset"
                else ("Edm.DateTime", _iso(body, False))
            )
        suffix = token[-1] if token[-1].isalpha() else ""
        digits = token[:-1] if suffix else token
        if suffix.lower() == "l":
            return "Edm.Int64", int(digits)
        if suffix.lower() in ("d", "f"):
            return "Edm.Double", float(digits)
        if suffix or "." in digits or "e" in digits.lower():
            return "Edm.Decimal", Decimal(digits)
        return "integer", int(digits)
    except (ValueError, InvalidOperation) as error:
        raise QueryError(str(error)) from None


def _coerce(prop, kind, value):
    """The literal's value as prop's Python type, or None when the literal does not fit prop."""
    if kind == "null":
        return value
    if kind == prop.type:
        return value
    if prop.type in NUMBERS and kind == "integer":
        return Decimal(value) if prop.type == "Edm.Decimal" else value
    if prop.type in ("Edm.Decimal", "Edm.Double", "Edm.Single") and kind in ("Edm.Int64", "Edm.Decimal", "Edm.Double"):
        return Decimal(value) if prop.type == "Edm.Decimal" else float(value)
    raise QueryError(f"Invalid parametertype used for '{prop.name}' ({prop.type}): literal of type {kind}")


def parse_literal(text, prop):
    """The Python value of one URI literal (a function import parameter) for prop."""
    tokens = _tokens(text)
    if len(tokens) != 1 or tokens[0][0] != "lit":
        raise QueryError(f"Invalid literal '{text}' for '{prop.name}'")
    return _coerce(prop, *tokens[0][1])


def parse_key(text, et):
    """The key values (by property name) of a key predicate's inside: `'450…'` or `A='…',B=datetime'…'`."""
    tokens = _tokens(text)
    pairs = {}
    if len(tokens) == 1 and tokens[0][0] == "lit" and len(et.keys) == 1:
        pairs[et.keys[0]] = tokens[0][1]
    else:
        for i in range(0, len(tokens), 4):
            part = tokens[i : i + 4]
            if len(part) < 3 or part[0][0] != "name" or part[1] != ("punct", "=") or part[2][0] != "lit":
                raise QueryError(f"Invalid key predicate '({text})'")
            if len(part) == 4 and part[3] != ("punct", ","):
                raise QueryError(f"Invalid key predicate '({text})'")
            pairs[part[0][1]] = part[2][1]
    if set(pairs) != set(et.keys):
        raise QueryError(f"Invalid key predicate '({text})': the key of {et.qualified} is {', '.join(et.keys)}")
    return {name: _coerce(et.props[name], *pairs[name]) for name in et.keys}


class _FilterParser:
    """Recursive descent over $filter tokens into a predicate on records."""

    def __init__(self, text, et):
        self.tokens, self.pos, self.et = _tokens(text), 0, et

    def peek(self):
        """The next token, or None at the end."""
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self):
        """Consume and answer the next token."""
        token = self.peek()
        if token is None:
            raise QueryError("Invalid filter expression: unexpected end")
        self.pos += 1
        return token

    def expression(self):
        """or-joined and-terms."""
        left = self.conjunction()
        while self.peek() == ("name", "or"):
            self.take()
            right = self.conjunction()
            left = (lambda a, b: lambda r: a(r) or b(r))(left, right)
        return left

    def conjunction(self):
        """and-joined unary terms."""
        left = self.unary()
        while self.peek() == ("name", "and"):
            self.take()
            right = self.unary()
            left = (lambda a, b: lambda r: a(r) and b(r))(left, right)
        return left

    def unary(self):
        """not, a parenthesised expression, or a comparison."""
        if self.peek() == ("name", "not"):
            self.take()
            inner = self.unary()
            return lambda r: not inner(r)
        if self.peek() == ("punct", "("):
            self.take()
            inner = self.expression()
            if self.take() != ("punct", ")"):
                raise QueryError("Invalid filter expression: ')' expected")
            return inner
        return self.comparison()

    def operand(self):
        """("prop", Prop) or ("lit", (kind, value))."""
        kind, value = self.take()
        if kind == "lit":
            return kind, value
        if kind != "name":
            raise QueryError(f"Invalid filter expression: unexpected '{value}'")
        if self.peek() in (("punct", "("), ("punct", "/")):
            raise QueryError(f"Invalid filter expression: '{value}{self.peek()[1]}…' is not supported here")
        prop = self.et.props.get(value)
        if prop is None:
            raise QueryError(f"Property '{value}' is invalid")
        if not prop.filterable:
            raise QueryError(f"Property '{value}' is not filterable")
        return "prop", prop

    def comparison(self):
        """operand op operand, type-checked against the description."""
        left = self.operand()
        kind, op = self.take()
        if kind != "name" or op not in COMPARISONS:
            raise QueryError(f"Invalid filter expression: comparison operator expected, found '{op}'")
        right = self.operand()
        if left[0] == "lit" and right[0] == "lit":
            raise QueryError("Invalid filter expression: a comparison needs a property")
        if left[0] == "prop" and right[0] == "prop" and left[1].type != right[1].type:
            raise QueryError(f"Invalid parametertype used at function '{op}'")
        if op not in ("eq", "ne") and any(side == "lit" and value[0] == "null" for side, value in (left, right)):
            raise QueryError(f"Invalid filter expression: null cannot be compared with '{op}'")
        getters = []
        for side, other in ((left, right), (right, left)):
            if side[0] == "prop":
                getters.append(
                    (lambda name, default: lambda r: r.get(name, default))(side[1].name, self.et.default(side[1].name))
                )
            else:
                value = _coerce(other[1], *side[1])
                getters.append(lambda r, value=value: value)
        compare = COMPARISONS[op]
        return lambda r: compare(getters[0](r), getters[1](r))


def parse_filter(text, et):
    """A predicate on records from a $filter value."""
    parser = _FilterParser(text, et)
    predicate = parser.expression()
    if parser.peek() is not None:
        raise QueryError(f"Invalid filter expression: unexpected '{parser.peek()[1]}'")
    return predicate


def parse_orderby(text, et):
    """[(property name, descending)] from an $orderby value."""
    order = []
    for part in text.split(","):
        words = part.split()
        if not words or len(words) > 2 or (len(words) == 2 and words[1] not in ("asc", "desc")):
            raise QueryError(f"Invalid $orderby expression '{text}'")
        prop = et.props.get(words[0])
        if prop is None:
            raise QueryError(f"Property '{words[0]}' is invalid")
        if not prop.sortable:
            raise QueryError(f"Property '{words[0]}' is not sortable")
        order.append((prop.name, words[-1] == "desc"))
    return order


def sort_value(value):
    """A sort key that orders initial values first and digit strings (SAP's NUMC) by number."""
    if value is None or value == "":
        return (0, 0, 0)
    if isinstance(value, str) and value.isdigit():
        return (1, 0, int(value))
    return (1, 1, value)


def parse_expand(text, model, et):
    """{navigation property: nested expansion} from an $expand value."""
    tree = {}
    for path in filter(None, (part.strip() for part in text.split(","))):
        node, here = tree, et
        for name in path.split("/"):
            nav = here.navs.get(name)
            if nav is None:
                raise QueryError(f"Property '{name}' is invalid: not a navigation property of {here.qualified}")
            node = node.setdefault(name, {})
            here = model.sets.get(nav.target) or EntityType("", [], {})
    return tree


def parse_select(text, model, et, expand):
    """{name: nested selection or None} from a $select value; None selects everything."""
    if not text.strip():
        return None
    tree = {}
    for path in (part.strip() for part in text.split(",")):
        node, here, expanded = tree, et, expand
        names = path.split("/")
        for depth, name in enumerate(names):
            if depth == len(names) - 1:
                if name == "*":
                    node.update((n, None) for n in [*here.props, *here.navs])
                elif name in here.props or name in here.navs:
                    node[name] = None
                else:
                    raise QueryError(f"Property '{name}' is invalid")
            elif name not in here.navs:
                raise QueryError(f"Property '{name}' is invalid")
            elif name not in expanded:
                raise QueryError(f"$select path '{path}' needs '{name}' in $expand")
            elif name in node and node[name] is None:
                break  # already selected whole
            else:
                node = node.setdefault(name, {})
                here, expanded = model.sets.get(here.navs[name].target) or EntityType("", [], {}), expanded[name]
    return tree
