"""List pages (contract section 1): ``?limit=`` 1..100 (default 50) and an opaque ``?cursor=``.

A cursor is the url-safe base64 of the DynamoDB key of the last item shown. It only continues the
list it came from (same partition, same kind of item): anything else is ``422 validation_error``,
so a cursor can never be used to read another tenant's partition.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from portico.errors import ValidationFailed
from portico.keys import Query

DEFAULT_LIMIT = 50
MAX_LIMIT = 100
MAX_CURSOR_CHARS = 1024


def encode_cursor(key: dict[str, Any]) -> str:
    raw = json.dumps({"pk": key["pk"], "sk": key["sk"]}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


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
        raise ValidationFailed(
            [{"loc": ["query", "cursor"], "msg": "not a cursor of this list", "type": "value_error"}],
            "The query is not valid.",
        )
    return key
