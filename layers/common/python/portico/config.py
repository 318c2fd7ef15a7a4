"""Settings read once from the environment and validated.

The SAM template sets these variables on every function (``Globals.Function.Environment``); the
local stack sets the same ones, resolved against the embedded emulation. A missing or malformed
variable fails the cold start loudly instead of failing a request later.
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Annotated

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, ValidationError, field_validator

SUPPORTED_LANGUAGES = ("en", "de")
DEFAULT_LANGUAGE = "en"


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    stage: str = "dev"
    table_name: Annotated[str, Field(min_length=3)]
    idempotency_table_name: Annotated[str, Field(min_length=3)]
    kms_key_id: str = ""
    sender_email: Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+$")]
    public_url: AnyHttpUrl
    captcha_verify_url: str = ""
    captcha_secret: str = Field(default="", repr=False)
    local: bool = False

    @field_validator("captcha_verify_url")
    @classmethod
    def _url_or_empty(cls, value: str) -> str:
        if value and not value.startswith(("https://", "http://")):
            raise ValueError("must be an http(s) URL or empty")
        return value

    @property
    def captcha_enabled(self) -> bool:
        return bool(self.captcha_verify_url and self.captcha_secret)

    def link(self, page: str, token: str) -> str:
        """A link into the web app as the contract shapes it: {PUBLIC_URL}/<page>?token=<token>."""
        return f"{str(self.public_url).rstrip('/')}/{page}?token={token}"


class ConfigurationError(RuntimeError):
    pass


@lru_cache(maxsize=1)
def settings() -> Settings:
    env = os.environ
    try:
        return Settings(
            stage=env.get("PORTICO_STAGE", "dev"),
            table_name=env.get("TABLE_NAME", ""),
            idempotency_table_name=env.get("IDEMPOTENCY_TABLE_NAME", ""),
            kms_key_id=env.get("KMS_KEY_ID", ""),
            sender_email=env.get("SENDER_EMAIL", ""),
            public_url=env.get("PUBLIC_URL", ""),
            captcha_verify_url=env.get("CAPTCHA_VERIFY_URL", ""),
            captcha_secret=env.get("CAPTCHA_SECRET", ""),
            local=env.get("PORTICO_LOCAL", "") == "1",
        )
    except ValidationError as exc:  # pragma: no cover - exercised by the config unit test
        fields = ", ".join(".".join(str(p) for p in e["loc"]) for e in exc.errors())
        raise ConfigurationError(f"invalid Portico configuration: {fields}") from None
