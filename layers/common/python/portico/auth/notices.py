"""Security notices: the email a login's owner gets after a change of how they log in (password
changed or reset, 2FA on or off, an admin's 2FA reset).

Sent after the change is committed. The change stands if the notice cannot be sent (the user did
succeed); the failure is logged and counted (``NoticeFailures``) for an operator, rather than
answering 503 for something that happened.
"""

from __future__ import annotations

from portico.auth.credentials import Credential
from portico.notify import email
from portico.observability import logger, metrics


def send(credential: Credential, template: str, values: dict[str, str] | None = None) -> None:
    try:
        email.send(credential.email, template, credential.language, {"name": credential.name, **(values or {})})
    except Exception:
        logger.exception("security notice not sent", extra={"template": template, "user_id": credential.user_id})
        metrics.add_metric(name="NoticeFailures", unit="Count", value=1)
