"""Sending SMS through SNS (transactional route, so codes are not throttled as marketing)."""

from __future__ import annotations

from portico import aws
from portico.observability import metrics


def send(number: str, text: str) -> str:
    answer = aws.client("sns").publish(
        PhoneNumber=number,
        Message=text,
        MessageAttributes={
            "AWS.SNS.SMS.SMSType": {"DataType": "String", "StringValue": "Transactional"},
            "AWS.SNS.SMS.SenderID": {"DataType": "String", "StringValue": "Portico"},
        },
    )
    metrics.add_metric(name="SmsSent", unit="Count", value=1)
    return str(answer["MessageId"])
