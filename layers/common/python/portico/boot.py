"""A handler module's cold start: imported first by every ``functions/<group>/app.py``, and
:func:`ready` called once its imports are done.

* The cyclic garbage collector is off while the handler imports. Nothing an import creates is
  garbage, yet with the collector on CPython runs full collections over the growing heap (boto3,
  botocore, Powertools, pydantic's schemas, our models) along the way: 40-55 ms of one module's
  "self" time in ``python -X importtime`` on the development VM.
* boto3 is imported here (with :mod:`portico.aws`), before Powertools and our modules. Measured
  (CPU time of the import, 11-15 interleaved fresh interpreters, ratio to the floor of ``make
  bench``): auth 1.44 -> 1.33 with the collector off, 1.39 with boto3 first, 1.20 with both;
  accounts 1.62 -> 1.50, 1.62, 1.36.
* :func:`ready` creates the handler's AWS clients (in Lambda only, :func:`portico.aws.prewarm`),
  then freezes everything imported so far (``gc.freeze``: later collections, during requests,
  skip these long-lived objects) and turns the collector back on.

Only handler modules import this module: tests and tools importing ``portico`` keep the collector
as they have it. In a process that imports several handler modules (the tests, the local stack's
workers) only the first import turns the collector off, and only the first :func:`ready` freezes.
"""

from __future__ import annotations

import gc

_collecting = gc.isenabled()
gc.disable()

from portico import aws  # noqa: E402  (boto3 with it: after the collector is off, before the rest)

_frozen = False


def ready(*clients: str) -> None:
    """The handler module's imports are done: create its AWS ``clients`` (in Lambda), freeze the
    heap once, and turn the collector back on (unless it was off before this module)."""
    global _frozen
    aws.prewarm(*clients)
    if not _frozen:
        _frozen = True
        gc.freeze()
    if _collecting:
        gc.enable()
