"""The functions' IAM policies, enforced on the local stack.

moto enforces no IAM, so a call a function's role may not make passes every local test and fails
on AWS. Here each function runs with credentials of its own (`access_key`), and the local AWS
endpoint (moto_server.py) asks `Checker.denial` of every call made with them: which actions on
which resources the call needs (`needs`), and whether the function's policy statements in
infra/template.yaml allow each one, resolved to the local stack's resource names. A call the
policy would deny is answered the way AWS answers it, AccessDeniedException, and recorded, so a
missing permission fails the test that walks its path, and scripts/test fails on any record.

Calls made with any other credentials (the provisioner, scripts/admin, the pump acting for the
event source mappings, the tests) are not checked: on AWS those are operators and the Lambda
service, not the functions' roles.
"""

import fnmatch
import json
import urllib.parse

import yaml

ACCOUNT_ID = "123456789012"
KEY_PREFIX = "lambda-"
# What AWS appends to a secret's name in its ARN; policies match it with a trailing *.
SECRET_SUFFIX = "-AbCdEf"


def access_key(function):
    """The access key id the local Lambda service gives a function's instances."""
    return KEY_PREFIX + function


def function_of(key):
    """The function an access key id belongs to, or None for anyone else's."""
    return key[len(KEY_PREFIX) :] if key and key.startswith(KEY_PREFIX) else None


class TemplateLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short-form intrinsics (!Ref, !GetAtt, !Sub) as their long form."""


def _intrinsic(name):
    def construct(loader, node):
        if isinstance(node, yaml.ScalarNode):
            value = loader.construct_scalar(node)
            if name == "Fn::GetAtt":
                value = value.split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        return {name: value}

    return construct


TemplateLoader.add_constructor("!Ref", _intrinsic("Ref"))
TemplateLoader.add_constructor("!Condition", _intrinsic("Condition"))
# !GetAtt, !Sub, !Equals, !Not, ...: Fn::<name>.
TemplateLoader.add_multi_constructor("!", lambda loader, suffix, node: _intrinsic("Fn::" + suffix)(loader, node))


class TemplateError(Exception):
    """The template holds a policy or reference this checker cannot evaluate (so it refuses
    rather than guessing)."""


class Stack:
    """Resolves the template's references to the local stack's names and ARNs (the names the
    provisioner gives: `{stack}-{LogicalId}`)."""

    def __init__(self, template, stack, region):
        self.resources = template.get("Resources", {})
        self.stack = stack
        self.region = region

    def name(self, logical_id):
        return f"{self.stack}-{logical_id}"

    def ref(self, logical_id):
        pseudo = {
            "AWS::Partition": "aws",
            "AWS::Region": self.region,
            "AWS::AccountId": ACCOUNT_ID,
            "AWS::StackName": self.stack,
            "AWS::URLSuffix": "amazonaws.com",
        }
        if logical_id in pseudo:
            return pseudo[logical_id]
        if logical_id not in self.resources:
            raise TemplateError(f"!Ref {logical_id}: no such resource")
        return self.name(logical_id)

    def get_att(self, logical_id, attribute):
        kind = self.resources.get(logical_id, {}).get("Type")
        name = self.name(logical_id)
        arns = {
            ("AWS::DynamoDB::Table", "Arn"): f"arn:aws:dynamodb:{self.region}:{ACCOUNT_ID}:table/{name}",
            ("AWS::DynamoDB::Table", "StreamArn"): f"arn:aws:dynamodb:{self.region}:{ACCOUNT_ID}:table/{name}/stream/*",
            ("AWS::SQS::Queue", "Arn"): f"arn:aws:sqs:{self.region}:{ACCOUNT_ID}:{name}",
            ("AWS::IAM::Role", "Arn"): f"arn:aws:iam::{ACCOUNT_ID}:role/{name}",
        }
        if (kind, attribute) not in arns:
            raise TemplateError(f"!GetAtt {logical_id}.{attribute}: not known to the checker")
        return arns[(kind, attribute)]

    def resolve(self, value):
        """A string, or an intrinsic resolved to one."""
        if isinstance(value, str):
            return value
        if isinstance(value, dict) and len(value) == 1:
            (name, argument), = value.items()
            if name == "Ref":
                return self.ref(argument)
            if name == "Fn::GetAtt":
                return self.get_att(*argument)
            if name == "Fn::Sub" and isinstance(argument, str):
                return self._sub(argument)
        raise TemplateError(f"cannot resolve {value!r}")

    def _sub(self, text):
        out, rest = [], text
        while "${" in rest:
            before, _, rest = rest.partition("${")
            reference, _, rest = rest.partition("}")
            out.append(before)
            if "." in reference:
                out.append(self.get_att(*reference.split(".", 1)))
            else:
                out.append(self.ref(reference))
        return "".join(out) + rest


def _listed(value):
    return value if isinstance(value, list) else [value]


def policies(template, stack, region):
    """Each function's statements (by its binary name), as [(effect, actions, resources)]."""
    resolver = Stack(template, stack, region)
    out = {}
    for logical_id, resource in resolver.resources.items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        binary = resource["Metadata"]["BuildProperties"]["Binary"]
        statements = []
        for policy in resource.get("Properties", {}).get("Policies", []):
            if not (isinstance(policy, dict) and set(policy) == {"Statement"}):
                raise TemplateError(f"{logical_id}: policy {policy!r} is not an inline statement list")
            for statement in policy["Statement"]:
                if "Condition" in statement or "NotAction" in statement or "NotResource" in statement:
                    raise TemplateError(f"{logical_id}: a statement the checker cannot evaluate: {statement!r}")
                statements.append(
                    (
                        statement["Effect"],
                        _listed(statement["Action"]),
                        [resolver.resolve(r) for r in _listed(statement["Resource"])],
                    )
                )
        out[binary] = statements
    return out


def load(path, stack, region):
    with open(path, encoding="utf-8") as text:
        return policies(yaml.load(text, Loader=TemplateLoader), stack, region)  # noqa: S506 - SafeLoader


def allowed(statements, action, resource):
    """IAM's evaluation for one action on one resource: an explicit deny wins, then any allow."""

    def matches(statement):
        _, actions, resources = statement
        return any(fnmatch.fnmatchcase(action.lower(), a.lower()) for a in actions) and any(
            fnmatch.fnmatchcase(resource, r) for r in resources
        )

    if any(s[0] == "Deny" and matches(s) for s in statements):
        return False
    return any(s[0] == "Allow" and matches(s) for s in statements)


# What a call needs

DYNAMODB_TRANSACT_ITEMS = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem", "ConditionCheck": "ConditionCheckItem"}


def _table(region, name):
    return f"arn:aws:dynamodb:{region}:{ACCOUNT_ID}:table/{name}"


def _dynamodb(operation, body, region):
    if operation == "TransactWriteItems":
        needs = []
        for item in body.get("TransactItems", []):
            for kind, part in item.items():
                needs.append((f"dynamodb:{DYNAMODB_TRANSACT_ITEMS[kind]}", _table(region, part["TableName"])))
        return needs
    if operation == "TransactGetItems":
        return [("dynamodb:GetItem", _table(region, i["Get"]["TableName"])) for i in body.get("TransactItems", [])]
    if operation in ("BatchGetItem", "BatchWriteItem"):
        return [(f"dynamodb:{operation}", _table(region, t)) for t in body.get("RequestItems", {})]
    if "TableName" not in body:
        return None
    resource = _table(region, body["TableName"])
    if body.get("IndexName"):
        resource += "/index/" + body["IndexName"]
    return [(f"dynamodb:{operation}", resource)]


def _secret(region, id_or_name):
    if id_or_name.startswith("arn:"):
        return id_or_name
    return f"arn:aws:secretsmanager:{region}:{ACCOUNT_ID}:secret:{id_or_name}{SECRET_SUFFIX}"


# SQS's batch actions are authorised as their single counterparts; IAM has no action of their own.
SQS_BATCH_ACTIONS = {
    "SendMessageBatch": "SendMessage",
    "DeleteMessageBatch": "DeleteMessage",
    "ChangeMessageVisibilityBatch": "ChangeMessageVisibility",
}


def _sqs_queue(region, url_or_name):
    return f"arn:aws:sqs:{region}:{ACCOUNT_ID}:{url_or_name.rstrip('/').rsplit('/', 1)[-1]}"


SCHEDULER_METHODS = {"POST": "CreateSchedule", "PUT": "UpdateSchedule", "DELETE": "DeleteSchedule", "GET": "GetSchedule"}


def _scheduler(method, path, query, body, region):
    parts = path.strip("/").split("/")
    if len(parts) != 2 or parts[0] != "schedules" or method not in SCHEDULER_METHODS:
        return None
    group = urllib.parse.parse_qs(query).get("groupName", [body.get("GroupName", "default")])[0]
    name = urllib.parse.unquote(parts[1])
    action = SCHEDULER_METHODS[method]
    needs = [(f"scheduler:{action}", f"arn:aws:scheduler:{region}:{ACCOUNT_ID}:schedule/{group}/{name}")]
    role = body.get("Target", {}).get("RoleArn")
    if role:
        needs.append(("iam:PassRole", role))
    return needs


def needs(service, region, method, path, query, headers, body):
    """The (action, resource ARN) pairs a call needs allowed, or None for a call this checker
    does not know (which then counts as denied: teach it the call rather than let it pass)."""
    target = headers.get("x-amz-target", "")
    operation = target.rsplit(".", 1)[-1]
    try:
        document = json.loads(body or b"{}")
    except ValueError:
        document = {}
    if not isinstance(document, dict):
        return None
    if service == "dynamodb" and target.startswith("DynamoDB_"):
        return _dynamodb(operation, document, region)
    if service == "secretsmanager" and target.startswith("secretsmanager."):
        secret = document.get("SecretId") or document.get("Name")
        return [(f"secretsmanager:{operation}", _secret(region, secret))] if secret else None
    if service == "sqs" and target.startswith("AmazonSQS."):
        queue = document.get("QueueUrl") or document.get("QueueName")
        action = SQS_BATCH_ACTIONS.get(operation, operation)
        return [(f"sqs:{action}", _sqs_queue(region, queue))] if queue else None
    if service == "scheduler":
        return _scheduler(method, path, query, document, region)
    return None


def credential(authorization):
    """(access key id, region, service) of a SigV4 Authorization header, or Nones."""
    for part in (authorization or "").replace(",", " ").split():
        if part.startswith("Credential="):
            scope = part[len("Credential=") :].split("/")
            if len(scope) >= 4:
                return scope[0], scope[2], scope[3]
    return None, None, None


class Checker:
    """Every function's policy, and the calls they made that it would deny."""

    def __init__(self, statements):
        self.statements = statements

    def denial(self, method, path, query, headers, body):
        """Why the call is denied (a message naming the function, action and resource), or None
        when it is allowed or not a function's call."""
        key, region, service = credential(headers.get("authorization"))
        function = function_of(key)
        if function is None:
            return None
        if function not in self.statements:
            return f"{function}: no such function in the template"
        wanted = needs(service, region, method, path, query, headers, body)
        if wanted is None:
            return f"{function}: a {service} call the IAM check does not know ({method} {path} {headers.get('x-amz-target', '')})"
        for action, resource in wanted:
            if not allowed(self.statements[function], action, resource):
                return f"{function} is not authorized to perform: {action} on resource: {resource}"
        return None
