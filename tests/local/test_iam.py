"""Tests of the local stack's IAM check (infra/local/iam.py, moto_server.py --template).

The check is what stands between a permission missing from infra/template.yaml and a function
that fails only once deployed, so these tests show it refusing: a permission deliberately taken
out of the real template denies the call that needed it, a call the checker cannot read is
denied rather than waved through, and the local AWS endpoint answers a denied call with
AccessDeniedException, as AWS does, and records it.

    python3 -m pytest tests/local/test_iam.py
"""

import copy
import json
import sys
from pathlib import Path

import boto3
import botocore.exceptions
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "infra" / "local"))

import iam  # noqa: E402 - after the path it lives on
import moto_process  # noqa: E402 - beside this file, on pytest's path

TEMPLATE = REPO / "infra" / "template.yaml"
STACK = "mw"
REGION = "us-east-1"
TABLE = f"arn:aws:dynamodb:{REGION}:{iam.ACCOUNT_ID}:table/{STACK}-"
SECRET = f"arn:aws:secretsmanager:{REGION}:{iam.ACCOUNT_ID}:secret:{STACK}/"


def template():
    with open(TEMPLATE, encoding="utf-8") as text:
        return yaml.load(text, Loader=iam.TemplateLoader)  # noqa: S506 - a SafeLoader


def checker(document=None):
    return iam.Checker(iam.policies(document or template(), STACK, REGION))


def call(function, service, target, body, method="POST", path="/", query=""):
    """What the SDK sends, as the endpoint sees it: the SigV4 scope names the key and service."""
    key = iam.access_key(function) if function else "local"
    headers = {
        "authorization": f"AWS4-HMAC-SHA256 Credential={key}/20261202/{REGION}/{service}/aws4_request, "
        "SignedHeaders=host, Signature=0",
    }
    if target:
        headers["x-amz-target"] = target
    return method, path, query, headers, json.dumps(body).encode()


def without(document, function, action):
    """The template with `action` taken out of every statement of `function`'s policy."""
    document = copy.deepcopy(document)
    resource = next(r for r in document["Resources"].values() if r.get("Metadata", {}).get("BuildProperties", {}).get("Binary") == function)
    for policy in resource["Properties"]["Policies"]:
        for statement in policy["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            statement["Action"] = [a for a in actions if a != action] or ["none:Nothing"]
    return document


def test_a_permission_taken_out_of_the_template_denies_the_call_that_needs_it():
    read_secret = call("sync", "secretsmanager", "secretsmanager.GetSecretValue", {"SecretId": f"{STACK}/connections/c1"})
    assert checker().denial(*read_secret) is None
    denied = checker(without(template(), "sync", "secretsmanager:GetSecretValue")).denial(*read_secret)
    assert denied == f"sync is not authorized to perform: secretsmanager:GetSecretValue on resource: {SECRET}connections/c1{iam.SECRET_SUFFIX}"


def test_resources_are_held_to_their_arns_and_secret_prefixes():
    check = checker()
    # The delivery function reads webhook secrets, never a customer system's credentials.
    webhook = call("webhook-delivery", "secretsmanager", "secretsmanager.GetSecretValue", {"SecretId": f"{STACK}/webhooks/e1"})
    customer = call("webhook-delivery", "secretsmanager", "secretsmanager.GetSecretValue", {"SecretId": f"{STACK}/connections/c1"})
    assert check.denial(*webhook) is None
    assert "secretsmanager:GetSecretValue" in check.denial(*customer)
    # Another stack's secret of the same shape is not this stack's.
    other = call("sync", "secretsmanager", "secretsmanager.GetSecretValue", {"SecretId": "other/connections/c1"})
    assert check.denial(*other) is not None


def test_an_index_needs_its_own_arn():
    query = {"TableName": f"{STACK}-SyncRunsTable", "IndexName": "byAccount"}
    assert checker().denial(*call("sync-runs", "dynamodb", "DynamoDB_20120810.Query", query)) is None
    document = template()
    runs = document["Resources"]["SyncRunsFunction"]["Properties"]["Policies"][0]["Statement"]
    for statement in runs:
        if isinstance(statement["Resource"], list):
            statement["Resource"] = [r for r in statement["Resource"] if "Fn::Sub" not in r]
    denied = checker(document).denial(*call("sync-runs", "dynamodb", "DynamoDB_20120810.Query", query))
    assert denied.endswith(f"{TABLE}SyncRunsTable/index/byAccount")


def test_a_transaction_needs_each_of_its_items_allowed():
    transaction = {
        "TransactItems": [
            {"Update": {"TableName": f"{STACK}-ConnectionsTable"}},
            {"Put": {"TableName": f"{STACK}-EventsTable"}},
            {"ConditionCheck": {"TableName": f"{STACK}-TokensTable"}},
        ]
    }
    assert iam.needs("dynamodb", REGION, "POST", "/", "", {"x-amz-target": "DynamoDB_20120810.TransactWriteItems"}, json.dumps(transaction)) == [
        ("dynamodb:UpdateItem", f"{TABLE}ConnectionsTable"),
        ("dynamodb:PutItem", f"{TABLE}EventsTable"),
        ("dynamodb:ConditionCheckItem", f"{TABLE}TokensTable"),
    ]


def test_sqs_batches_need_what_their_single_actions_need():
    batch = {"QueueUrl": f"http://127.0.0.1:4566/{iam.ACCOUNT_ID}/{STACK}-SyncQueue", "Entries": []}
    assert checker().denial(*call("sync-runs", "sqs", "AmazonSQS.SendMessageBatch", batch)) is None
    denied = checker(without(template(), "sync-runs", "sqs:SendMessage")).denial(*call("sync-runs", "sqs", "AmazonSQS.SendMessageBatch", batch))
    assert denied.endswith(f"sqs:SendMessage on resource: arn:aws:sqs:{REGION}:{iam.ACCOUNT_ID}:{STACK}-SyncQueue")


def test_a_schedule_needs_the_role_it_passes():
    body = {"Target": {"RoleArn": f"arn:aws:iam::{iam.ACCOUNT_ID}:role/{STACK}-SchedulerRole"}}
    create = call("connect", "scheduler", None, body, path="/schedules/c1", query=f"groupName={STACK}-SyncSchedules")
    assert checker().denial(*create) is None
    assert "iam:PassRole" in checker(without(template(), "connect", "iam:PassRole")).denial(*create)


def test_a_call_the_checker_cannot_read_is_denied_and_others_credentials_are_not_checked():
    unknown = call("sync", "sts", None, {}, path="/", query="Action=GetCallerIdentity")
    assert "does not know" in checker().denial(*unknown)
    operator = call(None, "secretsmanager", "secretsmanager.GetSecretValue", {"SecretId": "anything"})
    assert checker().denial(*operator) is None


def test_the_checker_refuses_a_policy_it_cannot_evaluate():
    document = template()
    document["Resources"]["SyncFunction"]["Properties"]["Policies"].append("AmazonDynamoDBFullAccess")
    with pytest.raises(iam.TemplateError, match="AmazonDynamoDBFullAccess"):
        checker(document)


def test_the_local_endpoint_answers_a_denied_call_as_aws_does_and_records_it(tmp_path):
    document = without(template(), "sync", "secretsmanager:GetSecretValue")
    edited = tmp_path / "template.yaml"
    edited.write_text(yaml.safe_dump(json.loads(json.dumps(document))), encoding="utf-8")
    denials = tmp_path / "denials.log"
    server, endpoint = moto_process.launch("--template", str(edited), "--stack", STACK, "--denials", str(denials))
    try:
        def client(key):
            return boto3.client("secretsmanager", endpoint_url=endpoint, region_name=REGION, aws_access_key_id=key, aws_secret_access_key="x")

        client("local").create_secret(Name=f"{STACK}/connections/c1", SecretString="{}")
        with pytest.raises(botocore.exceptions.ClientError) as refused:
            client(iam.access_key("sync")).get_secret_value(SecretId=f"{STACK}/connections/c1")
        assert refused.value.response["Error"]["Code"] == "AccessDeniedException"
        # The connect function may delete a connection's secret: it reaches moto.
        client(iam.access_key("connect")).delete_secret(SecretId=f"{STACK}/connections/c1", ForceDeleteWithoutRecovery=True)
        recorded = [json.loads(line) for line in denials.read_text(encoding="utf-8").splitlines()]
        assert [r["denied"] for r in recorded] == [
            f"sync is not authorized to perform: secretsmanager:GetSecretValue on resource: {SECRET}connections/c1{iam.SECRET_SUFFIX}"
        ]
    finally:
        moto_process.stop(server)
