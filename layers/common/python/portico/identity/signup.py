"""Sign-up and email verification.

Sign-up creates a *test* account named after the company, its owner with full access, and a
verification link, all in one conditional transaction; then it emails the link. If the email
cannot be sent, the transaction is undone and the caller gets 503, so a retry starts clean and no
account exists that nobody can verify.
"""

from __future__ import annotations

from datetime import timedelta

from portico import clock, ids, keys, ratelimit
from portico.accounts.records import Account, Membership
from portico.auth import captcha, passwords
from portico.auth import repository as credentials
from portico.config import settings
from portico.errors import EmailTaken, InvalidToken
from portico.identity import repository
from portico.identity.models import ResendVerificationRequest, SignupRequest, SignupResult, VerifyEmailRequest
from portico.locale import negotiate
from portico.notify import email
from portico.observability import logger, metrics
from portico.security.policy import require_strong
from portico.security.settings import Effective
from portico.tokens import links

VERIFICATION_VALIDITY = timedelta(hours=24)
RESEND_COOLDOWN_SECONDS = 60
RESEND_PER_HOUR = 5


def _send_verification(address: str, name: str, language: str, secret: str) -> None:
    link = settings().link("verify-email", secret)
    email.send(address, "verify_email", language, {"name": name}, links={"link": link})


def sign_up(body: SignupRequest, *, ip: str, accept_language: str) -> SignupResult:
    captcha.require(body.captcha_token, ip)
    security = Effective()  # a new test account starts with the default security settings
    require_strong(body.password, security.password_policy, personal=(body.name, body.email, body.company))
    if credentials.get_credential(body.email):
        # Fast path before the expensive hash; the transaction below is what guarantees uniqueness.
        raise EmailTaken("An account with this email address already exists.")

    language = negotiate(body.language, accept_language)
    now = clock.iso(clock.now())
    user_id, account_id = ids.new_id("usr"), ids.new_id("acc")
    secret, link = links.new(links.VERIFY_EMAIL, user_id=user_id, email=body.email, valid_for=VERIFICATION_VALIDITY)
    credential, create = passwords.new_login(
        user_id=user_id,
        email_address=body.email,
        name=body.name,
        language=language,
        account_id=account_id,
        security=security,
        password=body.password,
        verified_at=None,
        verify_token_hash=link.token_hash,
    )
    new = repository.NewOwner(
        credential=credential,
        create_credential=create,
        user=repository.User(user_id=user_id, email=body.email, name=body.name, language=language, created_at=now),
        account=Account(
            account_id=account_id,
            name=body.company,
            mode="test",
            owner_user_id=user_id,
            user_managers=1,
            language=language,
            created_at=now,
        ),
        membership=Membership(
            account_id=account_id,
            account_name=body.company,
            account_mode="test",
            user_id=user_id,
            email=body.email,
            owner=True,
            full_access=True,
            status="active",
            version=0,
            created_at=now,
        ),
        link=link,
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
    link = links.find(body.token, links.VERIFY_EMAIL)
    if link is None or not repository.consume_verification(link, clock.iso(clock.now())):
        raise InvalidToken("This link is invalid, used or expired. Request a new one.")
    metrics.add_metric(name="EmailsVerified", unit="Count", value=1)
    logger.info("email verified", extra={"user_id": link.user_id})


def resend_verification(body: ResendVerificationRequest) -> None:
    """Send a fresh link if the address belongs to an unverified user; the answer never tells."""
    subject = keys.normalise_email(body.email)
    ratelimit.cooldown("verify-resend", subject, RESEND_COOLDOWN_SECONDS)
    ratelimit.quota("verify-resend", subject, RESEND_PER_HOUR, 3600)
    with ratelimit.released_on_failure("verify-resend", subject):
        _resend(body)


def _resend(body: ResendVerificationRequest) -> None:
    credential = credentials.get_credential(body.email)
    if credential is None or credential.email_verified:
        return
    secret, link = links.new(
        links.VERIFY_EMAIL, user_id=credential.user_id, email=credential.email, valid_for=VERIFICATION_VALIDITY
    )
    previous = credential.verify_token_hash
    if not repository.replace_verification(credential.email, link, previous):
        return  # verified, or another resend won the race: that one sends its own link
    try:
        _send_verification(credential.email, credential.name, credential.language, secret)
    except Exception:
        # The earlier link keeps working, as if this resend never happened.
        repository.restore_verification(credential.email, link.token_hash, previous)
        raise
