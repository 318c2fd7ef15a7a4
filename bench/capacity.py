"""AWS calls and DynamoDB capacity units of a block of work, recorded at the boto3 client boundary.

The emulation (moto) does not report consumed capacity the way DynamoDB bills it, so the units are
counted from the calls with DynamoDB's published rules (the arithmetic is pure and unit-tested):

* an item's size is the UTF-8 length of its attribute names plus their values (strings: UTF-8
  bytes; numbers: about one byte per two significant digits plus one; binary: bytes; booleans
  and null: one byte; lists and maps: three bytes plus one per element plus their contents);
* reads: 4 KB per unit, rounded up; eventually consistent reads (every index query) cost half;
  a query is billed on the total size of the items it returns, rounded up once; a read that
  finds nothing still costs the minimum;
* writes: 1 KB per unit, rounded up, on the larger of the item before and after the write; a
  conditional write that fails still costs it; in a transaction every unit counts twice;
* an index with ``ALL`` projection (both of the table's) is written as well when the item is in
  it before or after the write: one write of the new image, two when its index key changed
  (the old entry deleted, the new put);
* sizes before and after a write are read from the emulation with a client that is not recorded
  (so the recorded pass is not the timed pass: bench/warm.py times without the recorder).

Reads are sized on the items returned: a projection or a filter would make DynamoDB bill more than
that, and ``portico.store`` uses neither.
"""

from __future__ import annotations

import base64
import math
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import boto3

READ_UNIT = 4096
WRITE_UNIT = 1024
INDEXES = (("gsi1pk", "gsi1sk"), ("gsi2pk", "gsi2sk"))
SERVICES = ("dynamodb", "ses", "sns", "kms")


def number_size(text: str) -> int:
    """DynamoDB's size of a number: one byte per two significant digits, plus one."""
    digits = text.lstrip("-").replace(".", "")
    digits = digits.lstrip("0").rstrip("0") or "0"
    return math.ceil(len(digits) / 2) + 1


def value_size(value: Mapping[str, Any]) -> int:
    """The size of one attribute value in DynamoDB's typed form (``{"S": "..."}``)."""
    [(kind, inner)] = value.items()
    if kind == "S":
        return len(inner.encode())
    if kind == "N":
        return number_size(str(inner))
    if kind == "B":
        return len(inner if isinstance(inner, bytes | bytearray) else base64.b64decode(inner))
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(s.encode()) for s in inner)
    if kind == "NS":
        return sum(number_size(str(n)) for n in inner)
    if kind == "BS":
        return sum(len(b) for b in inner)
    if kind == "L":
        return 3 + sum(1 + value_size(v) for v in inner)
    if kind == "M":
        return 3 + sum(1 + len(k.encode()) + value_size(v) for k, v in inner.items())
    raise ValueError(f"unknown DynamoDB type {kind}")


def item_size(item: Mapping[str, Mapping[str, Any]] | None) -> int:
    if not item:
        return 0
    return sum(len(name.encode()) + value_size(value) for name, value in item.items())


def read_units(size: int, *, consistent: bool, transactional: bool = False) -> float:
    units = max(1, math.ceil(size / READ_UNIT))
    if transactional:
        return 2.0 * units
    return float(units) if consistent else units / 2


def write_units(before: int, after: int, *, transactional: bool = False) -> int:
    units = max(1, math.ceil(max(before, after) / WRITE_UNIT))
    return 2 * units if transactional else units


def index_writes(before: Mapping[str, Any] | None, after: Mapping[str, Any] | None) -> int:
    """Index entries written when an item goes from ``before`` to ``after`` (typed items or None)."""
    writes = 0
    for pk, sk in INDEXES:
        old = (before or {}).get(pk), (before or {}).get(sk)
        new = (after or {}).get(pk), (after or {}).get(sk)
        in_old, in_new = old[0] is not None, new[0] is not None
        if in_old and in_new:
            writes += 1 if old == new else 2
        elif in_old or in_new:
            writes += 1
    return writes


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    return value


class Usage:
    """What the recorded calls cost: calls per service and operation, DynamoDB units."""

    def __init__(self, write_units_counted: bool = True) -> None:
        self.write_units_counted = write_units_counted
        self.calls: Counter[str] = Counter()
        self.operations: Counter[str] = Counter()
        self.rcu = 0.0
        self.wcu = 0
        self.index_wcu = 0
        self.items_returned = 0

    def as_dict(self, per: int = 1) -> dict[str, Any]:
        def each(x: float) -> float:
            return round(x / per, 2)

        return {
            "calls": {s: each(self.calls[s]) for s in SERVICES},
            "operations": {k: each(v) for k, v in sorted(self.operations.items())},
            "dynamodb_rru": each(self.rcu),
            "dynamodb_wru_table": each(self.wcu) if self.write_units_counted else None,
            "dynamodb_wru_indexes": each(self.index_wcu) if self.write_units_counted else None,
            "dynamodb_wru": each(self.wcu + self.index_wcu) if self.write_units_counted else None,
            "dynamodb_items_returned": each(self.items_returned),
        }


class Recorder:
    """Hooks on the portico clients (``portico.aws.client``) that count into a :class:`Usage`."""

    def __init__(self, *, write_units: bool = True) -> None:
        """``write_units=False``: count calls, read units and items, but not write units (which
        need the item read before and after each write: too slow inside a timed job run)."""
        from portico import aws

        self.write_units = write_units
        self._clients = {service: aws.client(service) for service in SERVICES}
        self._raw = boto3.session.Session().client("dynamodb")  # not recorded: reads item sizes
        self._keys: dict[str, list[str]] = {}
        self.usage: Usage | None = None

    def _key_of(self, table: str, item: Mapping[str, Any]) -> dict[str, Any]:
        if table not in self._keys:
            schema = self._raw.describe_table(TableName=table)["Table"]["KeySchema"]
            self._keys[table] = [k["AttributeName"] for k in schema]
        return {name: item[name] for name in self._keys[table]}

    def _peek(self, table: str, key: Mapping[str, Any]) -> dict[str, Any] | None:
        return self._raw.get_item(TableName=table, Key=dict(key), ConsistentRead=True).get("Item")

    def _writes(self, operation: str, params: Mapping[str, Any]) -> list[tuple[str, dict[str, Any], bool, bool]]:
        """(table, key, transactional, condition check only) of each item a write call touches."""
        found: list[tuple[str, dict[str, Any], bool, bool]] = []
        if operation in ("PutItem",):
            found.append((params["TableName"], self._key_of(params["TableName"], params["Item"]), False, False))
        elif operation in ("UpdateItem", "DeleteItem"):
            found.append((params["TableName"], dict(params["Key"]), False, False))
        elif operation == "BatchWriteItem":
            for table, requests in params["RequestItems"].items():
                for request in requests:
                    if "PutRequest" in request:
                        found.append((table, self._key_of(table, request["PutRequest"]["Item"]), False, False))
                    else:
                        found.append((table, dict(request["DeleteRequest"]["Key"]), False, False))
        elif operation == "TransactWriteItems":
            for entry in params["TransactItems"]:
                [(kind, body)] = entry.items()
                table = body["TableName"]
                key = self._key_of(table, body["Item"]) if kind == "Put" else dict(body["Key"])
                found.append((table, key, True, kind == "ConditionCheck"))
        return found

    def _before(self, params: Mapping[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
        if self.usage is None:
            return
        operation = model.name
        context["bench_params"] = params
        if not self.write_units:
            return
        writes = self._writes(operation, params)
        context["bench_writes"] = [(t, k, tx, check, self._peek(t, k)) for t, k, tx, check in writes]

    def _after(self, parsed: Mapping[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
        usage = self.usage
        if usage is None:
            return
        operation = model.name
        usage.calls["dynamodb"] += 1
        usage.operations[f"dynamodb:{operation}"] += 1
        params = context.get("bench_params", {})
        if operation == "GetItem":
            usage.rcu += read_units(item_size(parsed.get("Item")), consistent=bool(params.get("ConsistentRead")))
            usage.items_returned += 1 if parsed.get("Item") else 0
        elif operation in ("Query", "Scan"):
            items = parsed.get("Items", [])
            usage.items_returned += len(items)
            consistent = bool(params.get("ConsistentRead")) and "IndexName" not in params
            usage.rcu += read_units(sum(item_size(i) for i in items), consistent=consistent)
        elif operation == "BatchGetItem":
            for table, request in params.get("RequestItems", {}).items():
                returned = parsed.get("Responses", {}).get(table, [])
                usage.items_returned += len(returned)
                consistent = bool(request.get("ConsistentRead"))
                sizes = [item_size(i) for i in returned]
                sizes += [0] * max(0, len(request.get("Keys", [])) - len(returned))
                usage.rcu += sum(read_units(s, consistent=consistent) for s in sizes)
        elif operation == "TransactGetItems":
            for entry in parsed.get("Responses", []):
                usage.rcu += read_units(item_size(entry.get("Item")), consistent=True, transactional=True)
        for table, key, transactional, check, before in context.get("bench_writes", []):
            if check:  # a transaction's condition check: write units on the item's size, no index write
                usage.wcu += write_units(item_size(before), 0, transactional=True)
                continue
            after = self._peek(table, key)
            usage.wcu += write_units(item_size(before), item_size(after), transactional=transactional)
            if "Error" not in parsed:  # a refused write (its condition failed) writes no index
                usage.index_wcu += index_writes(before, after)

    def _other(self, service: str) -> Any:
        def count(model: Any, **_: Any) -> None:
            if self.usage is not None:
                self.usage.calls[service] += 1
                self.usage.operations[f"{service}:{model.name}"] += 1

        return count

    @contextmanager
    def installed(self) -> Iterator[Recorder]:
        dynamodb = self._clients["dynamodb"]
        hooks = [
            (dynamodb, "before-parameter-build.dynamodb", self._before),
            (dynamodb, "after-call.dynamodb", self._after),
        ]
        for service in ("ses", "sns", "kms"):
            client = self._clients[service]
            hooks.append((client, f"after-call.{client.meta.service_model.endpoint_prefix}", self._other(service)))
        for client, event, hook in hooks:
            client.meta.events.register(event, hook, unique_id=f"bench-{event}")
        try:
            yield self
        finally:
            for client, event, _ in hooks:
                client.meta.events.unregister(event, unique_id=f"bench-{event}")

    @contextmanager
    def recording(self) -> Iterator[Usage]:
        self.usage = Usage(write_units_counted=self.write_units)
        try:
            yield self.usage
        finally:
            self.usage = None
