"""Sending work to a queue (SQS): the one place that does. The only queue today is the personal
data export's (``PRIVACY_EXPORT_QUEUE_URL``); its consumer is ``functions/privacy``."""

from __future__ import annotations

import json
from typing import Any

from portico import aws
from portico.config import settings


def send_export(body: dict[str, Any]) -> str:
    """Queue a personal data export; the message id."""
    answer = aws.client("sqs").send_message(
        QueueUrl=settings().privacy_export_queue_url, MessageBody=json.dumps(body, sort_keys=True)
    )
    return str(answer["MessageId"])
