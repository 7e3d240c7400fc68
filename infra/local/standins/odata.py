"""OData V2 the way SAP Gateway speaks it, for the SAP stand-in (sap.py).

The stand-in serves what its own model says (sap_model.py, in the notation read_model reads):
properties, Edm types, keys, navigation and the sap: annotations that say what a client may
create, update, filter and sort. This module turns that notation into a small model, writes the
model out as the service's $metadata (metadata_document), converts values between Python and SAP's
JSON wire format (`/Date(ms)/`, `PT14H30M00S`, decimals as strings) and parses what a client puts
in a URL: key predicates, $filter, $orderby, $select and $expand. Whatever the model does not allow
raises QueryError.
"""

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from urllib.parse import quote
from xml.sax.saxutils import quoteattr

EDMX_NS = "http://schemas.microsoft.com/ado/2007/06/edmx"
EDM_NS = "http://schemas.microsoft.com/ado/2008/09/edm"
SAP_NS = "http://www.sap.com/Protocols/SAPData"
META_NS = "http://schemas.microsoft.com/ado/2007/08/dataservices/metadata"
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
INTEGERS = {"Edm.Byte", "Edm.SByte", "Edm.Int16", "Edm.Int32"}
NUMBERS = INTEGERS | {"Edm.Int64", "Edm.Decimal", "Edm.Double", "Edm.Single"}
# The Edm types a model may use (without "Edm."), as written there: String(10), Decimal(13,3), DateTime, …
EDM_TYPES = {"String", "Decimal", "DateTime", "DateTimeOffset", "Time", "Boolean", "Int64"}
MODEL_TYPE = re.compile(r"(\w+)(?:\((\d+)(?:,(\d+))?\))?")
NAME = re.compile(r"[A-Za-z_]\w*")
# A model's flags that set an sap: annotation to "false", and the Prop field each clears.
MODEL_FLAGS = {"-create": "creatable", "-update": "updatable", "-filter": "filterable", "-sort": "sortable"}
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
    """A request the model does not allow; the message says why."""


@dataclass
class Prop:
    """One property (or function parameter) with what the model says about it."""

    name: str
    type: str
    nullable: bool = True
    max_length: int | None = None
    precision: int | None = None
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
    target: str  # entity set
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
    action_for: str | None = None  # the entity type it acts on (sap:action-for)


@dataclass
class Model:
    """What one service serves: entity sets, function imports and complex types by name."""

    sets: dict
    functions: dict = field(default_factory=dict)
    namespace: str = ""
    complex_types: dict = field(default_factory=dict)  # name -> {property: Prop}


def _model_prop(words, where, function=False):
    """A Prop from one property (or parameter) line of a model: name, type, flags."""
    if len(words) < 2:
        raise ValueError(f"{where}: a property needs a name and a type")
    name, spelled, flags = words[0], words[1], words[2:]
    if not NAME.fullmatch(name):
        raise ValueError(f"{where}: '{name}' is not a name")
    match = MODEL_TYPE.fullmatch(spelled)
    if not match or match[1] not in EDM_TYPES:
        raise ValueError(f"{where}: unknown type '{spelled}'")
    edm, first, second = f"Edm.{match[1]}", match[2], match[3]
    if (first is not None) + (second is not None) != {"Edm.String": 1, "Edm.Decimal": 2}.get(edm, 0):
        raise ValueError(f"{where}: String takes (max length), Decimal (precision,scale), other types nothing")
    prop = Prop(name, edm, nullable=not function)
    if edm == "Edm.String":
        prop.max_length = int(first)
    if edm == "Edm.Decimal":
        prop.precision, prop.scale = int(first), int(second)
    for flag in flags:
        if function and flag == "null":
            prop.nullable = True
        elif function:
            raise ValueError(f"{where}: a parameter takes no flag but 'null', not '{flag}'")
        elif flag == "!null":
            prop.nullable = False
        elif flag in MODEL_FLAGS:
            setattr(prop, MODEL_FLAGS[flag], False)
        elif flag in ("currency-code", "unit-of-measure"):
            prop.semantics = flag
        elif flag.startswith("unit="):
            prop.unit = flag[len("unit=") :]
        else:
            raise ValueError(f"{where}: unknown flag '{flag}'")
    return prop


def read_model(text, namespace):
    """The Model of one service written in the stand-in's notation (see sap_model.py)."""
    sets, functions, complex_types, navs = {}, {}, {}, {}
    owner = None  # ("entity" | "complex" | "function", name): what the indented lines below belong to
    for number, line in enumerate(text.splitlines(), 1):
        words = line.split("#", 1)[0].split()
        where = f"line {number} of the {namespace} model"
        if not words:
            continue
        if not line[0].isspace():
            kind, rest = words[0], words[1:]
            if kind == "entity" and len(rest) == 4 and rest[2] == "key":
                sets[rest[0]], navs[rest[0]] = EntityType(f"{namespace}.{rest[1]}", rest[3].split(","), {}), []
            elif kind == "complex" and len(rest) == 1:
                complex_types[rest[0]] = {}
            elif kind == "function" and len(rest) == 4:
                name, method, returns, action_for = rest
                functions[name] = Function(name, method, {}, returns, {}, action_for)
            else:
                raise ValueError(f"{where}: expected entity, complex or function, not '{line.strip()}'")
            owner = (kind, rest[0])
        elif owner is None:
            raise ValueError(f"{where}: an indented line before any entity, complex or function")
        elif words[0] == "nav":
            if owner[0] != "entity" or len(words) != 5 or words[3] not in ("1", "*"):
                raise ValueError(f"{where}: expected 'nav <name> <entity set> <1|*> <here>=<there>,…' in an entity")
            pairs = tuple(tuple(pair.split("=", 1)) for pair in words[4].split(","))
            navs[owner[1]].append((where, Nav(words[1], words[3] == "*", words[2], pairs)))
        else:
            kind, name = owner
            if kind == "entity":
                members = sets[name].props
            elif kind == "complex":
                members = complex_types[name]
            else:
                members = functions[name].params
            prop = _model_prop(words, where, function=kind == "function")
            if prop.name in members:
                raise ValueError(f"{where}: '{prop.name}' is declared twice")
            members[prop.name] = prop
    for set_name, et in sets.items():
        for key in et.keys:
            if key not in et.props:
                raise ValueError(f"{set_name}: key '{key}' is not a declared property")
            et.props[key].nullable = False
        for prop in et.props.values():
            if prop.unit is not None and prop.unit not in et.props:
                raise ValueError(f"{set_name}.{prop.name}: unit '{prop.unit}' is not a declared property")
        for where, nav in navs[set_name]:
            target = sets.get(nav.target)
            if target is None or not all(
                len(pair) == 2 and pair[0] in et.props and pair[1] in target.props for pair in nav.pairs
            ):
                raise ValueError(f"{where}: '{nav.name}' needs a declared entity set and declared properties")
            et.navs[nav.name] = nav
    for function in functions.values():
        if function.returns not in complex_types:
            raise ValueError(f"function {function.name}: no complex type {function.returns}")
        function.result = complex_types[function.returns]
        function.returns = f"{namespace}.{function.returns}"
        function.action_for = f"{namespace}.{function.action_for}"
    return Model(sets, functions, namespace, complex_types)


def _attributes(pairs):
    """XML attributes from (name, value) pairs, leaving out None."""
    return "".join(f" {name}={quoteattr(str(value))}" for name, value in pairs if value is not None)


def _property_xml(prop, parameter=False):
    """The <Property> (or <Parameter>) element of prop."""
    facets = [
        ("Name", prop.name),
        ("Type", prop.type),
        ("Mode", "In" if parameter else None),
        ("Nullable", ("true" if parameter else None) if prop.nullable else "false"),
        ("MaxLength", prop.max_length),
        ("Precision", prop.precision),
        ("Scale", prop.scale if prop.type == "Edm.Decimal" else None),
    ]
    if not parameter:
        facets += [(f"sap:{flag}", "false") for flag in MODEL_FLAGS.values() if not getattr(prop, flag)]
        facets += [("sap:unit", prop.unit), ("sap:semantics", prop.semantics)]
    return f"<{'Parameter' if parameter else 'Property'}{_attributes(facets)}/>"


def metadata_document(model):
    """The $metadata (EDMX, OData V2 with SAP's annotations) that describes model."""
    ns = model.namespace
    short = {name: et.qualified.rsplit(".", 1)[1] for name, et in model.sets.items()}
    types, associations, container, association_sets = [], [], [], []
    for set_name, et in model.sets.items():
        types += [f'   <EntityType Name="{short[set_name]}" sap:content-version="1">', "    <Key>"]
        types += [f'     <PropertyRef Name="{key}"/>' for key in et.keys] + ["    </Key>"]
        types += [f"    {_property_xml(prop)}" for prop in et.props.values()]
        container.append(f'    <EntitySet Name="{set_name}" EntityType="{et.qualified}" sap:content-version="1"/>')
        for nav in et.navs.values():
            name = f"assoc_{short[set_name]}_{nav.name}"
            here, there = f"FromRole_{name}", f"ToRole_{name}"
            roles = f'FromRole="{here}" ToRole="{there}"'
            types.append(f'    <NavigationProperty Name="{nav.name}" Relationship="{ns}.{name}" {roles}/>')
            # The end with multiplicity 1 is the constraint's principal; pairs are (here, there).
            principal, dependent = ((here, 0), (there, 1)) if nav.many else ((there, 1), (here, 0))
            associations += [
                f'   <Association Name="{name}" sap:content-version="1">',
                f'    <End Type="{et.qualified}" Multiplicity="{"1" if nav.many else "*"}" Role="{here}"/>',
                f'    <End Type="{model.sets[nav.target].qualified}" Multiplicity="{"*" if nav.many else "1"}" '
                f'Role="{there}"/>',
                "    <ReferentialConstraint>",
                *(
                    f'     <{tag} Role="{role}">'
                    + "".join(f'<PropertyRef Name="{pair[side]}"/>' for pair in nav.pairs)
                    + f"</{tag}>"
                    for tag, (role, side) in (("Principal", principal), ("Dependent", dependent))
                ),
                "    </ReferentialConstraint>",
                "   </Association>",
            ]
            association_sets += [
                f'    <AssociationSet Name="{name}" Association="{ns}.{name}" sap:content-version="1">',
                f'     <End EntitySet="{set_name}" Role="{here}"/>',
                f'     <End EntitySet="{nav.target}" Role="{there}"/>',
                "    </AssociationSet>",
            ]
        types.append("   </EntityType>")
    for name, props in model.complex_types.items():
        types += [f'   <ComplexType Name="{name}">', *(f"    {_property_xml(p)}" for p in props.values())]
        types.append("   </ComplexType>")
    container += association_sets
    for f in model.functions.values():
        head = _attributes(
            [("Name", f.name), ("ReturnType", f.returns), ("m:HttpMethod", f.method), ("sap:action-for", f.action_for)]
        )
        container += [f"    <FunctionImport{head}>"]
        container += [f"     {_property_xml(p, parameter=True)}" for p in f.params.values()] + ["    </FunctionImport>"]
    document = [
        '<?xml version="1.0" encoding="utf-8"?>',
        f'<edmx:Edmx Version="1.0" xmlns:edmx="{EDMX_NS}" xmlns:m="{META_NS}" xmlns:sap="{SAP_NS}">',
        ' <edmx:DataServices m:DataServiceVersion="2.0">',
        f'  <Schema Namespace="{ns}" xml:lang="en" sap:schema-version="1" xmlns="{EDM_NS}">',
        *types,
        *associations,
        f'   <EntityContainer Name="{ns}_Entities" m:IsDefaultEntityContainer="true"'
        ' sap:supported-formats="atom json">',
        *container,
        "   </EntityContainer>",
        "  </Schema>",
        " </edmx:DataServices>",
        "</edmx:Edmx>",
    ]
    return ("\n".join(document) + "\n").encode("utf-8")


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
