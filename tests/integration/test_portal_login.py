"""Logging in to the customer portal (README "Customer portal"): the portal's public configuration
and the merchant's settings for it, the emailed one-time code (language, branding, lifetime,
cooldown, single use, attempts, the per-IP limit, unknown and hidden addresses, an email that cannot
be sent), the merchant's one-time link, and the portal session (its own kind of token, the account's
lifetimes, logout, and the end of every session when the portal is turned off).

Everything is asserted as a customer or a merchant sees it: answers, the emails in the outbox, the
portal routes a token opens, the merchant's audit log; the table only to show that a code is
stored hashed.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import re
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from portico import aws, clock, config, ids, store
from portico.observability import logger as powertools_logger
from tests.integration import support
from tests.integration.flows import (  # noqa: F401  (the shared-stack fixtures)
    NEW_PASSWORD,
    Subject,
    World,
    code_in,
    fresh_table,
    link_token,
    owner,
    template_env,
    world,
)
from tests.integration.support import Answer

SIMULATOR = "success@simulator.amazonses.com"
OTHER_IP = "203.0.113.9"


# ----------------------------------------------------------------- a merchant and its customers


@dataclass
class Shop:
    """A signed-up merchant (the owner logged in) whose portal is on."""

    world: World
    s: Subject

    @property
    def account_id(self) -> str:
        return self.s.person.account_id

    def admin(self, method: str, rest: str, body: Any = None) -> Answer:
        """A merchant request, logging in again when the clock moved the session past its idle time."""
        path = f"/accounts/{self.account_id}{rest}"
        answer = self.world.api.call(method, path, body, token=self.s.token)
        if answer.status == 401:
            self.s.token = self.world.login(self.s.person)
            answer = self.world.api.call(method, path, body, token=self.s.token)
        return answer

    def customer(self, email: str, name: str = "Grace Hopper", **body: Any) -> str:
        made = self.admin("POST", "/customers", {"email": email, "name": name, **body})
        assert made.status == 201, made.body
        return str(made.body["customer_id"])

    def portal(self, **settings: Any) -> dict:
        answer = self.admin("PUT", "/portal", settings)
        assert answer.status == 200, answer.body
        return dict(answer.body)

    def security(self, **changes: Any) -> None:
        current = self.admin("GET", "/security")
        assert current.status == 200, current.body
        answer = self.admin("PUT", "/security", {**current.body, **changes})
        assert answer.status == 200, answer.body

    def link(self, customer_id: str) -> str:
        made = self.admin("POST", f"/customers/{customer_id}/portal-session")
        assert made.status == 201, made.body
        return str(made.body["token"])

    # the customer's side

    def ask(self, email: str, **extra: Any) -> Answer:
        return self.world.api.post(f"/portal/{self.account_id}/login", {"email": email, **extra})

    def code(self, email: str) -> str:
        """The code of the newest email to ``email``."""
        return code_in(self.world.outbox(email)[0])

    def verify(self, email: str, code: str) -> Answer:
        return self.world.api.post(f"/portal/{self.account_id}/login/verify", {"email": email, "code": code})

    def exchange(self, token: str) -> Answer:
        return self.world.api.post(f"/portal/{self.account_id}/login/link", {"token": token})

    def logged_in(self, email: str) -> str:
        """Log ``email`` in by code; the portal token."""
        asked = self.ask(email)
        assert asked.status == 202, asked.body
        answer = self.verify(email, self.code(email))
        assert answer.status == 200, answer.body
        return str(answer.body["token"])


def open_shop(world: World, **portal: Any) -> Shop:
    s = Subject()
    owner(world, s)
    shop = Shop(world, s)
    shop.portal(**{"enabled": True, **portal})
    return shop


def address(tag: str) -> str:
    """An address no other test uses (the outbox lives as long as the module's stack)."""
    return f"{tag}{Subject().n}@example.com"


def works(world: World, token: str) -> bool:
    answer = world.api.get("/portal/me", token=token)
    assert answer.status in (200, 401), answer.body
    return answer.status == 200


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def refused(answer: Answer, status: int, code: str) -> bool:
    return answer.status == status and answer.body["code"] == code


@contextlib.contextmanager
def from_ip(ip: str) -> Iterator[None]:
    """Requests sent inside come from ``ip`` (API Gateway's ``sourceIp``), not the Api's default."""
    real = support.Request

    def request(**fields: Any) -> Any:
        return real(**{**fields, "source_ip": ip})

    with pytest.MonkeyPatch.context() as patched:
        patched.setattr(support, "Request", request)
        yield


class _Stdout:
    """Whatever ``sys.stdout`` is when a line is written, as a Lambda function's stdout."""

    def write(self, text: str) -> int:
        return sys.stdout.write(text)

    def flush(self) -> None:
        sys.stdout.flush()


@pytest.fixture
def captured(capsys, caplog):
    """The handlers' log lines as Lambda would ship them, and every log record."""
    caplog.set_level(logging.DEBUG)
    handlers = [h for h in powertools_logger.handlers if isinstance(h, logging.StreamHandler)]
    assert handlers, "Powertools Logger has no stream handler to capture"
    saved = [h.stream for h in handlers]
    for handler in handlers:
        handler.stream = _Stdout()

    def read() -> str:
        out = capsys.readouterr()
        records = [
            f"{vars(r)!r} {logging.Formatter().formatException(r.exc_info) if r.exc_info else ''}"
            for r in caplog.records
        ]
        return "\n".join([out.out, out.err, *records])

    yield read
    for handler, stream in zip(handlers, saved, strict=True):
        handler.stream = stream


def table_dump() -> str:
    client = aws.client("dynamodb")
    items = [store.deserialize(i) for i in client.scan(TableName=config.settings().table_name)["Items"]]
    return json.dumps(items, default=str)


# ----------------------------------------------------------------- configuration


def test_the_public_configuration_shows_the_merchants_branding_and_features(world):
    shop = open_shop(world, accent_color="#AA3300", allow_pause=False, cancel_timing="immediately")
    settings = shop.admin(
        "PATCH",
        "/settings",
        {
            "language": "de",
            "logo_url": "https://example.com/logo.png",
            "company": {"legal_name": "Lovelace Engines GmbH", "address": "Hauptstr. 1, Berlin", "email": "hi@le.de"},
        },
    )
    assert settings.status == 200, settings.body
    answer = world.api.get(f"/portal/{shop.account_id}/config")  # no token: public
    assert answer.status == 200, answer.body
    got = answer.body
    assert got["account_id"] == shop.account_id
    assert got["company"] == {
        "name": "Lovelace Engines GmbH",
        "logo_url": "https://example.com/logo.png",
        "address": "Hauptstr. 1, Berlin",
        "email": "hi@le.de",
    }
    assert got["accent_color"] == "#AA3300"
    assert got["default_language"] == "de" and set(got["languages"]) == {"en", "de"}
    assert got["features"] == {"pause": False, "cancel": True, "payment_methods": True, "order": False}
    assert got["cancel_timing"] == "immediately"
    reasons = {r["id"]: r for r in got["cancellation_reasons"]}
    assert reasons["too_expensive"]["label"] == "Zu teuer"  # in the portal's default language
    assert reasons["too_expensive"]["labels"] == {"en": "Too expensive", "de": "Zu teuer"}

    plan = {"handle": "gold", "name": "Gold", "amount": 990, "currency": "EUR", "interval_unit": "month"}
    assert shop.admin("POST", "/plans", {**plan, "portal_orderable": True}).status == 201
    assert world.api.get(f"/portal/{shop.account_id}/config").body["features"]["order"] is True

    for unknown in ("acc_doesnotexist", "x" * 300):
        missing = world.api.get(f"/portal/{unknown}/config")
        assert refused(missing, 404, "not_found"), missing.body


def test_the_merchant_replaces_the_configuration_whole_and_each_change_is_audited(world):
    shop = open_shop(world)
    defaults = shop.admin("GET", "/portal").body
    assert defaults["enabled"] is True and defaults["hide_unknown_email"] is False
    assert defaults["cancel_timing"] == "period_end" and defaults["blocked_phone_prefixes"] == []
    assert len(defaults["cancellation_reasons"]) == 5

    reasons = [{"id": "price", "labels": {"en": "Price", "de": "Preis"}}]
    changed = shop.portal(accent_color="#112233", allow_pause=False, cancellation_reasons=reasons)
    assert changed["accent_color"] == "#112233" and changed["allow_pause"] is False
    assert changed["cancellation_reasons"] == reasons
    world.clock.advance(1)  # the audit log orders by time: let the second change be later
    replaced = shop.portal(hide_unknown_email=True)  # the omitted fields take their defaults again
    assert replaced == {**defaults, "hide_unknown_email": True}
    assert shop.admin("GET", "/portal").body == replaced

    for bad in (
        {"accent_color": "red"},
        {"accent_color": "#12345"},
        {"cancel_timing": "tomorrow"},
        {"cancellation_reasons": []},
        {"cancellation_reasons": reasons * 2},
        {"blocked_phone_prefixes": ["234"]},
        {"surprise": True},
    ):
        answer = shop.admin("PUT", "/portal", bad)
        assert refused(answer, 422, "validation_error"), (bad, answer.body)
    assert shop.admin("GET", "/portal").body == replaced

    log = shop.admin("GET", "/audit-log")
    assert log.status == 200, log.body
    records = [r for r in log.body["items"] if r["action"] == "portal.settings_changed"]
    assert len(records) == 2, records  # enabling a portal that is on by default changed nothing
    newest, oldest = records
    assert oldest["details"]["before"] == defaults
    assert oldest["details"]["after"]["accent_color"] == "#112233"
    assert newest["details"]["after"] == replaced
    assert newest["actor"]["id"] == shop.s.person.user_id and newest["ip"] == "198.51.100.7"


# ----------------------------------------------------------------- the emailed code


def test_the_code_comes_in_the_customers_language_branded_with_the_merchants_name(world):
    shop = open_shop(world, accent_color="#AA3300")
    assert shop.admin("PATCH", "/settings", {"company": {"legal_name": "Lovelace Engines GmbH"}}).status == 200
    english, german = address("grace"), address("greta")
    shop.customer(english, "Grace Hopper")
    shop.customer(german, "Greta Garbo", language="de")

    answer = shop.ask(english)
    assert answer.status == 202, answer.body
    assert answer.body == {"resend_after_seconds": 60, "expires_in_seconds": 600}
    [mail] = world.outbox(english)
    assert mail["subject"] == "Your login code"
    assert "Hello Grace Hopper" in mail["text"] and "customer portal of Lovelace Engines GmbH" in mail["text"]
    assert "valid for 10 minutes" in mail["text"]
    assert "Lovelace Engines GmbH" in mail["html"] and "#AA3300" in mail["html"]
    assert code_in(mail) in mail["html"]

    assert shop.ask(german).status == 202
    [mail] = world.outbox(german)
    assert mail["subject"] == "Ihr Anmeldecode"
    assert "Hallo Greta Garbo" in mail["text"] and "Kundenportal von Lovelace Engines GmbH" in mail["text"]
    assert "10 Minuten" in mail["text"]

    world.clock.advance(60)
    assert shop.ask(english, language="de").status == 202  # the language asked for wins
    assert world.outbox(english)[0]["subject"] == "Ihr Anmeldecode"
    assert shop.ask(german, language="en").status == 202
    assert world.outbox(german)[0]["subject"] == "Your login code"
    neutral = address("neutral")
    shop.customer(neutral, "Nora Neutral")
    assert shop.admin("PATCH", "/settings", {"language": "de"}).status == 200
    assert shop.ask(neutral).status == 202  # no language of their own: the merchant's
    assert world.outbox(neutral)[0]["subject"] == "Ihr Anmeldecode"

    logged = shop.verify(german, shop.code(german))
    assert logged.status == 200, logged.body
    assert logged.body["customer"]["email"] == german and logged.body["customer"]["name"] == "Greta Garbo"
    assert logged.body["token"].startswith("ptc_") and logged.body["expires_at"].endswith("Z")
    me = world.api.get("/portal/me", token=logged.body["token"])
    assert me.status == 200 and me.body["customer_id"] == logged.body["customer"]["customer_id"], me.body


def test_the_address_is_found_whatever_its_case(world):
    shop = open_shop(world)
    email = address("case")
    shop.customer(email)
    assert shop.ask(email.upper()).status == 202
    answer = shop.verify(email.title(), shop.code(email))
    assert answer.status == 200 and answer.body["customer"]["email"] == email, answer.body


def test_a_code_is_valid_ten_minutes(world):
    shop = open_shop(world)
    early, late = address("early"), address("late")
    shop.customer(early)
    shop.customer(late)
    assert shop.ask(early).status == 202 and shop.ask(late).status == 202
    world.clock.advance(599)
    assert shop.verify(early, shop.code(early)).status == 200
    world.clock.advance(2)  # 601 seconds after it was sent
    answer = shop.verify(late, shop.code(late))
    assert refused(answer, 401, "code_expired"), answer.body


def test_another_code_only_after_a_minute_and_it_replaces_the_first(world):
    shop = open_shop(world)
    email = address("resend")
    shop.customer(email)
    assert shop.ask(email).status == 202
    first = shop.code(email)
    world.clock.advance(20)
    answer = shop.ask(email)
    assert refused(answer, 429, "resend_too_soon"), answer.body
    assert answer.headers["Retry-After"] == "40"
    world.clock.advance(39)
    answer = shop.ask(email)
    assert refused(answer, 429, "resend_too_soon") and answer.headers["Retry-After"] == "1", answer.body
    assert len(world.outbox(email)) == 1, "a refused request sent an email"
    world.clock.advance(1)
    assert shop.ask(email).status == 202
    second = shop.code(email)
    assert len(world.outbox(email)) == 2
    if second != first:  # one in a million they are equal
        answer = shop.verify(email, first)
        assert refused(answer, 401, "invalid_code"), answer.body
    assert shop.verify(email, second).status == 200


def test_a_code_works_once(world):
    shop = open_shop(world)
    email = address("once")
    shop.customer(email)
    assert shop.ask(email).status == 202
    code = shop.code(email)
    first = shop.verify(email, code)
    assert first.status == 200, first.body
    again = shop.verify(email, code)
    assert refused(again, 401, "invalid_code"), again.body
    assert works(world, first.body["token"])


def test_five_wrong_codes_burn_the_code(world):
    shop = open_shop(world)
    email = address("burn")
    shop.customer(email)
    assert shop.ask(email).status == 202
    code = shop.code(email)
    for _ in range(5):
        answer = shop.verify(email, wrong(code))
        assert refused(answer, 401, "invalid_code"), answer.body
    answer = shop.verify(email, code)
    assert refused(answer, 401, "code_exhausted"), answer.body
    world.clock.advance(601)  # once it has expired, a new code starts afresh
    assert shop.ask(email).status == 202
    assert shop.verify(email, shop.code(email)).status == 200


def test_the_fifth_try_may_be_the_right_one_and_spaces_around_it_do_not_matter(world):
    shop = open_shop(world)
    email = address("fifth")
    shop.customer(email)
    assert shop.ask(email).status == 202
    code = shop.code(email)
    for _ in range(4):
        assert refused(shop.verify(email, wrong(code)), 401, "invalid_code")
    answer = shop.verify(email, f" {code} ")
    assert answer.status == 200, answer.body


def together(calls: list[Callable[[], Answer]]) -> list[Answer]:
    """Send ``calls`` at the same moment, one thread each; their answers."""
    barrier = threading.Barrier(len(calls))
    answers: list[Answer] = []
    lock = threading.Lock()

    def send(call: Callable[[], Answer]) -> None:
        barrier.wait()
        answer = call()
        with lock:
            answers.append(answer)

    threads = [threading.Thread(target=send, args=(c,)) for c in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


def test_a_code_or_a_link_sent_several_times_at_once_logs_in_once(world):
    shop = open_shop(world)
    email = address("twice")
    customer_id = shop.customer(email)
    assert shop.ask(email).status == 202
    code = shop.code(email)
    answers = together([lambda: shop.verify(email, code)] * 4)
    assert sorted(a.status for a in answers) == [200, 401, 401, 401], [a.body for a in answers]
    assert all(a.body["code"] == "invalid_code" for a in answers if a.status == 401)

    token = shop.link(customer_id)
    answers = together([lambda: shop.exchange(token)] * 4)
    assert sorted(a.status for a in answers) == [200, 401, 401, 401], [a.body for a in answers]
    assert all(a.body["code"] == "invalid_token" for a in answers if a.status == 401)


@pytest.mark.parametrize("guessers", [5, 8])
def test_parallel_wrong_guesses_share_the_five_attempts(world, guessers):
    shop = open_shop(world)
    email = address("race")
    shop.customer(email)
    assert shop.ask(email).status == 202
    code = shop.code(email)
    guesses = [f"{(int(code) + n) % 1_000_000:06d}" for n in range(1, guessers + 1)]
    answers = together([lambda g=g: shop.verify(email, g) for g in guesses])
    codes = sorted(a.body["code"] for a in answers)
    assert all(a.status == 401 for a in answers), [a.body for a in answers]
    assert codes == ["code_exhausted"] * (guessers - 5) + ["invalid_code"] * 5, codes  # exactly 5 comparisons
    answer = shop.verify(email, code)
    assert refused(answer, 401, "code_exhausted"), answer.body


def test_a_new_code_keeps_the_failures_of_the_one_it_replaces(world):
    shop = open_shop(world)
    email = address("keep")
    shop.customer(email)
    assert shop.ask(email).status == 202
    first = shop.code(email)
    for _ in range(3):
        assert refused(shop.verify(email, wrong(first)), 401, "invalid_code")
    world.clock.advance(60)
    assert shop.ask(email).status == 202
    second = shop.code(email)
    for _ in range(2):
        assert refused(shop.verify(email, wrong(second)), 401, "invalid_code")
    answer = shop.verify(email, second)
    assert refused(answer, 401, "code_exhausted"), answer.body
    world.clock.advance(60)
    assert shop.ask(email).status == 202  # still within the last code's 10 minutes: no new guesses
    answer = shop.verify(email, shop.code(email))
    assert refused(answer, 401, "code_exhausted"), answer.body


def test_a_code_that_could_not_be_sent_does_not_reset_the_failure_count(world, fail_aws):
    shop = open_shop(world)
    email = address("reset")
    shop.customer(email)
    assert shop.ask(email).status == 202
    first = shop.code(email)
    for _ in range(5):
        assert refused(shop.verify(email, wrong(first)), 401, "invalid_code")
    world.clock.advance(60)
    with fail_aws("ses", "SendRawEmail", "Throttling"):
        assert refused(shop.ask(email), 503, "service_unavailable")
    world.clock.advance(1)
    assert shop.ask(email).status == 202
    answer = shop.verify(email, shop.code(email))
    assert refused(answer, 401, "code_exhausted"), answer.body


def test_comparisons_are_limited_per_source_address(world):
    shop = open_shop(world)
    email = address("ip")
    shop.customer(email)
    assert shop.ask(email).status == 202
    code = shop.code(email)
    for _ in range(4):  # four of the code's five attempts
        assert refused(shop.verify(email, wrong(code)), 401, "invalid_code")
    for n in range(26):  # and guesses spread over many addresses: 30 comparisons from this address
        answer = shop.verify(f"victim{n}@example.com", "123456")
        assert refused(answer, 401, "invalid_code"), answer.body
    limited = shop.verify(email, code)
    assert refused(limited, 429, "too_many_requests"), limited.body
    assert 0 < int(limited.headers["Retry-After"]) <= 600
    with from_ip(OTHER_IP):
        answer = shop.verify(email, code)  # the limit held the code back without taking its last attempt
    assert answer.status == 200, answer.body
    world.clock.advance(600)  # the next window
    assert refused(shop.verify(address("later"), "123456"), 401, "invalid_code")


def test_an_unknown_address_is_404(world):
    shop = open_shop(world)
    other = open_shop(world)
    theirs = address("theirs")
    other.customer(theirs)
    for email in (address("nobody"), theirs):
        answer = shop.ask(email)
        assert refused(answer, 404, "unknown_email"), answer.body
        assert world.outbox(email) == []
    answer = shop.verify(theirs, "123456")
    assert refused(answer, 401, "invalid_code"), answer.body


def test_a_hidden_unknown_address_answers_and_costs_as_a_known_one(world, aws_calls):
    shop = open_shop(world, hide_unknown_email=True)
    known, unknown = address("known"), address("unknown")
    shop.customer(known)
    services = ("dynamodb", "ses", "sns", "kms")
    simulated = len(world.outbox(SIMULATOR))
    with aws_calls(services) as for_known:
        answer_known = shop.ask(known)
    with aws_calls(services) as for_unknown:
        answer_unknown = shop.ask(unknown)
    assert answer_known.status == answer_unknown.status == 202
    assert answer_unknown.body == answer_known.body
    assert answer_unknown.headers == answer_known.headers
    assert dict(for_unknown) == dict(for_known), (dict(for_known), dict(for_unknown))
    assert world.outbox(unknown) == []
    [sent] = world.outbox(SIMULATOR)[: len(world.outbox(SIMULATOR)) - simulated]
    assert sent["to"] == [SIMULATOR]  # SES's mailbox simulator: accepted, delivered to nobody

    # the code that went nowhere logs nobody in; the cooldown and the 429 are the same
    answer = shop.verify(unknown, code_in(sent))
    assert refused(answer, 401, "invalid_code"), answer.body
    world.clock.advance(10)
    with aws_calls(services) as for_known:
        again_known = shop.ask(known)
    with aws_calls(services) as for_unknown:
        again_unknown = shop.ask(unknown)
    assert refused(again_known, 429, "resend_too_soon") and refused(again_unknown, 429, "resend_too_soon")
    assert again_known.headers["Retry-After"] == again_unknown.headers["Retry-After"] == "50"
    assert dict(for_unknown) == dict(for_known)
    assert shop.verify(known, shop.code(known)).status == 200


def test_of_several_customers_with_one_address_the_newest_logs_in(world):
    shop = open_shop(world)
    email = address("shared")
    shop.customer(email, "Old Account")
    world.clock.advance(1)
    newest = shop.customer(email, "New Account")
    assert shop.ask(email).status == 202
    assert "Hello New Account" in world.outbox(email)[0]["text"]
    answer = shop.verify(email, shop.code(email))
    assert answer.status == 200, answer.body
    assert answer.body["customer"] == {"customer_id": newest, "email": email, "name": "New Account"}
    assert world.api.get("/portal/me", token=answer.body["token"]).body["customer_id"] == newest


def test_turning_the_portal_off_closes_it_and_ends_its_sessions(world):
    shop = open_shop(world)
    email = address("closed")
    customer_id = shop.customer(email)
    by_code = shop.logged_in(email)
    by_link = shop.exchange(shop.link(customer_id)).body["token"]
    unused_link = shop.link(customer_id)
    other = open_shop(world)
    elsewhere = address("elsewhere")
    other.customer(elsewhere)
    theirs = other.logged_in(elsewhere)
    assert works(world, by_code) and works(world, by_link)

    shop.portal(enabled=False)
    assert not works(world, by_code) and not works(world, by_link)
    config_answer = world.api.get(f"/portal/{shop.account_id}/config")
    assert refused(config_answer, 404, "not_found"), config_answer.body
    world.clock.advance(60)
    login = shop.ask(email)
    assert refused(login, 404, "not_found"), login.body
    link = shop.exchange(unused_link)
    assert link.status in (401, 404), link.body
    assert works(world, theirs), "another account's portal session ended"

    shop.portal(enabled=True)
    assert not works(world, by_code)
    assert shop.ask(email).status == 202


def test_a_code_sent_before_the_portal_was_turned_off_logs_nobody_in(world):
    shop = open_shop(world)
    email = address("late")
    shop.customer(email)
    assert shop.ask(email).status == 202
    shop.portal(enabled=False)
    answer = shop.verify(email, shop.code(email))
    assert answer.status in (401, 404), answer.body


def test_turning_the_portal_off_again_after_a_failure_ends_the_sessions(world, fail_aws):
    shop = open_shop(world)
    email = address("retry")
    shop.customer(email)
    token = shop.logged_in(email)
    with fail_aws("dynamodb", "Query", "ProvisionedThroughputExceededException"):
        failed = shop.admin("PUT", "/portal", {"enabled": False})
    assert refused(failed, 503, "service_unavailable"), failed.body
    assert shop.admin("GET", "/portal").body["enabled"] is False  # the change itself was written
    retried = shop.admin("PUT", "/portal", {"enabled": False})
    assert retried.status == 200, retried.body
    assert not works(world, token), "a portal session outlived the portal"


# ----------------------------------------------------------------- the merchant's link


def test_the_merchants_link_works_once_for_five_minutes_in_its_own_account(world):
    shop = open_shop(world)
    email = address("linked")
    customer_id = shop.customer(email, "Linda Link")
    token = shop.link(customer_id)
    answer = shop.exchange(token)
    assert answer.status == 200, answer.body
    assert answer.body["customer"] == {"customer_id": customer_id, "email": email, "name": "Linda Link"}
    assert works(world, answer.body["token"])
    again = shop.exchange(token)
    assert refused(again, 401, "invalid_token"), again.body

    late = shop.link(customer_id)
    world.clock.advance(301)
    answer = shop.exchange(late)
    assert refused(answer, 401, "invalid_token"), answer.body
    on_time = shop.link(customer_id)
    world.clock.advance(299)
    assert shop.exchange(on_time).status == 200

    other = open_shop(world)
    theirs = other.link(other.customer(address("theirs")))
    answer = shop.exchange(theirs)  # another account's link, on this account's portal
    assert refused(answer, 401, "invalid_token"), answer.body
    assert other.exchange(theirs).status == 200, "the refused attempt used the link up"

    for token in ("", "nonsense", "ptc_" + "a" * 43, "x" * 300):
        answer = shop.exchange(token)
        assert answer.status in (401, 422), answer.body


def test_a_link_of_another_kind_opens_no_portal_session(world):
    shop = open_shop(world)
    person = shop.s.person
    assert world.api.post("/auth/password/forgot", {"email": person.email, "channel": "email"}).status == 202
    reset = link_token(world.outbox(person.email)[0], "reset-password")
    answer = shop.exchange(reset)
    assert refused(answer, 401, "invalid_token"), answer.body

    portal_link = shop.link(shop.customer(address("kinds")))
    wrong_door = world.api.post("/auth/password/reset", {"token": portal_link, "new_password": NEW_PASSWORD})
    assert wrong_door.status in (400, 401), wrong_door.body
    assert shop.exchange(portal_link).status == 200, "the portal link was used up elsewhere"
    changed = world.api.post("/auth/password/reset", {"token": reset, "new_password": NEW_PASSWORD})
    assert changed.status == 200, "the reset link was used up by the portal"


# ----------------------------------------------------------------- the portal session


def test_portal_and_merchant_tokens_are_not_interchangeable(world):
    shop = open_shop(world)
    email = address("kind")
    shop.customer(email)
    portal_token = shop.logged_in(email)
    for path in ("/me", "/me/sessions", f"/accounts/{shop.account_id}", f"/accounts/{shop.account_id}/customers"):
        answer = world.api.get(path, token=portal_token)
        assert refused(answer, 401, "unauthenticated"), (path, answer.body)
    for path in ("/portal/me", "/portal/subscriptions", "/portal/invoices", "/portal/payment-methods"):
        answer = world.api.get(path, token=shop.s.token)
        assert refused(answer, 401, "unauthenticated"), (path, answer.body)
        assert world.api.get(path).status == 401
    assert refused(world.api.post("/portal/logout", token=shop.s.token), 401, "unauthenticated")
    assert works(world, portal_token)


def test_the_session_follows_the_accounts_session_settings_and_use_refreshes_it(world):
    shop = open_shop(world)
    shop.security(session_idle_minutes=5, session_absolute_hours=1)
    email = address("idle")
    customer_id = shop.customer(email)

    asked = shop.ask(email)
    assert asked.status == 202
    answer = shop.verify(email, shop.code(email))
    assert answer.status == 200, answer.body
    token, start = answer.body["token"], world.clock.now
    assert answer.body["expires_at"] == clock.iso_epoch(start + 3600)
    by_link = shop.exchange(shop.link(customer_id))
    assert by_link.body["expires_at"] == clock.iso_epoch(start + 3600)
    linked = by_link.body["token"]

    for _ in range(3):  # in use every 4 minutes: alive past the 5 idle minutes
        world.clock.advance(240)
        assert works(world, token)
    world.clock.advance(301)  # the link's session was left idle all along, this one now too
    assert not works(world, linked)
    assert not works(world, token)

    world.clock.advance(60)
    assert shop.ask(email).status == 202
    token = shop.verify(email, shop.code(email)).body["token"]
    for _ in range(14):  # used every 4 minutes for 56 minutes
        world.clock.advance(240)
        assert works(world, token)
    world.clock.advance(240)  # an hour after it began: the absolute end, however busy
    assert not works(world, token)


def test_logout_ends_the_session(world):
    shop = open_shop(world)
    email = address("bye")
    customer_id = shop.customer(email)
    token = shop.logged_in(email)
    other = shop.exchange(shop.link(customer_id)).body["token"]
    answer = world.api.post("/portal/logout", token=token)
    assert answer.status == 204, answer.body
    assert not works(world, token)
    assert works(world, other), "logout ended the customer's other session"
    assert refused(world.api.post("/portal/logout", token=token), 401, "unauthenticated")
    assert world.api.post("/portal/logout").status == 401


# ----------------------------------------------------------------- failures and secrecy


def test_an_email_that_cannot_be_sent_leaves_no_code_and_no_cooldown(world, fail_aws, monkeypatch):
    shop = open_shop(world)
    email = address("outage")
    shop.customer(email)
    issued: list[str] = []
    new_code = ids.new_code

    def remembered(*args: Any, **kwargs: Any) -> str:
        code = new_code(*args, **kwargs)
        issued.append(code)
        return code

    monkeypatch.setattr(ids, "new_code", remembered)
    with fail_aws("ses", "SendRawEmail", "Throttling"):
        answer = shop.ask(email)
    assert refused(answer, 503, "service_unavailable"), answer.body
    assert world.outbox(email) == []
    [undelivered] = issued
    answer = shop.verify(email, undelivered)
    assert refused(answer, 401, "invalid_code"), answer.body

    world.clock.advance(5)
    retried = shop.ask(email)  # within the minute: the failed request took no cooldown
    assert retried.status == 202, retried.body
    delivered = shop.code(email)
    assert delivered == issued[-1]
    if delivered != undelivered:
        assert refused(shop.verify(email, undelivered), 401, "invalid_code")
    assert shop.verify(email, delivered).status == 200


def test_codes_are_never_logged_and_stored_only_salted_and_hashed(world, captured):
    shop = open_shop(world)
    email = address("secret")
    shop.customer(email)
    captured()
    assert shop.ask(email).status == 202
    code = shop.code(email)
    standalone = re.compile(rf"(?<![0-9A-Za-z]){code}(?![0-9A-Za-z])")
    stored = table_dump()
    assert not standalone.search(stored), "the code is stored in clear"
    assert hashlib.sha256(code.encode()).hexdigest() not in stored, "the code is stored unsalted"
    assert refused(shop.verify(email, wrong(code)), 401, "invalid_code")
    assert shop.verify(email, code).status == 200
    logs = captured()
    assert not standalone.search(logs), "a code is in the log output"
    assert not re.search(rf"(?<![0-9A-Za-z]){wrong(code)}(?![0-9A-Za-z])", logs), "a guess is in the log output"
