"""``GET /_local/outbox``: the emails and SMS the handlers sent, read from moto's backends.

What moto stored is the source of truth: if a handler's call to SES or SNS did not succeed, the
message is not in the outbox. moto does not record when a message was sent, and the time that counts
is ``portico.clock`` (in the local stack: wall time plus the offset ``POST /_local/clock`` adds),
so importing this module wraps the send methods of moto's backends to stamp each message id
with that clock's time. Works the same under ``mock_aws`` (integration tests) and in the local
stack, where moto's server runs in the front's process.

Emails arrive through SES v1 ``SendRawEmail`` and ``SendEmail`` and SES v2 ``SendEmail``
(Simple and Raw; moto implements v2 on top of the v1 backend). moto keeps only one body of a
Simple message (the HTML one when both are given); it is reported as ``html`` when it looks like
HTML, else as ``text``. SMS are SNS ``Publish`` calls with ``PhoneNumber``.
"""

from __future__ import annotations

import copy
import email
import email.policy
import functools
import itertools
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import getaddresses
from typing import Any

from moto.ses.models import Message, RawMessage, SESBackend, ses_backends
from moto.sns.models import SNSBackend, sns_backends

import portico.clock


@dataclass(frozen=True)
class _Stamp:
    sent_at: float
    sequence: int


_stamps: dict[str, _Stamp] = {}
_sequence = itertools.count()
_lock = threading.Lock()
_restored: list[dict[str, Any]] = []
"""Messages of an earlier run (the local state, :mod:`infra.local.state`), newest first: older
than every message sent since."""


def restore(messages: list[dict[str, Any]]) -> None:
    """Show ``messages`` (as :func:`messages` listed them in an earlier run) after the new ones."""
    with _lock:
        _restored[:] = [dict(message) for message in messages]


def count() -> int:
    """How many messages were sent in this process (changes whenever one is)."""
    with _lock:
        return len(_stamps)


def _stamped(send: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(send)
    def stamped_send(self: Any, *args: Any, **kwargs: Any) -> Any:
        result = send(self, *args, **kwargs)
        message_id = result if isinstance(result, str) else result.id
        with _lock:
            _stamps[message_id] = _Stamp(portico.clock.timestamp(), next(_sequence))
        return result

    stamped_send.__wrapped_by_outbox__ = True  # type: ignore[attr-defined]
    return stamped_send


def _install() -> None:
    """Wrap moto's send methods, once per process, to stamp each message with the clock's time.

    The time is ``portico.clock.timestamp()``: the shared clock in the local stack, the fake
    clock in tests that install one.
    """
    for backend, name in ((SESBackend, "send_email"), (SESBackend, "send_raw_email"), (SNSBackend, "publish")):
        send = getattr(backend, name)
        if not getattr(send, "__wrapped_by_outbox__", False):
            setattr(backend, name, _stamped(send))


_install()


def _addresses(values: list[str]) -> list[str]:
    """Bare addresses, deduplicated in order (moto adds the To/Cc headers to Destinations)."""
    found: list[str] = []
    for _, address in getaddresses(values):
        if address and address.lower() not in (known.lower() for known in found):
            found.append(address)
    return found


_parsed: dict[tuple[str, str], dict[str, Any]] = {}  # (id, raw message) -> the email as parsed


def _raw_email(message: RawMessage) -> dict[str, Any]:
    """The email as the outbox shows it, parsed once: every read lists every message, and parsing
    MIME is by far the most expensive part of a read. Keyed by the content too, not by the id
    alone: moto makes ids with ``random``, which tests may reseed to the same sequence."""
    key = (message.id, message.raw_data)
    parsed = _parsed.get(key)
    if parsed is None:
        parsed = _parsed[key] = _parse_raw_email(message)
    return copy.deepcopy(parsed)  # the caller adds to it


def _parse_raw_email(message: RawMessage) -> dict[str, Any]:
    parsed = email.message_from_string(message.raw_data, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    text = parsed.get_body(preferencelist=("plain",))
    html = parsed.get_body(preferencelist=("html",))
    attachments = []
    for part in parsed.iter_attachments():
        content = part.get_payload(decode=True) or b""
        attachments.append(
            {
                "filename": part.get_filename(),
                "content_type": part.get_content_type(),
                "size": len(content),
                # a text attachment (the personal data export's CSV) as text, for reading it here
                **({"text": content.decode("utf-8", "replace")} if part.get_content_maintype() == "text" else {}),
            }
        )
    return {
        "message_id": message.id,
        "channel": "email",
        "to": _addresses(list(message.destinations)),
        "subject": parsed["subject"],
        "text": text.get_content() if text is not None else None,
        "html": html.get_content() if html is not None else None,
        "attachments": attachments,
    }


def _simple_email(message: Message) -> dict[str, Any]:
    recipients = [address for addresses in message.destinations.values() for address in addresses]
    looks_like_html = re.search(r"<[a-zA-Z!/][^>]*>", message.body or "") is not None
    return {
        "message_id": message.id,
        "channel": "email",
        "to": _addresses(recipients),
        "subject": message.subject,
        "text": None if looks_like_html else message.body,
        "html": message.body if looks_like_html else None,
        "attachments": [],
    }


def messages(to: str | None = None) -> list[dict[str, Any]]:
    """Every sent email and SMS, newest first, optionally only those to ``to`` (any case)."""
    found: list[tuple[_Stamp | None, dict[str, Any]]] = []
    for account in list(ses_backends.values()):
        for backend in list(account.values()):
            for sent in list(backend.sent_messages):
                if isinstance(sent, RawMessage):
                    found.append((_stamps.get(sent.id), _raw_email(sent)))
                elif isinstance(sent, Message):
                    found.append((_stamps.get(sent.id), _simple_email(sent)))
    for account in list(sns_backends.values()):
        for backend in list(account.values()):
            for message_id, (phone, text) in list(backend.sms_messages.items()):
                sms = {
                    "message_id": message_id,
                    "channel": "sms",
                    "to": [phone],
                    "subject": None,
                    "text": text,
                    "html": None,
                    "attachments": [],
                }
                found.append((_stamps.get(message_id), sms))
    if to:
        wanted = to.lower()
        found = [item for item in found if wanted in (r.lower() for r in item[1]["to"])]
    found.sort(key=lambda item: -1 if item[0] is None else item[0].sequence, reverse=True)
    result = []
    for stamp, message in found:
        message["sent_at"] = None if stamp is None else iso_seconds(stamp.sent_at)
        result.append(message)
    with _lock:
        earlier = [copy.deepcopy(message) for message in _restored]
    if to:
        earlier = [message for message in earlier if wanted in (r.lower() for r in message.get("to") or [])]
    return result + earlier


def iso_seconds(epoch: float) -> str:
    """ISO 8601 UTC with ``Z``, as the API speaks it (``portico.clock.iso``)."""
    return portico.clock.iso(datetime.fromtimestamp(epoch, tz=UTC))
