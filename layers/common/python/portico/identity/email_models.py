"""Request and response bodies of the email change."""

from __future__ import annotations

from portico.fields import Email, Model, RequestBody, Secret


class ChangeEmailRequest(RequestBody):
    new_email: Email


class ConfirmEmailChangeRequest(RequestBody):
    token: Secret


class EmailChanged(Model):
    email: str
