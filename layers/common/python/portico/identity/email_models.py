"""Request and response bodies of the email change."""

from __future__ import annotations

from pydantic import BaseModel

from portico.fields import Email, RequestBody, Secret


class ChangeEmailRequest(RequestBody):
    new_email: Email


class ConfirmEmailChangeRequest(RequestBody):
    token: Secret


class EmailChanged(BaseModel):
    email: str
