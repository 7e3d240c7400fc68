"""The local stack's event plumbing: what Lambda's event-source mappings and EventBridge
Scheduler do.

moto keeps queues, table streams and schedules but never acts on them: it runs no event-source
mapping and never fires a schedule. This pump does it, the way AWS would, against the functions
served by the local Lambda service (gateway.py serves its Lambda Invoke API).

Each --source QUEUE_URL=FUNCTION is an SQS mapping: the queue is long-polled by --concurrency
pollers at once, as Lambda's pollers do, each batch of messages is handed to the function as the
Lambda SQS event, and the messages are deleted afterwards, except those the function lists in
its partial batch response. When the invocation fails nothing is deleted, so the messages come
back after the queue's visibility timeout, as they do on AWS.

Each --source STREAM_ARN=FUNCTION (a DynamoDB table's stream) is a stream mapping: records are
read in order from the start of each shard and handed over as the Lambda DynamoDB event; when
the partial batch response names a record (by sequence number), or the invocation fails, the
batch is retried from that record after a growing pause, and skipped after MAX_STREAM_RETRIES.

The schedules of --schedule-group with a rate() expression send their target's input to their
SQS queue once per interval, counted from their start date (or creation), as Scheduler does.
"""

import argparse
import base64
import datetime
import json
import os
import re
import signal
import threading
import time
import urllib.error
import urllib.request

import boto3

INVOKE_TIMEOUT = 960
MAX_STREAM_RETRIES = 10
STREAM_POLL_SECONDS = 0.5
SCHEDULE_POLL_SECONDS = 2
RATE = re.compile(r"rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)")
UNITS = {"minute": 60, "hour": 3600, "day": 86400}

stopping = threading.Event()
FAILED = object()  # an invocation that failed, as opposed to a function that returned null


def log(line):
    """One line to stdout, at once (the pump usually runs with its output piped)."""
    print(line, flush=True)


def client(service):
    """A boto3 client for the local AWS endpoint."""
    return boto3.client(
        service,
        endpoint_url=os.environ["AWS_ENDPOINT_URL"],
        region_name=os.environ["AWS_REGION"],
    )


# SQS event-source mapping


def lambda_attribute(value):
    """A message attribute as the Lambda SQS event spells it (binary values base64-encoded)."""
    b64 = lambda data: base64.b64encode(data).decode("ascii")
    attribute = {
        "stringListValues": list(value.get("StringListValues", [])),
        "binaryListValues": [b64(item) for item in value.get("BinaryListValues", [])],
        "dataType": value["DataType"],
    }
    if "StringValue" in value:
        attribute["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        attribute["binaryValue"] = b64(value["BinaryValue"])
    return attribute


def sqs_event(messages, queue_arn, region):
    """The event Lambda hands a function for a batch of received SQS messages."""
    records = []
    for message in messages:
        record = {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": {k: str(v) for k, v in message.get("Attributes", {}).items()},
            "messageAttributes": {
                name: lambda_attribute(value)
                for name, value in message.get("MessageAttributes", {}).items()
            },
            "md5OfBody": message["MD5OfBody"],
            "eventSource": "aws:sqs",
            "eventSourceARN": queue_arn,
            "awsRegion": region,
        }
        if "MD5OfMessageAttributes" in message:
            record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
        records.append(record)
    return {"Records": records}


def invoke(invoke_url, function, event):
    """Invokes a function through the Lambda Invoke API; its result, or FAILED."""
    request = urllib.request.Request(
        f"{invoke_url}/2015-03-31/functions/{function}/invocations",
        data=json.dumps(event).encode("utf-8"),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=INVOKE_TIMEOUT) as response:
            body = response.read()
    except urllib.error.HTTPError as error:
        log(f"{function}: invocation failed with HTTP {error.code}: {error.read()[:300]!r}")
        return FAILED
    except (urllib.error.URLError, OSError) as error:
        log(f"{function}: invocation failed: {error}")
        return FAILED
    try:
        result = json.loads(body)
    except ValueError:
        log(f"{function}: invocation answered something that is not JSON: {body[:300]!r}")
        return FAILED
    if isinstance(result, dict) and "errorType" in result:
        log(f"{function}: {result.get('errorType')}: {result.get('errorMessage')}")
        return FAILED
    return result


def failed_ids(result, message_ids):
    """The message ids a partial batch response reports as failed, or None if it is invalid.

    As with Lambda's ReportBatchItemFailures, a missing or empty list means all succeeded, and
    an identifier that is empty or names no message of the batch fails the whole batch.
    """
    if result is None:
        return set()
    if not isinstance(result, dict):
        return None
    failures = result.get("batchItemFailures") or []
    if not isinstance(failures, list):
        return None
    ids = set()
    for failure in failures:
        item = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if not isinstance(item, str) or item not in message_ids:
            return None
        ids.add(item)
    return ids


def delete_messages(sqs, queue_url, messages):
    """Deletes messages from the queue, ten at a time as SQS allows."""
    for start in range(0, len(messages), 10):
        entries = [
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
            for i, m in enumerate(messages[start : start + 10])
        ]
        response = sqs.delete_message_batch(QueueUrl=queue_url, Entries=entries)
        for failed in response.get("Failed", []):
            log(f"delete failed on {queue_url}: {failed.get('Code')}: {failed.get('Message')}")


def run_source(sqs, queue_url, function, args):
    """One event-source mapping: polls its queue and feeds its function until the pump stops."""
    region = os.environ["AWS_REGION"]
    queue_arn = None
    while not stopping.is_set():
        try:
            if queue_arn is None:
                attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
                queue_arn = attributes["Attributes"]["QueueArn"]
            received = sqs.receive_message(
                QueueUrl=queue_url,
                MaxNumberOfMessages=args.batch_size,
                WaitTimeSeconds=args.poll_seconds,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            )
            messages = received.get("Messages", [])
            if not messages:
                continue
            started = time.monotonic()
            result = invoke(args.invoke_url, function, sqs_event(messages, queue_arn, region))
            millis = round((time.monotonic() - started) * 1000)
            failed = None if result is FAILED else failed_ids(result, {m["MessageId"] for m in messages})
            if failed is None:
                if result is not FAILED:
                    log(f"{function}: invalid batch response, the whole batch fails: {result!r:.300}")
                log(f"{function}: {len(messages)} messages, {len(messages)} failed, {millis} ms")
                continue
            delete_messages(sqs, queue_url, [m for m in messages if m["MessageId"] not in failed])
            log(f"{function}: {len(messages)} messages, {len(failed)} failed, {millis} ms")
        except Exception as error:  # noqa: BLE001 - moto or the functions may still be starting
            log(f"{function}: {type(error).__name__}: {error}")
            stopping.wait(max(1, args.poll_seconds))


# DynamoDB stream event-source mapping


def stream_value(value):
    """An attribute value as Lambda's DynamoDB event spells it (binary values base64-encoded)."""
    b64 = lambda data: base64.b64encode(data).decode("ascii")
    (kind, inner), = value.items()
    if kind == "B":
        return {"B": b64(inner)}
    if kind == "BS":
        return {"BS": [b64(item) for item in inner]}
    if kind == "M":
        return {"M": {k: stream_value(v) for k, v in inner.items()}}
    if kind == "L":
        return {"L": [stream_value(v) for v in inner]}
    return {kind: inner}


def stream_record(record, stream_arn, region):
    """One stream record as Lambda's DynamoDB event carries it."""
    change = dict(record["dynamodb"])
    created = change.get("ApproximateCreationDateTime")
    if isinstance(created, datetime.datetime):
        change["ApproximateCreationDateTime"] = created.timestamp()
    for image in ("Keys", "NewImage", "OldImage"):
        if image in change:
            change[image] = {k: stream_value(v) for k, v in change[image].items()}
    return {
        "eventID": record["eventID"],
        "eventName": record["eventName"],
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": region,
        "dynamodb": change,
        "eventSourceARN": stream_arn,
    }


def first_failed(result, records):
    """Index of the record to retry from, len(records) when all succeeded, None when invalid."""
    if result is None:
        return len(records)
    if not isinstance(result, dict) or not isinstance(result.get("batchItemFailures") or [], list):
        return None
    positions = {r["dynamodb"]["SequenceNumber"]: i for i, r in enumerate(records)}
    failed = []
    for failure in result.get("batchItemFailures") or []:
        item = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if not isinstance(item, str) or item not in positions:
            return None
        failed.append(positions[item])
    return min(failed, default=len(records))


def deliver_stream_batch(function, records, stream_arn, args):
    """Invokes the function with a batch, retrying from the failed record as Lambda does."""
    region = os.environ["AWS_REGION"]
    retries = 0
    while records and not stopping.is_set():
        started = time.monotonic()
        result = invoke(args.invoke_url, function, {"Records": [stream_record(r, stream_arn, region) for r in records]})
        millis = round((time.monotonic() - started) * 1000)
        start = 0 if result is FAILED else first_failed(result, records)
        if start is None:
            log(f"{function}: invalid batch response, the whole batch is retried: {result!r:.300}")
            start = 0
        log(f"{function}: {len(records)} records, {len(records) - start} failed, {millis} ms")
        records = records[start:]
        if not records:
            return
        retries += 1
        if retries > MAX_STREAM_RETRIES:
            log(f"{function}: {len(records)} records skipped after {MAX_STREAM_RETRIES} retries")
            return
        stopping.wait(min(30, 2 ** (retries - 1)))


def shard_iterator(streams, stream_arn, shard_id, after):
    """A fresh iterator of a shard: after the last record handled, or from its start."""
    position = {"ShardIteratorType": "TRIM_HORIZON"}
    if after is not None:
        position = {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": after}
    return streams.get_shard_iterator(StreamArn=stream_arn, ShardId=shard_id, **position)["ShardIterator"]


def run_stream(streams, stream_arn, function, args):
    """One stream mapping: reads every shard of the stream in order and feeds the function.

    Each read takes a fresh iterator after the last record handled. moto rolls a failed
    transaction back by replacing the tables it named with copies, stream shards included, so an
    iterator kept from before would go on reading a shard nobody writes to any more.
    """
    handled = {}  # shard id -> sequence number of the last record handled (None: none yet)
    while not stopping.is_set():
        try:
            shards = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"].get("Shards", [])
            idle = True
            for shard in shards:
                shard_id = shard["ShardId"]
                after = handled.setdefault(shard_id, None)
                if after is not None and after == shard["SequenceNumberRange"].get("EndingSequenceNumber"):
                    continue  # closed and read to its end
                iterator = shard_iterator(streams, stream_arn, shard_id, after)
                records = streams.get_records(ShardIterator=iterator, Limit=args.batch_size).get("Records", [])
                if records:
                    idle = False
                    deliver_stream_batch(function, records, stream_arn, args)
                    # Moved on only once the batch is handled: after an error it is read again.
                    handled[shard_id] = records[-1]["dynamodb"]["SequenceNumber"]
            if idle:
                stopping.wait(STREAM_POLL_SECONDS)
        except Exception as error:  # noqa: BLE001 - moto or the functions may still be starting
            log(f"{function}: {type(error).__name__}: {error}")
            stopping.wait(max(1, args.poll_seconds))


# EventBridge Scheduler


def rate_interval(expression):
    """The interval of a rate() expression, or None for any other expression."""
    match = RATE.fullmatch(expression.strip())
    if not match or int(match.group(1)) == 0:
        return None
    unit = match.group(2).rstrip("s")
    return datetime.timedelta(seconds=int(match.group(1)) * UNITS[unit])


def due_slot(anchor, interval, last_fired, now):
    """The slot a schedule should fire for now, or None when it is not due.

    Slots fall at anchor + interval, anchor + 2 * interval, ... The latest slot not after now is
    due unless it has already fired; slots missed before it are not made up, so the next firing
    is at the next future slot.
    """
    first = anchor + interval
    if now < first:
        return None
    latest = first + ((now - first) // interval) * interval
    if last_fired is not None and latest <= last_fired:
        return None
    return latest


class Scheduler:
    """Fires the rate() schedules of one group into their SQS queues."""

    def __init__(self, group):
        self.group = group
        self.scheduler = client("scheduler")
        self.sqs = client("sqs")
        self.last_fired = {}  # (schedule ARN, creation date) -> slot of the last firing
        self.queue_urls = {}  # queue name -> URL
        self.warned = set()

    def warn_once(self, key, line):
        """Logs a line about a schedule once, not on every poll."""
        if key not in self.warned:
            self.warned.add(key)
            log(line)

    def schedule_names(self):
        """The names of the group's schedules, across all pages."""
        names, token = [], None
        while True:
            page = self.scheduler.list_schedules(GroupName=self.group, **({"NextToken": token} if token else {}))
            names += [summary["Name"] for summary in page.get("Schedules", [])]
            token = page.get("NextToken")
            if not token:
                return names

    def queue_url(self, name):
        """The URL of a queue, looked up once."""
        if name not in self.queue_urls:
            self.queue_urls[name] = self.sqs.get_queue_url(QueueName=name)["QueueUrl"]
        return self.queue_urls[name]

    def tick(self, now=None):
        """Fires every schedule of the group that is due, and forgets schedules that are gone."""
        now = now or datetime.datetime.now(datetime.timezone.utc)
        seen = set()
        for name in self.schedule_names():
            try:
                schedule = self.scheduler.get_schedule(Name=name, GroupName=self.group)
            except self.scheduler.exceptions.ResourceNotFoundException:
                continue  # deleted since it was listed
            key = (schedule["Arn"], schedule["CreationDate"])
            seen.add(key)
            self.consider(name, key, schedule, now)
        for key in set(self.last_fired) - seen:
            del self.last_fired[key]

    def consider(self, name, key, schedule, now):
        """Fires one schedule if it is due."""
        if schedule.get("State") != "ENABLED":
            return
        interval = rate_interval(schedule.get("ScheduleExpression", ""))
        if interval is None:
            self.warn_once(key, f"schedule {name}: {schedule.get('ScheduleExpression')!r} is not supported, skipped")
            return
        target = schedule.get("Target", {})
        arn = target.get("Arn", "").split(":")
        if len(arn) != 6 or arn[2] != "sqs" or "Input" not in target:
            self.warn_once(key, f"schedule {name}: only SQS targets with an Input are supported, skipped")
            return
        anchor = schedule.get("StartDate") or schedule["CreationDate"]
        slot = due_slot(anchor, interval, self.last_fired.get(key), now)
        end = schedule.get("EndDate")
        if slot is None or (end is not None and slot > end):
            return
        message = {"QueueUrl": self.queue_url(arn[5]), "MessageBody": target["Input"]}
        group_id = target.get("SqsParameters", {}).get("MessageGroupId")
        if group_id:
            message["MessageGroupId"] = group_id
        self.sqs.send_message(**message)
        self.last_fired[key] = slot
        log(f"schedule {name} fired into {arn[5]}")


def run_scheduler(scheduler):
    """Polls the group's schedules every few seconds until the pump stops."""
    while not stopping.is_set():
        try:
            scheduler.tick()
        except Exception as error:  # noqa: BLE001 - moto may still be starting
            log(f"scheduler: {type(error).__name__}: {error}")
        stopping.wait(SCHEDULE_POLL_SECONDS)


def parse_source(text):
    """QUEUE_URL=FUNCTION or STREAM_ARN=FUNCTION as a pair."""
    source, sep, function = text.rpartition("=")
    if not sep or not source or not function:
        raise argparse.ArgumentTypeError(f"expected QUEUE_URL=FUNCTION or STREAM_ARN=FUNCTION, got {text!r}")
    return source, function


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--invoke-url", required=True, help="the Lambda Invoke API, e.g. http://127.0.0.1:9000")
    parser.add_argument(
        "--source", type=parse_source, action="append", default=[], help="QUEUE_URL=FUNCTION or STREAM_ARN=FUNCTION"
    )
    parser.add_argument("--schedule-group", required=True, help="the schedule group to fire")
    parser.add_argument("--batch-size", type=int, default=5, help="messages or stream records per invocation (1-10)")
    parser.add_argument("--poll-seconds", type=int, default=1, help="long-poll wait of each receive (0-20)")
    parser.add_argument("--concurrency", type=int, default=5, help="batches of one queue handled at once")
    args = parser.parse_args()
    args.invoke_url = args.invoke_url.rstrip("/")

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.set())
    # Clients are made here, before any thread starts: creating them is not thread-safe.
    scheduler = Scheduler(args.schedule_group)
    threads = []
    for source, function in args.source:
        if source.startswith("arn:aws:dynamodb:"):
            # One batch of a shard at a time, in order, as Lambda reads a stream.
            threads.append(threading.Thread(target=run_stream, args=(client("dynamodbstreams"), source, function, args)))
        else:
            for _ in range(args.concurrency):
                threads.append(threading.Thread(target=run_source, args=(client("sqs"), source, function, args)))
    for thread in threads:
        thread.daemon = True
        thread.start()
    log(f"pump: {len(args.source)} mappings, schedules of group {args.schedule_group}")
    run_scheduler(scheduler)
    log("pump: stopped")


if __name__ == "__main__":
    main()
