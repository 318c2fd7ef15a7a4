"""Reading an account's audit log (``GET /accounts/{a}/audit-log``): its records newest first, a
page per ``Query``. Writing records is :mod:`portico.audit`."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from portico import pages
from portico.audit import repository


class ActorOut(BaseModel):
    type: str
    id: str | None = None
    email: str | None = None


class Record(BaseModel):
    at: str
    actor: ActorOut
    action: str
    target: dict[str, Any] | None = None
    ip: str | None = None
    details: dict[str, Any] | None = None


class Log(BaseModel):
    items: list[Record]
    next_cursor: str | None = None


def listing(account_id: str, *, limit: int = pages.DEFAULT_LIMIT, cursor: str | None = None) -> Log:
    """One page of an account's records, newest first."""
    items, last = repository.page(account_id, limit=limit, cursor=cursor)
    return Log(
        items=[
            Record(
                at=str(item["at"]),
                actor=ActorOut(**item.get("actor") or {"type": "system"}),
                action=str(item["action"]),
                target=item.get("target"),
                ip=item.get("ip"),
                details=item.get("details"),
            )
            for item in items
        ],
        next_cursor=pages.encode_cursor(last) if last else None,
    )
