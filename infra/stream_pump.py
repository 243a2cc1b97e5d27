#!/usr/bin/env python3
"""Local stand-in for Lambda's DynamoDB event source mapping of `send-mail`.

Everything it does the way AWS would is read from template.yaml, so
`make watch` runs what a deployment runs:

- the table's `StreamViewType`: each record is cut down to what that view
  carries (KEYS_ONLY: the keys, no item image);
- the mapping of the function whose `BuildProperties.Binary` is `send-mail`
  (its one `DynamoDB` event): `FilterCriteria` (Lambda's event filtering: a
  record that matches none of the filters is dropped, never delivered),
  `BatchSize`, `MaximumRetryAttempts`, `BisectBatchOnFunctionError`,
  `MaximumRecordAgeInSeconds` and `FunctionResponseTypes`
  (ReportBatchItemFailures: the batch is retried from its first failed
  record). A record out of retries is dropped with a log line, where AWS
  would send it to the on-failure destination.

usage:
  stream_pump.py ENDPOINT_URL TABLE INVOKE_URL [TEMPLATE]
    INVOKE_URL e.g. http://127.0.0.1:9000/2015-03-31/functions/send-mail/invocations
  stream_pump.py --match-only [TEMPLATE] < {"records": [...], "filters": [...]?}
    prints {"settings": {...}, "passed": [true|false per record]}: each record
    cut to the template's view type, then matched against the template's
    filters (or against "filters", a list of patterns, when given).
"""
import base64
import json
import os
import sys
import time
import urllib.request

import yaml

FUNCTION_BINARY = "send-mail"
DEFAULT_TEMPLATE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "template.yaml")


# ---- template.yaml


class TemplateLoader(yaml.SafeLoader):
    """SafeLoader that accepts CloudFormation's short tags (`!Ref X` is read
    as {"Ref": X}, `!GetAtt A.B` as {"Fn::GetAtt": "A.B"}, ...)."""


def _short_tag(loader, suffix, node):
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {suffix if suffix == "Ref" else f"Fn::{suffix}": value}


TemplateLoader.add_multi_constructor("!", _short_tag)


def load_template(path):
    with open(path, encoding="utf-8") as f:
        return yaml.load(f, Loader=TemplateLoader)


def resolve(template, value):
    """A literal, or a `!Ref` to a parameter: its default."""
    if isinstance(value, dict) and set(value) == {"Ref"}:
        param = template.get("Parameters", {}).get(value["Ref"])
        if param is None or "Default" not in param:
            raise SystemExit(f"stream pump: cannot resolve {value} from the template")
        return param["Default"]
    return value


def settings(template):
    """The send-mail mapping's settings, found by the function's binary."""
    # Fn::ForEach loops (AWS::LanguageExtensions) write what every function
    # has; send-mail and the table are written out, so the loops are skipped.
    resources = {k: r for k, r in template["Resources"].items() if not k.startswith("Fn::ForEach::")}
    functions = [
        (name, r)
        for name, r in resources.items()
        if r.get("Type") == "AWS::Serverless::Function"
        and (r.get("Metadata") or {}).get("BuildProperties", {}).get("Binary") == FUNCTION_BINARY
    ]
    if len(functions) != 1:
        raise SystemExit(f"stream pump: {len(functions)} functions build {FUNCTION_BINARY}, expected 1")
    name, function = functions[0]
    events = [
        e["Properties"]
        for e in (function["Properties"].get("Events") or {}).values()
        if e.get("Type") == "DynamoDB"
    ]
    if len(events) != 1:
        raise SystemExit(f"stream pump: {name} has {len(events)} DynamoDB events, expected 1")
    props = {k: resolve(template, v) for k, v in events[0].items()}
    tables = [
        r
        for r in resources.values()
        if r.get("Type") == "AWS::DynamoDB::Table"
        and (r["Properties"].get("StreamSpecification") or {}).get("StreamViewType")
    ]
    if len(tables) != 1:
        raise SystemExit(f"stream pump: {len(tables)} tables with a stream, expected 1")
    filters = [json.loads(f["Pattern"]) for f in (props.get("FilterCriteria") or {}).get("Filters", [])]
    return {
        "function": name,
        "stream_view_type": tables[0]["Properties"]["StreamSpecification"]["StreamViewType"],
        "filters": filters,
        # Lambda's defaults for a DynamoDB stream where the template says nothing.
        "batch_size": int(props.get("BatchSize", 100)),
        "maximum_retry_attempts": int(props.get("MaximumRetryAttempts", -1)),
        "maximum_record_age_seconds": int(props.get("MaximumRecordAgeInSeconds", -1)),
        "bisect_on_error": bool(props.get("BisectBatchOnFunctionError", False)),
        "report_item_failures": "ReportBatchItemFailures" in (props.get("FunctionResponseTypes") or []),
    }


# ---- Lambda event filtering (the EventBridge pattern language Lambda uses)

_MISSING = object()


def _leaf_matches(condition, value):
    """One entry of a pattern's list against one field (`_MISSING` if absent)."""
    if isinstance(condition, dict):
        if len(condition) != 1:
            raise ValueError(f"unsupported filter condition {condition}")
        (op, arg), = condition.items()
        if op == "exists":
            return (value is not _MISSING) == bool(arg)
        if value is _MISSING:
            return False
        if op == "prefix":
            return isinstance(value, str) and value.startswith(arg)
        if op == "suffix":
            return isinstance(value, str) and value.endswith(arg)
        if op == "equals-ignore-case":
            return isinstance(value, str) and value.lower() == arg.lower()
        if op == "anything-but":
            if isinstance(arg, dict):
                return not _leaf_matches(arg, value)
            excluded = arg if isinstance(arg, list) else [arg]
            return not any(_leaf_matches(x, value) for x in excluded)
        if op == "numeric":
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                return False
            checks = {"<": float.__lt__, "<=": float.__le__, "=": float.__eq__, ">": float.__gt__, ">=": float.__ge__}
            if len(arg) % 2:
                raise ValueError(f"bad numeric condition {arg}")
            return all(checks[arg[i]](float(value), float(arg[i + 1])) for i in range(0, len(arg), 2))
        raise ValueError(f"unsupported filter operator {op!r}")
    if value is _MISSING:
        return False
    if isinstance(condition, bool) or condition is None or isinstance(value, bool) or value is None:
        return condition is value or (condition == value and type(condition) is type(value))
    if isinstance(condition, (int, float)):
        return isinstance(value, (int, float)) and float(condition) == float(value)
    return isinstance(value, str) and condition == value


def _field_matches(conditions, value):
    if not isinstance(conditions, list):
        raise ValueError(f"a pattern's leaf must be a list, not {conditions!r}")
    values = value if isinstance(value, list) else [value]
    # A list field matches when any of its elements does.
    return any(_leaf_matches(c, v) for c in conditions for v in values)


def matches(pattern, event):
    """Whether `event` (a dict) matches one pattern: every key of the pattern
    must match; nested objects match nested fields."""
    if not isinstance(pattern, dict):
        raise ValueError(f"a pattern must be an object, not {pattern!r}")
    for key, sub in pattern.items():
        value = event.get(key, _MISSING) if isinstance(event, dict) else _MISSING
        if isinstance(sub, dict):
            if not matches(sub, value if isinstance(value, dict) else {}):
                return False
        elif not _field_matches(sub, value):
            return False
    return True


def passes(filters, record):
    """Filters are OR-ed; with no filters every record passes."""
    return not filters or any(matches(p, record) for p in filters)


def as_viewed(record, view_type):
    """The record as a stream of `view_type` carries it."""
    r = dict(record)
    ddb = dict(r.get("dynamodb", {}))
    keep = {
        "KEYS_ONLY": (),
        "NEW_IMAGE": ("NewImage",),
        "OLD_IMAGE": ("OldImage",),
        "NEW_AND_OLD_IMAGES": ("NewImage", "OldImage"),
    }[view_type]
    for image in ("NewImage", "OldImage"):
        if image not in keep:
            ddb.pop(image, None)
    ddb["StreamViewType"] = view_type
    r["dynamodb"] = ddb
    return r


def match_only(template_path):
    cfg = settings(load_template(template_path))
    data = json.load(sys.stdin)
    filters = data.get("filters", cfg["filters"])
    passed = [passes(filters, as_viewed(r, cfg["stream_view_type"])) for r in data["records"]]
    json.dump({"settings": cfg, "passed": passed}, sys.stdout)
    print()


# ---- the pump


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


def to_event_record(rec, table_arn, view_type):
    r = as_viewed(rec, view_type)
    r["eventSourceARN"] = table_arn
    ddb = r["dynamodb"]
    if "ApproximateCreationDateTime" in ddb:
        ddb["ApproximateCreationDateTime"] = ddb["ApproximateCreationDateTime"].timestamp()
    return r


class Batch:
    def __init__(self, records, attempts=0):
        self.records = records  # (record, arrived at, monotonic seconds)
        self.attempts = attempts


def drop(record, why):
    print(f"stream pump: dropping record {record['dynamodb']['SequenceNumber']}: {why}", flush=True)


def run_batch(cfg, url, batch):
    """Invokes one batch; returns the batches still to deliver (retries)."""
    records = batch.records
    max_age = cfg["maximum_record_age_seconds"]
    if max_age >= 0:
        now = time.monotonic()
        for r, arrived in records:
            if now - arrived > max_age:
                drop(r, f"older than {max_age} s")
        records = [(r, arrived) for r, arrived in records if now - arrived <= max_age]
    if not records:
        return []
    try:
        result = invoke(url, [r for r, _ in records])
        failed = {f.get("itemIdentifier") for f in (result or {}).get("batchItemFailures", [])}
        if failed and not cfg["report_item_failures"]:
            failed = set()
        if not failed:
            return []
        # Lambda retries from the first failed record on.
        first = min(i for i, (r, _) in enumerate(records) if r["dynamodb"]["SequenceNumber"] in failed)
        retry = [records[first:]]
    except Exception as err:  # the whole batch failed
        print(f"stream pump: invoke failed: {err}", flush=True)
        half = len(records) // 2
        retry = [records[:half], records[half:]] if cfg["bisect_on_error"] and half else [records]
    limit = cfg["maximum_retry_attempts"]
    if limit >= 0 and batch.attempts >= limit:
        for part in retry:
            for r, _ in part:
                drop(r, f"{limit} retries spent (AWS: to the on-failure destination)")
        return []
    return [Batch(part, batch.attempts + 1) for part in retry if part]


def main():
    endpoint, table, url = sys.argv[1:4]
    template_path = sys.argv[4] if len(sys.argv) > 4 else DEFAULT_TEMPLATE
    cfg = settings(load_template(template_path))
    kw = dict(endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test")
    import boto3

    ddb = boto3.client("dynamodb", **kw)
    streams = boto3.client("dynamodbstreams", **kw)
    desc = ddb.describe_table(TableName=table)["Table"]
    stream_arn = desc["LatestStreamArn"]
    shards = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"]
    iterators = {
        s["ShardId"]: streams.get_shard_iterator(StreamArn=stream_arn, ShardId=s["ShardId"], ShardIteratorType="LATEST")["ShardIterator"]
        for s in shards
    }
    print(
        f"stream pump: {table} -> {url} ({cfg['stream_view_type']}, {len(cfg['filters'])} filters, "
        f"batch {cfg['batch_size']}, retries {cfg['maximum_retry_attempts']})",
        flush=True,
    )
    incoming = []  # (record, arrived)
    retries = []  # Batch
    while True:
        for shard, it in list(iterators.items()):
            out = streams.get_records(ShardIterator=it, Limit=100)
            iterators[shard] = out.get("NextShardIterator") or it
            for rec in out.get("Records", []):
                r = to_event_record(rec, desc["TableArn"], cfg["stream_view_type"])
                if passes(cfg["filters"], r):
                    incoming.append((r, time.monotonic()))
        # Retries first: records of a shard go in order.
        while retries or incoming:
            if retries:
                batch = retries.pop(0)
                time.sleep(0.2)
            else:
                size = cfg["batch_size"]
                batch, incoming = Batch(incoming[:size]), incoming[size:]
            retries = run_batch(cfg, url, batch) + retries
        time.sleep(0.3)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--match-only":
        match_only(sys.argv[2] if len(sys.argv) > 2 else DEFAULT_TEMPLATE)
    else:
        main()
