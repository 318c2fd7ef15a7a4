"""The payment gateway port: how Portico charges a card it knows only by its provider's token.

A gateway has two operations (:class:`Gateway`):

* ``charge(token, amount, currency, idempotency_key)`` charges once per key: asked again with the
  same key (after a timeout, a crash, a retry), a gateway answers the outcome of the first charge
  and charges nothing more. Every real provider offers this (Stripe's ``Idempotency-Key``,
  Adyen's ``idempotency-key``, Braintree's ``order_id`` with duplicate checking);
* ``lookup(idempotency_key)``: the outcome of the charge made with that key, or None when the
  provider never received one (Stripe: search the PaymentIntents by the key kept in their
  metadata; Adyen: the payment of the ``merchantReference``);
* ``refund(reference, amount, idempotency_key)``, optional.

It answers a :class:`Charge` (``succeeded`` or ``declined``, with the provider's reference) or
raises :class:`GatewayTimeout` when it cannot tell: then Portico keeps the invoice ``pending`` and
the renewal job looks the key up a minute later (the functions' timeout is shorter, so the request
that charged has ended by then): a charge it finds is recorded; one never made is made then, with
the same key. A first charge's request that answered 503 and is sent again with its
``Idempotency-Key`` finds its invoice rather than making another. No invoice is ever charged twice.

The bundled :class:`TestGateway` needs no provider: it declines tokens that contain ``fail``, and
for tokens that contain ``timeout`` it charges, then times out before answering (the case the
recovery exists for). It keeps its charges in the table under their keys, as a provider would.

Plugging in a real provider: write a class with ``charge`` and ``lookup`` (and ``refund``) that
call the provider with the key, and set ``PAYMENT_GATEWAY=package.module:ClassName`` (the template's
``PaymentGateway`` parameter); :func:`gateway` builds it once per container.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal, Protocol

from portico import clock, ids
from portico.billing import repository
from portico.config import ConfigurationError, settings


@dataclass(frozen=True)
class Charge:
    status: Literal["succeeded", "declined"]
    reference: str
    decline_code: str | None = None


class GatewayTimeout(Exception):
    """The gateway did not answer in time: the charge may or may not have happened."""


class Gateway(Protocol):
    def charge(self, token: str, amount: int, currency: str, idempotency_key: str) -> Charge: ...

    def lookup(self, idempotency_key: str) -> Charge | None: ...

    def refund(self, reference: str, amount: int, idempotency_key: str) -> Charge: ...


class TestGateway:
    """The bundled gateway for tests, the local stack and demos (see the module's docstring)."""

    def charge(self, token: str, amount: int, currency: str, idempotency_key: str) -> Charge:
        declined = "fail" in token
        recorded = repository.gateway_record_put(
            idempotency_key,
            {
                "status": "declined" if declined else "succeeded",
                "reference": ids.new_sortable_id("txn", clock.timestamp()).replace("txn_", "ch_"),
                "decline_code": "card_declined" if declined else None,
                "amount": amount,
                "currency": currency,
                "at": clock.iso(clock.now()),
            },
        )
        if "timeout" in token:
            raise GatewayTimeout("the test gateway charged, then did not answer")
        return Charge(str(recorded["status"]), str(recorded["reference"]), recorded.get("decline_code"))  # type: ignore[arg-type]

    def lookup(self, idempotency_key: str) -> Charge | None:
        recorded = repository.gateway_record(idempotency_key)
        if recorded is None:
            return None
        return Charge(recorded["status"], str(recorded["reference"]), recorded.get("decline_code"))

    def refund(self, reference: str, amount: int, idempotency_key: str) -> Charge:
        recorded = repository.gateway_record_put(
            idempotency_key, {"status": "succeeded", "reference": f"re_{reference}", "amount": amount}
        )
        return Charge("succeeded", str(recorded["reference"]))


@lru_cache(maxsize=1)
def gateway() -> Gateway:
    """The configured gateway: ``PAYMENT_GATEWAY`` is ``test`` (the default) or ``module:Class``."""
    name = settings().payment_gateway
    if name in ("", "test"):
        return TestGateway()
    module, _, cls = name.partition(":")
    try:
        factory = getattr(importlib.import_module(module), cls)
    except (ImportError, AttributeError) as exc:
        raise ConfigurationError("invalid Portico configuration: PAYMENT_GATEWAY") from exc
    built: Gateway = factory()
    return built
