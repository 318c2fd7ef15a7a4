"""Sign-up and email verification (contract section 2).

Sign-up creates a *test* account named after the company, its owner with full access, and a
verification token, all in one conditional transaction; then it emails the link. If the email
cannot be sent, the transaction is undone and the caller gets 503, so a retry starts clean and no
account exists that nobody can verify.
"""

from __future__ import annotations

from datetime import timedelta

from portico import clock, ids, keys, ratelimit
from portico.accounts.security import Effective
from portico.auth import captcha, passwords
from portico.auth.policy import check_password
from portico.config import settings
from portico.errors import EmailTaken, InvalidToken, WeakPassword
from portico.identity import repository
from portico.identity.models import ResendVerificationRequest, SignupRequest, SignupResult, VerifyEmailRequest
from portico.locale import negotiate
from portico.notify import email
from portico.observability import logger, metrics

VERIFICATION_VALIDITY = timedelta(hours=24)
RESEND_COOLDOWN_SECONDS = 60
RESEND_PER_HOUR = 5


def _verification_token(user_id: str, address: str) -> tuple[str, dict]:
    secret = ids.new_token()
    now = clock.now()
    expires = now + VERIFICATION_VALIDITY
    item = {
        "token_hash": ids.digest(secret),
        "kind": repository.VERIFY_EMAIL,
        "user_id": user_id,
        "email": address,
        "created_at": clock.iso(now),
        "expires_at": int(expires.timestamp()),
        "ttl": int(expires.timestamp()) + 7 * 86400,
    }
    return secret, item


def _send_verification(address: str, name: str, language: str, secret: str) -> None:
    link = settings().link("verify-email", secret)
    email.send(address, "verify_email", language, {"name": name}, links={"link": link})


def sign_up(body: SignupRequest, *, ip: str, accept_language: str) -> SignupResult:
    captcha.require(body.captcha_token, ip)
    security = Effective()  # a new test account starts with the default security settings
    reasons = check_password(body.password, security.password_policy, personal=(body.name, body.email, body.company))
    if reasons:
        raise WeakPassword(reasons)
    if repository.get_credential(body.email):
        # Fast path before the expensive hash; the transaction below is what guarantees uniqueness.
        raise EmailTaken("An account with this email address already exists.")

    language = negotiate(body.language, accept_language)
    now = clock.now()
    user_id, account_id = ids.new_id("usr"), ids.new_id("acc")
    secret, token = _verification_token(user_id, body.email)
    new = repository.NewOwner(
        credential=passwords.new_credential(
            user_id=user_id,
            email=body.email,
            name=body.name,
            language=language,
            account_id=account_id,
            security=security,
            password=body.password,
            now=now,
            email_verified=False,
            verify_token_hash=token["token_hash"],
        ),
        user={
            "user_id": user_id,
            "email": body.email,
            "name": body.name,
            "language": language,
            "created_at": clock.iso(now),
        },
        account={
            "account_id": account_id,
            "name": body.company,
            "mode": "test",
            "owner_user_id": user_id,
            "user_managers": 1,  # active members holding `users`: never allowed to reach 0
            "language": language,
            "created_at": clock.iso(now),
        },
        membership={
            "account_id": account_id,
            "account_name": body.company,
            "account_mode": "test",
            "user_id": user_id,
            "email": body.email,
            "owner": True,
            "full_access": True,
            "rights": [],
            "status": "active",
            "version": 0,
            "created_at": clock.iso(now),
        },
        token=token,
    )
    try:
        repository.create_owner(new)
    except repository.EmailTaken:
        raise EmailTaken("An account with this email address already exists.") from None
    try:
        _send_verification(body.email, body.name, language, secret)
    except Exception:
        logger.warning("verification email failed; undoing sign-up", extra={"user_id": user_id})
        try:
            repository.remove_owner(new)
        except Exception:  # the 503 below stands; the orphan is logged for an operator
            logger.exception("could not undo sign-up", extra={"user_id": user_id, "account_id": account_id})
        raise
    metrics.add_metric(name="Signups", unit="Count", value=1)
    logger.info("signed up", extra={"user_id": user_id, "account_id": account_id})
    return SignupResult(account_id=account_id, user_id=user_id)


def verify_email(body: VerifyEmailRequest) -> None:
    token_hash = ids.digest(body.token)
    token = repository.get_token(token_hash)
    now = clock.now()
    if (
        token is None
        or token.get("kind") != repository.VERIFY_EMAIL
        or "used_at" in token
        or int(token["expires_at"]) <= int(now.timestamp())
        or not repository.consume_verification(token_hash, str(token["email"]), clock.iso(now), int(now.timestamp()))
    ):
        raise InvalidToken("This link is invalid, used or expired. Request a new one.")
    metrics.add_metric(name="EmailsVerified", unit="Count", value=1)
    logger.info("email verified", extra={"user_id": token["user_id"]})


def resend_verification(body: ResendVerificationRequest) -> None:
    """Send a fresh link if the address belongs to an unverified user; the answer never tells."""
    ratelimit.cooldown("verify-resend", keys.normalise_email(body.email), RESEND_COOLDOWN_SECONDS)
    ratelimit.quota("verify-resend", keys.normalise_email(body.email), RESEND_PER_HOUR, 3600)
    with ratelimit.released_on_failure("verify-resend", keys.normalise_email(body.email)):
        _resend(body)


def _resend(body: ResendVerificationRequest) -> None:
    credential = repository.get_credential(body.email, consistent=True)
    if not credential or credential.get("email_verified"):
        return
    user_id, address = str(credential["user_id"]), str(credential["email"])
    # Everything the email needs is read before the link is replaced: once it is, only the email
    # or the undo may fail, and the undo puts the earlier link back.
    user = repository.get_user(user_id) or {}
    secret, token = _verification_token(user_id, address)
    previous = credential.get("verify_token_hash")
    if not repository.replace_verification_token(address, token, previous):
        return  # verified, or another resend won the race: that one sends its own link
    try:
        _send_verification(address, str(user.get("name", "")), str(user.get("language", "en")), secret)
    except Exception:
        # The earlier link keeps working, as if this resend never happened.
        repository.restore_verification_token(address, token["token_hash"], previous)
        raise
