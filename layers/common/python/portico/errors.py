"""The error model: domain errors carry a status and a stable ``code``.

Services raise these; :mod:`portico.http` turns every one of them into an RFC 9457 problem
document in one place. Handlers never build error responses themselves.
"""

from __future__ import annotations

from typing import Any


class PorticoError(Exception):
    status: int = 400
    code: str = "bad_request"
    title: str = "Bad Request"

    def __init__(self, detail: str | None = None, *, headers: dict[str, str] | None = None, **extra: Any):
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.headers = headers or {}
        self.extra = extra

    def problem(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": "about:blank",
            "title": self.title,
            "status": self.status,
            "code": self.code,
            "detail": self.detail,
        }
        body.update(self.extra)
        return body


def define(name: str, status: int, code: str, title: str) -> type[PorticoError]:
    """A domain error class with its HTTP status and stable code."""
    return type(name, (PorticoError,), {"status": status, "code": code, "title": title})


class ValidationFailed(PorticoError):
    """422 with the offending locations, shaped like the API's ``errors`` list (docs/api.md, "Errors")."""

    status = 422
    code = "validation_error"
    title = "Unprocessable Content"

    def __init__(self, errors: list[dict[str, Any]], detail: str = "The request body is not valid."):
        super().__init__(detail, errors=errors)


class WeakPassword(PorticoError):
    status = 422
    code = "weak_password"
    title = "Weak Password"

    def __init__(self, reasons: list[str]):
        super().__init__("The password does not meet the password policy.", reasons=reasons)


class TooManyRequests(PorticoError):
    status = 429
    code = "too_many_requests"
    title = "Too Many Requests"

    def __init__(self, retry_after: int, detail: str | None = None, code: str | None = None):
        retry = str(max(1, retry_after))
        super().__init__(detail or "Too many requests; try again later.", headers={"Retry-After": retry})
        if code:
            self.code = code


MalformedJson = define("MalformedJson", 400, "malformed_json", "Malformed JSON")
PayloadTooLarge = define("PayloadTooLarge", 413, "payload_too_large", "Payload Too Large")
UnsupportedMediaType = define("UnsupportedMediaType", 415, "unsupported_media_type", "Unsupported Media Type")
NotFound = define("NotFound", 404, "not_found", "Not Found")
Unauthenticated = define("Unauthenticated", 401, "unauthenticated", "Unauthorized")
Forbidden = define("Forbidden", 403, "forbidden", "Forbidden")
InvalidToken = define("InvalidToken", 400, "invalid_token", "Invalid Token")
CaptchaFailed = define("CaptchaFailed", 400, "captcha_failed", "Captcha Failed")
EmailTaken = define("EmailTaken", 409, "email_taken", "Email Taken")
InternalError = define("InternalError", 500, "internal_error", "Internal Server Error")
ServiceUnavailable = define("ServiceUnavailable", 503, "service_unavailable", "Service Unavailable")
