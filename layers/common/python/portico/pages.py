"""List pages: ``?limit=`` 1..100 (default 50) and an opaque ``?cursor=``.

A cursor is the url-safe base64 of the DynamoDB key of the last item shown. It only continues the
list it came from (same partition, same kind of item): anything else is ``422 validation_error``,
so a cursor can never be used to read another tenant's partition.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from typing import Any, TypeVar

from portico.errors import ValidationFailed
from portico.keys import Query

DEFAULT_LIMIT = 50
MAX_LIMIT = 100
MAX_CURSOR_CHARS = 1024


def encode_cursor(key: dict[str, Any]) -> str:
    raw = json.dumps({"pk": key["pk"], "sk": key["sk"]}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


T = TypeVar("T")


def _refused() -> ValidationFailed:
    return ValidationFailed(
        [{"loc": ["query", "cursor"], "msg": "not a cursor of this list", "type": "value_error"}],
        "The query is not valid.",
    )


def slice_of(items: list[T], key: Callable[[T], str], limit: int, cursor: str | None) -> tuple[list[T], str | None]:
    """A page of a short list read whole (the customers with one address, one customer's
    invoices): the cursor names the last item shown (its id), so it continues only a list that
    holds that item."""
    start = 0
    if cursor is not None:
        after: Any = None
        if len(cursor) <= MAX_CURSOR_CHARS:
            try:
                after = json.loads(base64.b64decode(cursor + "=" * (-len(cursor) % 4), altchars=b"-_", validate=True))
            except (binascii.Error, ValueError):
                after = None
        keys = [key(item) for item in items]
        if not isinstance(after, dict) or set(after) != {"after"} or after["after"] not in keys:
            raise _refused()
        start = keys.index(after["after"]) + 1
    page = items[start : start + limit]
    more = start + limit < len(items)
    raw = json.dumps({"after": key(page[-1])}, separators=(",", ":")).encode() if page and more else b""
    return page, base64.urlsafe_b64encode(raw).decode().rstrip("=") if raw else None


def decode_cursor(cursor: str, listing: Query) -> dict[str, str]:
    """The key a cursor stands for, if it continues the list ``listing`` reads (its partition and
    sort-key prefix)."""
    pk, sk_prefix = listing.partition, listing.prefix
    key: Any = None
    if len(cursor) <= MAX_CURSOR_CHARS:
        try:
            key = json.loads(base64.b64decode(cursor + "=" * (-len(cursor) % 4), altchars=b"-_", validate=True))
        except (binascii.Error, ValueError):  # also UnicodeDecodeError and JSONDecodeError
            key = None
    if (
        not isinstance(key, dict)
        or set(key) != {"pk", "sk"}
        or key["pk"] != pk
        or not isinstance(key["sk"], str)
        or not key["sk"].startswith(sk_prefix)
    ):
        raise _refused()
    return key
