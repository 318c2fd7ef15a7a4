"""``Idempotency-Key`` for POSTs that create something, on Powertools' idempotency utility and the
template's idempotency table.

The same key within 24 h returns the first response (status and body) and repeats no side
effect. The key is scoped by route; the request body is part of the record, so reusing a key with
a different body is ``422 idempotency_key_reused`` (as Stripe does), and a request still running
with the same key is ``409 request_in_progress``. Failed requests (4xx, 5xx) are not remembered:
Powertools deletes the record when the work raises, so a retry after a fault runs again.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from portico import aws
from portico.config import settings
from portico.errors import ServiceUnavailable, ValidationFailed, define

HEADER = "idempotency-key"
_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")


KeyReused = define("KeyReused", 422, "idempotency_key_reused", "Idempotency Key Reused")


InProgress = define("InProgress", 409, "request_in_progress", "Request In Progress")


@lru_cache(maxsize=1)
def _guarded() -> tuple[Callable[..., dict[str, Any]], Any]:
    from aws_lambda_powertools.utilities.idempotency import (
        DynamoDBPersistenceLayer,
        IdempotencyConfig,
        idempotent_function,
    )

    persistence = DynamoDBPersistenceLayer(
        table_name=settings().idempotency_table_name, boto3_client=aws.client("dynamodb")
    )
    config = IdempotencyConfig(
        event_key_jmespath="key",
        payload_validation_jmespath="payload",
        expires_after_seconds=24 * 3600,
        raise_on_no_idempotency_key=True,
    )

    @idempotent_function(data_keyword_argument="request", persistence_store=persistence, config=config)
    def execute(request: dict[str, Any], work: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        return work()

    return execute, config


def once(
    scope: str, key: str | None, payload: dict[str, Any], work: Callable[[], dict[str, Any]], context: Any = None
) -> dict[str, Any]:
    """Run ``work`` (which returns ``{"status": int, "body": ...}``) at most once per key and scope."""
    if key is None:
        return work()
    if not _KEY.match(key):
        raise ValidationFailed(
            [{"loc": ["header", HEADER], "msg": "1 to 255 printable ASCII characters", "type": "value_error"}]
        )
    from aws_lambda_powertools.utilities.idempotency.exceptions import (
        IdempotencyAlreadyInProgressError,
        IdempotencyPersistenceLayerError,
        IdempotencyValidationError,
    )

    execute, config = _guarded()
    if context is not None:
        config.register_lambda_context(context)  # an in-progress record expires with the invocation
    try:
        return execute(request={"key": f"{scope}#{key}", "payload": payload}, work=work)
    except IdempotencyValidationError:
        raise KeyReused("This Idempotency-Key was used with a different request.") from None
    except IdempotencyAlreadyInProgressError:
        raise InProgress("A request with this Idempotency-Key is still in progress.") from None
    except IdempotencyPersistenceLayerError:
        raise ServiceUnavailable("Idempotency records are unavailable; try again shortly.") from None


def reset() -> None:
    """Forget the persistence client (tests switch emulations between cases)."""
    _guarded.cache_clear()
