"""What Lambda's event source mapping does for an ``SQS`` event of the template, locally: receive
up to ``BatchSize`` messages, hand them to the function as an SQS event, delete the ones it did,
and leave the others to come back after the queue's visibility timeout (the queue's redrive
policy then moves a message that keeps failing to its dead-letter queue, as SQS does).

:func:`drain` runs rounds until the queue is empty; the local stack runs it in a background
thread, the integration tests call it after a request that queued work.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from typing import Any

import boto3

from infra.local.cfn import Consumer

Invoke = Callable[[dict[str, Any]], Any]


def sqs_event(messages: list[dict[str, Any]], queue_arn: str, region: str) -> dict[str, Any]:
    """The event Lambda builds for a batch of received messages."""
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": m.get("Attributes", {}),
                "messageAttributes": m.get("MessageAttributes", {}),
                "md5OfBody": m.get("MD5OfBody") or hashlib.md5(m["Body"].encode(), usedforsecurity=False).hexdigest(),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": region,
            }
            for m in messages
        ]
    }


def drain(
    consumer: Consumer, invoke: Invoke, *, retry_now: bool = False, rounds: int = 50, sqs: Any = None
) -> dict[str, int]:
    """Deliver the queue's visible messages to ``invoke`` batch by batch; counts of what was done
    and what failed. ``retry_now`` makes a failed message visible again at once (tests of
    retries), instead of after the visibility timeout; ``sqs`` is the client to use (a new one
    when not given)."""
    sqs = sqs or boto3.client("sqs")
    done = failed = 0
    for _ in range(rounds):
        received = sqs.receive_message(
            QueueUrl=consumer.queue_url,
            MaxNumberOfMessages=min(consumer.batch_size, 10),
            AttributeNames=["All"],
            WaitTimeSeconds=0,
        ).get("Messages", [])
        if not received:
            break
        failures: set[str]
        try:
            answer = invoke(sqs_event(received, consumer.queue_arn, sqs.meta.region_name))
        except Exception:  # the invocation failed: the whole batch comes back
            failures = {m["MessageId"] for m in received}
        else:
            failures = set()
            if isinstance(answer, dict) and consumer.reports_failures:
                failures = {str(f.get("itemIdentifier")) for f in answer.get("batchItemFailures") or []}
        ok = [m for m in received if m["MessageId"] not in failures]
        if ok:
            sqs.delete_message_batch(
                QueueUrl=consumer.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(ok)],
            )
        done += len(ok)
        failed += len(received) - len(ok)
        if retry_now:
            for m in received:
                if m["MessageId"] in failures:
                    sqs.change_message_visibility(
                        QueueUrl=consumer.queue_url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0
                    )
    return {"done": done, "failed": failed}


class Poller:
    """Lambda's event source mappings for the template's ``SQS`` events: a daemon thread that
    drains each queue about once a second into its function (``invoke(function_id, event)``
    returns the function's answer, or raises when the invocation failed)."""

    def __init__(self, consumers: list[Consumer], invoke: Callable[[str, dict[str, Any]], Any], interval: float = 1.0):
        self._consumers = consumers
        self._invoke = invoke
        self._interval = interval
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sqs-poller", daemon=True)

    def start(self) -> None:
        if self._consumers:
            self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def _run(self) -> None:
        sqs = boto3.client("sqs")  # one client for the thread's life, not one a second
        while not self._stopping.wait(self._interval):
            for consumer in self._consumers:
                try:
                    drain(consumer, lambda event, c=consumer: self._invoke(c.function_id, event), rounds=5, sqs=sqs)
                except Exception as error:  # the emulation stopping under us, or a bug: say it, go on
                    if not self._stopping.is_set():
                        print(f"infra.local: polling {consumer.event_id} failed: {error!r}", flush=True)
