"""Sending email through SES as MIME messages (text + HTML, optional attachments).

One code path for every message: ``SendRawEmail`` carries attachments (the personal data export
needs them) as well as plain notices. The ``Date`` header follows :mod:`portico.clock`.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from portico import aws, clock
from portico.config import settings
from portico.notify.templates import render
from portico.observability import metrics


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    data: bytes


def send(
    to: str,
    template: str,
    language: str,
    values: dict[str, str],
    attachments: tuple[Attachment, ...] = (),
    *,
    links: dict[str, str] | None = None,
) -> str:
    """Render ``template`` in ``language`` (``values`` are untrusted text, ``links`` Portico's own
    URLs, see :mod:`portico.notify.templates`) and send it to ``to``; the SES message id."""
    rendered = render(template, language, values, links)
    message = EmailMessage()
    message["From"] = settings().sender_email
    message["To"] = to
    message["Subject"] = rendered.subject
    message["Date"] = format_datetime(clock.now())
    message["Message-ID"] = make_msgid(domain=settings().sender_email.split("@", 1)[1])
    message.set_content(rendered.text)
    message.add_alternative(rendered.html, subtype="html")
    for item in attachments:
        maintype, _, subtype = item.content_type.partition("/")
        message.add_attachment(item.data, maintype=maintype, subtype=subtype, filename=item.filename)
    answer = aws.client("ses").send_raw_email(
        Source=settings().sender_email,
        Destinations=[to],
        RawMessage={"Data": message.as_bytes()},
    )
    metrics.add_metric(name="EmailsSent", unit="Count", value=1)
    return str(answer["MessageId"])
