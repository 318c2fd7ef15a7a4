"""Settings read once from the environment and validated.

The SAM template sets these variables on every function (``Globals.Function.Environment``); the
local stack sets the same ones, resolved against the embedded emulation. A missing or malformed
variable fails the cold start loudly (naming the variable, never its value) instead of failing a
request later. A plain dataclass rather than a pydantic model: it is on every cold start's path.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from functools import lru_cache
from urllib.parse import urlsplit

SUPPORTED_LANGUAGES = ("en", "de")
DEFAULT_LANGUAGE = "en"
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")


class ConfigurationError(RuntimeError):
    pass


def _http_url(value: str) -> bool:
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


@dataclass(frozen=True)
class Settings:
    table_name: str
    idempotency_table_name: str
    sender_email: str
    public_url: str
    stage: str = "dev"
    kms_key_id: str = ""
    captcha_verify_url: str = ""
    captcha_secret: str = field(default="", repr=False)
    payment_gateway: str = "test"
    local: bool = False
    # the privacy policy users consent to: its version (any label, e.g. a date) and where it is read
    privacy_policy_version: str = "1"
    privacy_policy_url: str = ""
    privacy_export_queue_url: str = ""

    def __post_init__(self) -> None:
        problems = [
            name
            for name, ok in (
                ("TABLE_NAME", len(self.table_name) >= 3),
                ("IDEMPOTENCY_TABLE_NAME", len(self.idempotency_table_name) >= 3),
                ("SENDER_EMAIL", bool(_EMAIL.match(self.sender_email))),
                ("PUBLIC_URL", _http_url(self.public_url)),
                ("CAPTCHA_VERIFY_URL", not self.captcha_verify_url or _http_url(self.captcha_verify_url)),
                ("PRIVACY_POLICY_VERSION", 1 <= len(self.privacy_policy_version) <= 64),
                ("PRIVACY_POLICY_URL", not self.privacy_policy_url or _http_url(self.privacy_policy_url)),
            )
            if not ok
        ]
        if problems:
            raise ConfigurationError(f"invalid Portico configuration: {', '.join(problems)}")

    @property
    def captcha_enabled(self) -> bool:
        return bool(self.captcha_verify_url and self.captcha_secret)

    @property
    def privacy_policy(self) -> str:
        """Where the privacy policy is read: PRIVACY_POLICY_URL, else the web app's /privacy."""
        return self.privacy_policy_url or f"{self.public_url.rstrip('/')}/privacy"

    def link(self, page: str, token: str) -> str:
        """A link into the web app as the contract shapes it: {PUBLIC_URL}/<page>?token=<token>."""
        return f"{self.public_url.rstrip('/')}/{page}?token={token}"


@lru_cache(maxsize=1)
def settings() -> Settings:
    env = os.environ
    return Settings(
        stage=env.get("PORTICO_STAGE", "dev"),
        table_name=env.get("TABLE_NAME", ""),
        idempotency_table_name=env.get("IDEMPOTENCY_TABLE_NAME", ""),
        kms_key_id=env.get("KMS_KEY_ID", ""),
        sender_email=env.get("SENDER_EMAIL", ""),
        public_url=env.get("PUBLIC_URL", ""),
        captcha_verify_url=env.get("CAPTCHA_VERIFY_URL", ""),
        captcha_secret=env.get("CAPTCHA_SECRET", ""),
        payment_gateway=env.get("PAYMENT_GATEWAY", "test"),
        local=env.get("PORTICO_LOCAL", "") == "1",
        privacy_policy_version=env.get("PRIVACY_POLICY_VERSION", "1"),
        privacy_policy_url=env.get("PRIVACY_POLICY_URL", ""),
        privacy_export_queue_url=env.get("PRIVACY_EXPORT_QUEUE_URL", ""),
    )


# ---------------------------------------------------------------- password hashing

ARGON2_OWASP_MIN_MEMORY_KIB = {1: 47_104, 2: 19_456, 3: 12_288, 4: 9_216, 5: 7_168}
"""OWASP's Password Storage Cheat Sheet: the least memory (KiB) for Argon2id at each time cost
(equivalent settings; parallelism 1). A time cost above 5 needs at least the memory of 5."""


@dataclass(frozen=True)
class Argon2Parameters:
    """Argon2id's cost (:mod:`portico.auth.hashing`): ``ARGON2_MEMORY_KIB``, ``ARGON2_TIME_COST``
    and ``ARGON2_PARALLELISM``; never below OWASP's table, never above what a 1024 MB function
    can spare (256 MiB)."""

    memory_kib: int = 19_456
    time_cost: int = 2
    parallelism: int = 1

    def __post_init__(self) -> None:
        floor = ARGON2_OWASP_MIN_MEMORY_KIB[min(max(self.time_cost, 1), 5)]
        problems = [
            name
            for name, ok in (
                ("ARGON2_TIME_COST", 1 <= self.time_cost <= 10),
                ("ARGON2_MEMORY_KIB", self.memory_kib <= 256 * 1024),
                ("ARGON2_MEMORY_KIB with ARGON2_TIME_COST (below OWASP's table)", self.memory_kib >= floor),
                ("ARGON2_PARALLELISM", 1 <= self.parallelism <= 4),
            )
            if not ok
        ]
        if problems:
            raise ConfigurationError(f"invalid Portico configuration: {', '.join(problems)}")


@lru_cache(maxsize=1)
def argon2_parameters() -> Argon2Parameters:
    """The Argon2id parameters from the environment (unset: the defaults). Apart from
    :func:`settings`: hashing needs none of the table settings."""
    defaults = Argon2Parameters()
    values = {}
    for name, variable in (
        ("memory_kib", "ARGON2_MEMORY_KIB"),
        ("time_cost", "ARGON2_TIME_COST"),
        ("parallelism", "ARGON2_PARALLELISM"),
    ):
        raw = os.environ.get(variable, "").strip()
        if not raw:
            values[name] = getattr(defaults, name)
        elif raw.isascii() and raw.isdigit():
            values[name] = int(raw)
        else:
            raise ConfigurationError(f"invalid Portico configuration: {variable}")
    return Argon2Parameters(**values)
