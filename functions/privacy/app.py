"""The personal data export consumer: SQS delivers ``{"request_id", "user_id"}`` messages (the
event source mapping of the template's ``PrivacyExportQueue``); each is built and emailed by
:func:`portico.privacy.export.deliver`. A message that fails is reported back alone (partial
batch response), so SQS retries it and then moves it to the dead-letter queue; the others of
the batch are done."""

from __future__ import annotations

from portico import boot  # first: the collector off and boto3 in before the rest (see portico.boot)

# isort: split
import json
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from portico.observability import logger, metrics
from portico.privacy import export

boot.ready("dynamodb", "ses")

processor = BatchProcessor(event_type=EventType.SQS)


def deliver(record: SQSRecord) -> str:
    return export.deliver(json.loads(record.body))


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return process_partial_response(event=event, record_handler=deliver, processor=processor, context=context)
