"""Local data that survives a restart: ``make run`` keeps the emulation's state in ``.local-state/``.

What is kept, in one JSON file (``state.json``, written whole to a temporary file and renamed, so a
crash never leaves half a file):

* every item of every DynamoDB table, read through the emulation's own ``Scan`` and written back
  with ``BatchWriteItem`` once the template's tables exist again (binary values as base64);
* the KMS keys' ids and key material: the TOTP secrets in the table are sealed under the key, and
  decrypting names the key, so a restart must bring back the same key, not a new one;
* the outbox (the emails and SMS sent so far) and the clock's offset;
* the demo account's credentials, if the seed made one (a generated password for a local demo
  account, so that the landing page and the console can show it after a restart).

Saved after writes (once the emulation has been quiet for a second, checked every second) and
on a clean stop (Ctrl-C, SIGTERM), after the workers are gone. Loaded at the next start, right
after the template is provisioned and before any worker starts. ``--reset`` (``make run RESET=1``)
deletes the saved state first. Without ``--state-dir`` (the default of ``python -m infra.local``,
and so of the test suite) nothing is read or written.

Other files in the folder: ``functions.log`` (the functions' JSON logs when they are not shown on
the console) and ``metrics.log`` (Powertools' EMF metrics lines); both start empty at each start.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import functools
import json
import os
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from infra.local.server import Stack

FORMAT = 1
STATE_FILE = "state.json"
SAVE_INTERVAL = 1.0
_BATCH = 25  # BatchWriteItem's limit


class StateError(Exception):
    """The saved state cannot be read or does not fit the template; the message says what to do."""


class StateBusy(StateError):
    """Another running stack holds the state folder."""


# ---------------------------------------------------------------------------------- writes


_writes = 0
_WRITE_OPERATIONS = ("put_item", "update_item", "delete_item", "transact_write_items", "batch_write_item")


def writes() -> int:
    """How many DynamoDB write operations the emulation has served in this process."""
    return _writes


def _counted(operation: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(operation)
    def counting(*args: Any, **kwargs: Any) -> Any:
        global _writes
        try:
            return operation(*args, **kwargs)
        finally:
            _writes += 1

    counting.__portico_counted__ = True  # type: ignore[attr-defined]
    return counting


def _install_counter() -> None:
    from moto.dynamodb.models import DynamoDBBackend

    import infra.local.atomic  # noqa: F401 - counted on top of the atomic versions

    for name in _WRITE_OPERATIONS:
        operation = getattr(DynamoDBBackend, name, None)
        if operation is not None and not getattr(operation, "__portico_counted__", False):
            setattr(DynamoDBBackend, name, _counted(operation))


# ---------------------------------------------------------------------------------- encoding


def _encode(value: dict[str, Any]) -> dict[str, Any]:
    """A DynamoDB attribute value as JSON can hold it: binary values in base64."""
    ((kind, content),) = value.items()
    if kind == "B":
        return {"B": base64.b64encode(content).decode()}
    if kind == "BS":
        return {"BS": [base64.b64encode(item).decode() for item in content]}
    if kind == "M":
        return {"M": {name: _encode(item) for name, item in content.items()}}
    if kind == "L":
        return {"L": [_encode(item) for item in content]}
    return value


def _decode(value: dict[str, Any]) -> dict[str, Any]:
    ((kind, content),) = value.items()
    if kind == "B":
        return {"B": base64.b64decode(content)}
    if kind == "BS":
        return {"BS": [base64.b64decode(item) for item in content]}
    if kind == "M":
        return {"M": {name: _decode(item) for name, item in content.items()}}
    if kind == "L":
        return {"L": [_decode(item) for item in content]}
    return value


# ---------------------------------------------------------------------------------- the folder


class LocalState:
    """The state folder of one stack: what to load at start, and saving as it runs."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.file = directory / STATE_FILE
        self.loaded: dict[str, Any] | None = None
        self.demo: dict[str, str] | None = None
        self._kms_ids: dict[str, list[str]] = {}
        self._saved_signature: Any = None
        self._save_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_error: str | None = None
        self._lock_file: Any = None

    # ------------------------------------------------------------------ start

    def prepare(self, reset: bool) -> None:
        """Create the folder; with ``reset``, forget what was saved. Reads the saved state, if any."""
        self.directory.mkdir(parents=True, exist_ok=True)
        self._lock_file = open(self.directory / "lock", "w")  # noqa: SIM115 - held while the stack runs
        try:
            fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise StateBusy(f"another local stack is running on {self.directory}: stop it first") from None
        ignore = self.directory / ".gitignore"
        if not ignore.exists():
            ignore.write_text("# made by infra.local: local data, never committed\n*\n")
        if reset:
            with contextlib.suppress(FileNotFoundError):
                self.file.unlink()
        for log in ("functions.log", "metrics.log"):
            (self.directory / log).write_text("")
        if not self.file.exists():
            return
        try:
            document = json.loads(self.file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise StateError(f"cannot read {self.file}: {error}") from None
        if not isinstance(document, dict) or document.get("format") != FORMAT:
            raise StateError(f"{self.file} was written by another version of the local stack")
        self.loaded = document
        self.demo = document.get("demo")

    @property
    def fresh(self) -> bool:
        return self.loaded is None

    def restore(self, stack: Stack) -> str:
        """Put the loaded state into the just-provisioned emulation; a one-line summary."""
        _install_counter()
        if self.loaded is None:
            return "fresh"
        document = self.loaded
        self._restore_keys(stack, document.get("kms") or {})
        client = _dynamodb(stack)
        existing = set(client.list_tables()["TableNames"])
        counts = []
        for table, items in (document.get("tables") or {}).items():
            if table not in existing:
                raise StateError(f"{self.file} holds table {table!r}, which the template no longer declares")
            for start in range(0, len(items), _BATCH):
                requests = [
                    {"PutRequest": {"Item": _decode({"M": item})["M"]}} for item in items[start : start + _BATCH]
                ]
                try:
                    client.batch_write_item(RequestItems={table: requests})
                except Exception as error:  # a key schema that changed, most likely
                    raise StateError(f"cannot restore table {table!r}: {error}") from None
            counts.append(f"{len(items)} items in {table}")
        from infra.local import outbox

        outbox.restore(document.get("outbox") or [])
        offset = float(document.get("clock_offset") or 0.0)
        stack.clock.offset.value = offset
        self._saved_signature = self._signature(stack)
        parts = [*counts, f"{len(document.get('outbox') or [])} messages"]
        if offset:
            parts.append(f"clock offset {offset:+.0f} s")
        return ", ".join(parts)

    def _restore_keys(self, stack: Stack, saved: dict[str, Any]) -> None:
        """Give the template's new keys the saved ids and key material (ciphertexts name their key)."""
        from moto.kms.models import kms_backends

        from infra.local.cfn import ACCOUNT_ID, REGION

        backend = kms_backends[ACCOUNT_ID][REGION]
        template = stack.template
        for logical_id in template.resources("AWS::KMS::Key"):
            entry = saved.get(logical_id)
            if not entry:
                continue
            new_id, old_id = template._physical[logical_id], entry["key_id"]
            key = backend.keys.pop(new_id)
            key.id = old_id
            key.arn = key.arn.replace(new_id, old_id)
            key.key_material = base64.b64decode(entry["material"])
            backend.keys[old_id] = key
            for alias in key.aliases.values():
                alias.target_key_id = old_id
            # The functions' environment (Ref/GetAtt of the key) is resolved after this.
            template._physical[logical_id] = old_id
            template._attributes[logical_id] = {"Arn": key.arn, "KeyId": old_id}

    # ------------------------------------------------------------------ saving

    def _signature(self, stack: Stack) -> tuple[Any, ...]:
        from infra.local import outbox

        return (writes(), outbox.count(), stack.clock.offset.value, json.dumps(self.demo))

    def snapshot(self, stack: Stack) -> dict[str, Any]:
        from moto.kms.models import kms_backends

        from infra.local import outbox
        from infra.local.cfn import ACCOUNT_ID, REGION

        client = _dynamodb(stack)
        tables: dict[str, list[dict[str, Any]]] = {}
        for table in client.list_tables()["TableNames"]:
            items = []
            for page in client.get_paginator("scan").paginate(TableName=table, ConsistentRead=True):
                items.extend(_encode({"M": item})["M"] for item in page["Items"])
            tables[table] = items
        keys = {}
        backend = kms_backends[ACCOUNT_ID][REGION]
        for logical_id in stack.template.resources("AWS::KMS::Key"):
            key_id = stack.template._physical.get(logical_id)
            if key_id in backend.keys:
                material = base64.b64encode(backend.keys[key_id].key_material).decode()
                keys[logical_id] = {"key_id": key_id, "material": material}
        return {
            "format": FORMAT,
            "saved_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "clock_offset": stack.clock.offset.value,
            "tables": tables,
            "kms": keys,
            "outbox": outbox.messages(),
            "demo": self.demo,
        }

    def save(self, stack: Stack) -> bool:
        """Write the state if it changed since the last save; True if written."""
        with self._save_lock:
            signature = self._signature(stack)
            if signature == self._saved_signature:
                return False
            document = self.snapshot(stack)
            temporary = self.file.with_suffix(".tmp")
            with open(temporary, "w", encoding="utf-8") as stream:
                json.dump(document, stream, separators=(",", ":"))
                stream.flush()
                os.fsync(stream.fileno())
            os.replace(temporary, self.file)
            self._saved_signature = signature
            self.last_error = None
            return True

    def start_saving(self, stack: Stack, log: Callable[[str], None]) -> None:
        """Save in the background once writes have stopped for a second."""

        def run() -> None:
            previous = self._signature(stack)
            while not self._stop.wait(SAVE_INTERVAL):
                current = self._signature(stack)
                if current != previous:  # still moving: wait for a quiet second
                    previous = current
                    continue
                try:
                    self.save(stack)
                except Exception as error:  # reported once per kind, the stack serves on
                    message = f"{type(error).__name__}: {error}"
                    if message != self.last_error:
                        log(f"infra.local: could not save the local state: {message}")
                    self.last_error = message

        self._thread = threading.Thread(target=run, name="state", daemon=True)
        self._thread.start()

    def stop_saving(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)


def _dynamodb(stack: Stack) -> Any:
    import boto3

    from infra.local.cfn import REGION

    return boto3.session.Session(region_name=REGION).client("dynamodb", endpoint_url=stack.aws.endpoint_url)
