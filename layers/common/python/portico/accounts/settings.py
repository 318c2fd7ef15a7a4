"""An account's settings: name, language, currency, VAT, time zone, logo and terms URLs, company
details, payouts and the dunning schedule.

``PATCH`` changes only what is sent (``null`` clears the logo, the terms URL or a company detail);
it is conditional on the account's ``version`` and retried when another change won, and its audit
record holds the old and the new values. A new name reaches the memberships too, which carry it
so that a login's list of accounts reads no account: they are renamed first, so a request that
fails answers 503 with the account's name unchanged, and sending it again finishes the rename.
The ``payouts`` right is grantable only while ``payouts_enabled`` (:mod:`portico.accounts.rights`),
and refused at once on every route that needs it when payouts are switched off.
"""

from __future__ import annotations

from typing import Any

from portico import audit
from portico.accounts import repository
from portico.accounts.caller import Caller
from portico.accounts.models import AccountSettings, CompanyDetails, SettingsPatch
from portico.accounts.records import Account, Company
from portico.errors import NotFound, ValidationFailed, define

Conflict = define("Conflict", 409, "conflict", "Conflict")
CLEARABLE = frozenset({"logo_url", "terms_url"})
_ATTEMPTS = 5


def view(account: Account) -> AccountSettings:
    return AccountSettings(
        name=account.name,
        language="de" if account.language == "de" else "en",
        currency=account.currency,
        vat_percent=account.vat_percent,
        timezone=account.timezone,
        logo_url=account.logo_url,
        terms_url=account.terms_url,
        company=CompanyDetails(**account.company.to_item()),
        payouts_enabled=account.payouts_enabled,
        dunning_retry_days=list(account.dunning_retry_days),
    )


def settings(caller: Caller) -> AccountSettings:
    return view(caller.account)


def update(caller: Caller, patch: SettingsPatch, *, ip: str) -> AccountSettings:
    sent = patch.model_fields_set
    refused = [name for name in sent if getattr(patch, name) is None and name not in CLEARABLE | {"company"}]
    if refused:
        raise ValidationFailed([{"loc": ["body", n], "msg": "may not be null", "type": "value_error"} for n in refused])
    for _ in range(_ATTEMPTS):
        before = repository.get_account(caller.account_id, consistent=True)
        if before is None:
            raise NotFound("No such account.")
        changes = _changes(before, patch)
        if not changes:
            return view(before)
        old = {k: _shown(getattr(before, k)) for k in changes}
        new = {k: _shown(v) for k, v in changes.items()}
        event = audit.Event(
            "account.settings_changed",
            caller.actor,
            {"account_id": before.account_id},
            ip,
            {"before": old, "after": new},
        )
        records = audit.records(event, [before.account_id])
        if "name" in changes:  # first: a failure here leaves the account's own name as it was
            repository.rename_memberships(before.account_id, str(changes["name"]))
        if repository.write([repository.update_account_op(before, changes), *records.ops]):
            return view(repository.replace(before, changes))
    raise Conflict("The settings were changed by someone else at the same time; try again.")


def _changes(account: Account, patch: SettingsPatch) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    for name in patch.model_fields_set:
        value = getattr(patch, name)
        if name == "company":
            company = account.company.to_item()
            if value is None:
                company = {}
            else:
                company.update({k: getattr(value, k) for k in value.model_fields_set})
            merged = Company.from_item({k: v for k, v in company.items() if v is not None})
            if merged != account.company:
                changes["company"] = merged
        elif name == "dunning_retry_days":
            if tuple(value) != account.dunning_retry_days:
                changes[name] = tuple(value)
        elif getattr(account, name) != value:
            changes[name] = value
    return changes


def _shown(value: Any) -> Any:
    if isinstance(value, Company):
        return value.to_item()
    if isinstance(value, tuple):
        return list(value)
    if hasattr(value, "as_tuple"):  # a Decimal
        return str(value)
    return value
