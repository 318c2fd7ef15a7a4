"""Bodies and answers of the privacy routes (``/me/privacy...`` and
``/accounts/{a}/privacy-requests...``)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import StringConstraints

from portico.fields import Model, RequestBody

RequestType = Literal["export", "deletion", "restriction"]
RequestStatus = Literal["pending", "completed", "rejected"]
FreeText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=1000)]


class Policy(Model):
    version: str
    url: str


class Consent(Model):
    version: str
    accepted_at: str


class MyRequest(Model):
    request_id: str
    type: RequestType
    status: RequestStatus
    created_at: str
    resolved_at: str | None = None


class PrivacyView(Model):
    """``GET /me/privacy``: the policy in force, the user's consent to it (or to an earlier
    version), whether processing is restricted, and the user's requests, newest first."""

    policy: Policy
    consent: Consent | None
    consent_current: bool
    restricted: bool
    requests: list[MyRequest]


class ConsentRequest(RequestBody):
    version: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]


class PrivacyRequestBody(RequestBody):
    reason: FreeText | None = None


class RequestAccepted(Model):
    request_id: str
    status: RequestStatus


class ExportAccepted(Model):
    request_id: str


class AccountRequest(Model):
    """A deletion or restriction request as the admins of one of the person's accounts see it."""

    request_id: str
    type: Literal["deletion", "restriction"]
    status: RequestStatus
    user_id: str
    email: str
    name: str
    reason: str | None = None
    created_at: str
    resolved_at: str | None = None
    resolved_by: str | None = None
    comment: str | None = None


class AccountRequestList(Model):
    items: list[AccountRequest]
    next_cursor: str | None = None


class Resolution(RequestBody):
    action: Literal["complete", "reject"]
    comment: FreeText | None = None
