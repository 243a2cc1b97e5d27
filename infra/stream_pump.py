#!/usr/bin/env python3
"""Local stand-in for Lambda's DynamoDB event source mapping.

Polls the table's stream on the emulator and invokes the `send-mail` function
through the Lambda runtime API of `cargo lambda watch` with each batch, as
AWS would (ReportBatchItemFailures: failed records are retried, up to
MAX_ATTEMPTS, then dropped with a log line, like an on-failure destination).

usage: stream_pump.py ENDPOINT_URL TABLE INVOKE_URL
  INVOKE_URL e.g. http://127.0.0.1:9000/2015-03-31/functions/send-mail/invocations
"""
import base64
import json
import sys
import time
import urllib.request

import boto3

MAX_ATTEMPTS = 3
BATCH = 10


def encode(value):
    """Binary attributes travel as base64 in Lambda events, as in DynamoDB JSON."""
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode()
    return str(value)


def invoke(url, records):
    body = json.dumps({"Records": records}, default=encode).encode()
    req = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=120) as resp:
        return json.loads(resp.read() or b"{}")


def to_event_record(rec, table_arn):
    r = dict(rec)
    r["eventSourceARN"] = table_arn
    ddb = dict(r["dynamodb"])
    if "ApproximateCreationDateTime" in ddb:
        ddb["ApproximateCreationDateTime"] = ddb["ApproximateCreationDateTime"].timestamp()
    r["dynamodb"] = ddb
    return r


def main():
    endpoint, table, url = sys.argv[1:4]
    kw = dict(endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test")
    ddb = boto3.client("dynamodb", **kw)
    streams = boto3.client("dynamodbstreams", **kw)
    desc = ddb.describe_table(TableName=table)["Table"]
    stream_arn = desc["LatestStreamArn"]
    shards = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"]
    iterators = {
        s["ShardId"]: streams.get_shard_iterator(StreamArn=stream_arn, ShardId=s["ShardId"], ShardIteratorType="LATEST")["ShardIterator"]
        for s in shards
    }
    print(f"stream pump: {table} -> {url}", flush=True)
    pending = []  # (record, attempts)
    while True:
        for shard, it in list(iterators.items()):
            out = streams.get_records(ShardIterator=it, Limit=100)
            iterators[shard] = out.get("NextShardIterator") or it
            pending.extend((to_event_record(r, desc["TableArn"]), 0) for r in out.get("Records", []))
        while pending:
            batch, pending = pending[:BATCH], pending[BATCH:]
            try:
                result = invoke(url, [r for r, _ in batch])
                failed = {f["itemIdentifier"] for f in result.get("batchItemFailures", [])}
            except Exception as err:  # the whole batch failed: retry it all
                print(f"stream pump: invoke failed: {err}", flush=True)
                failed = {r["dynamodb"]["SequenceNumber"] for r, _ in batch}
            for r, attempts in batch:
                if r["dynamodb"]["SequenceNumber"] in failed:
                    if attempts + 1 < MAX_ATTEMPTS:
                        pending.append((r, attempts + 1))
                    else:
                        print(f"stream pump: dropping record {r['dynamodb']['SequenceNumber']} after {MAX_ATTEMPTS} attempts", flush=True)
        time.sleep(0.3)


if __name__ == "__main__":
    main()
