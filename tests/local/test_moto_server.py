"""Tests of the local AWS endpoint's DynamoDB transactions (infra/local/moto_server.py): a
transaction that fails changes nothing, in the tables or their streams, and one that succeeds
changes all it names — with the rollback keeping only what a transaction touches rather than
copies of whole tables.

    python3 -m pytest tests/local/test_moto_server.py
"""

import boto3
import botocore.exceptions
import pytest

import moto_process

REGION = "us-east-1"
CREDENTIALS = {"region_name": REGION, "aws_access_key_id": "local", "aws_secret_access_key": "local"}


@pytest.fixture(scope="module")
def endpoint():
    server, endpoint = moto_process.launch()
    yield endpoint
    moto_process.stop(server)


def make_table(dynamo, name, *keys):
    """A table keyed by `keys` (hash, then range), with a stream of new and old images."""
    dynamo.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": k, "KeyType": t} for k, t in zip(keys, ["HASH", "RANGE"])],
        AttributeDefinitions=[{"AttributeName": k, "AttributeType": "S"} for k in keys],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )


def stream_events(endpoint, dynamo, table):
    """The event names of the table's stream, from its start."""
    streams = boto3.client("dynamodbstreams", endpoint_url=endpoint, **CREDENTIALS)
    arn = dynamo.describe_table(TableName=table)["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    return [r["eventName"] for r in streams.get_records(ShardIterator=iterator)["Records"]]


def test_a_failed_transaction_leaves_items_and_streams_as_they_were_and_a_good_one_applies(endpoint):
    dynamo = boto3.client("dynamodb", endpoint_url=endpoint, **CREDENTIALS)
    make_table(dynamo, "pairs", "pk", "sk")
    make_table(dynamo, "singles", "id")
    dynamo.put_item(TableName="pairs", Item={"pk": {"S": "a"}, "sk": {"S": "1"}, "n": {"N": "1"}})
    dynamo.put_item(TableName="singles", Item={"id": {"S": "x"}, "n": {"N": "1"}})
    changes = [
        {"Update": {"TableName": "pairs", "Key": {"pk": {"S": "a"}, "sk": {"S": "1"}},
                    "UpdateExpression": "SET n = :two", "ExpressionAttributeValues": {":two": {"N": "2"}}}},
        {"Put": {"TableName": "pairs", "Item": {"pk": {"S": "a"}, "sk": {"S": "2"}, "n": {"N": "1"}}}},
        {"Delete": {"TableName": "singles", "Key": {"id": {"S": "x"}}}},
        {"Put": {"TableName": "singles", "Item": {"id": {"S": "y"}}}},
    ]
    # The last operation's condition fails after the others were applied in moto's turn.
    failing = {"ConditionCheck": {"TableName": "singles", "Key": {"id": {"S": "nobody"}},
                                  "ConditionExpression": "attribute_exists(id)"}}

    with pytest.raises(botocore.exceptions.ClientError) as cancelled:
        dynamo.transact_write_items(TransactItems=[*changes, failing])
    assert cancelled.value.response["Error"]["Code"] == "TransactionCanceledException"
    pairs = dynamo.query(TableName="pairs", KeyConditionExpression="pk = :a",
                         ExpressionAttributeValues={":a": {"S": "a"}})["Items"]
    assert [(i["sk"]["S"], i["n"]["N"]) for i in pairs] == [("1", "1")]
    singles = dynamo.scan(TableName="singles")["Items"]
    assert [(i["id"]["S"], i["n"]["N"]) for i in singles] == [("x", "1")]
    assert stream_events(endpoint, dynamo, "pairs") == ["INSERT"]
    assert stream_events(endpoint, dynamo, "singles") == ["INSERT"]

    dynamo.transact_write_items(TransactItems=changes)
    pairs = dynamo.query(TableName="pairs", KeyConditionExpression="pk = :a",
                         ExpressionAttributeValues={":a": {"S": "a"}})["Items"]
    assert [(i["sk"]["S"], i["n"]["N"]) for i in pairs] == [("1", "2"), ("2", "1")]
    assert [i["id"]["S"] for i in dynamo.scan(TableName="singles")["Items"]] == ["y"]
    assert stream_events(endpoint, dynamo, "pairs") == ["INSERT", "MODIFY", "INSERT"]
    assert stream_events(endpoint, dynamo, "singles") == ["INSERT", "REMOVE", "INSERT"]
