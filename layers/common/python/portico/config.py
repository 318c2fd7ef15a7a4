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

    def __post_init__(self) -> None:
        problems = [
            name
            for name, ok in (
                ("TABLE_NAME", len(self.table_name) >= 3),
                ("IDEMPOTENCY_TABLE_NAME", len(self.idempotency_table_name) >= 3),
                ("SENDER_EMAIL", bool(_EMAIL.match(self.sender_email))),
                ("PUBLIC_URL", _http_url(self.public_url)),
                ("CAPTCHA_VERIFY_URL", not self.captcha_verify_url or _http_url(self.captcha_verify_url)),
            )
            if not ok
        ]
        if problems:
            raise ConfigurationError(f"invalid Portico configuration: {', '.join(problems)}")

    @property
    def captcha_enabled(self) -> bool:
        return bool(self.captcha_verify_url and self.captcha_secret)

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
    )
