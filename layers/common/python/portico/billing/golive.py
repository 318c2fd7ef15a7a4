"""Going live: a test account gets its linked live account, with copies of the product catalog
(plans, add-ons, discounts, coupons) and of the users with their rights -- nothing else: settings,
customers, subscriptions and invoices stay in the test account.

The copy is resumable rather than one transaction (a catalog and a team outgrow DynamoDB's 100
items): the test account first reserves the live account's id (``go_live``, a conditional write,
so two requests at once copy into one account) and creates it ``opening``: nobody can use it
yet (404, as for no account). Every copy is then written as its original is now, under an id
derived from the live account and the original, and the test account is marked live and the live
one opened last, in one transaction, with the live account's count of user managers as copied.
An interruption leaves ``go_live`` in place; calling again resumes with the same live account,
brings every copy up to date (an item archived or a right changed meanwhile) and removes the
copies of members who left the test account meanwhile. Once marked, a second call is ``409
already_live``.
"""

from __future__ import annotations

import dataclasses

from portico import audit, clock, ids
from portico.accounts import repository as accounts
from portico.accounts import security as effective
from portico.accounts.caller import Caller
from portico.accounts.models import GoLive
from portico.accounts.records import Account
from portico.accounts.rights import manages_users
from portico.billing import repository
from portico.billing.records import Addon, Coupon, Discount, Plan
from portico.errors import define
from portico.identity import repository as identity

AlreadyLive = define("AlreadyLive", 409, "already_live", "Already Live")
Conflict = define("Conflict", 409, "conflict", "Conflict")


def go_live(caller: Caller, *, ip: str) -> GoLive:
    account = accounts.get_account(caller.account_id, consistent=True) or caller.account
    if account.mode == "live" or (account.live_account_id and not account.go_live):
        raise AlreadyLive("This account is live, or already has its live account.")
    resuming = account.go_live is not None
    live_id = _reserve(account)
    members = [m for m in accounts.all_members(account.account_id) if not m.invited]
    live = Account(
        account_id=live_id,
        name=account.name,
        mode="live",
        language=account.language,
        owner_user_id=account.owner_user_id,
        test_account_id=account.account_id,
        created_at=clock.iso(clock.now()),
        opening=True,
    )
    accounts.put_if_absent(live)
    _copy_catalog(account.account_id, live_id)
    for membership in members:
        identity.copy_membership(membership, live)
    if resuming:  # members who left the test account since the interrupted attempt
        staying = {m.user_id for m in members}
        for copied in accounts.all_members(live_id):
            if copied.user_id not in staying:
                identity.remove_copy(copied)
    for membership in members:
        effective.refresh_login(membership.email)
    event = audit.Event(
        "account.went_live", caller.actor, {"account_id": account.account_id}, ip, {"live_account_id": live_id}
    )
    records = audit.records(event, [account.account_id, live_id])
    managers = sum(1 for m in members if manages_users(m))
    finish = [accounts.finish_go_live_op(account.account_id, live_id), accounts.open_live_op(live_id, managers)]
    if not accounts.write([*finish, *records.ops]):
        raise AlreadyLive("This account went live meanwhile.")
    return GoLive(live_account_id=live_id)


def _reserve(account: Account) -> str:
    """The live account's id: the one a go-live in progress reserved, or a new one reserved now."""
    if account.go_live:
        return str(account.go_live["live_account_id"])
    live_id = ids.new_id("acc")
    if accounts.write([accounts.reserve_go_live_op(account.account_id, live_id, clock.iso(clock.now()))]):
        return live_id
    fresh = accounts.get_account(account.account_id, consistent=True)
    if fresh is not None and fresh.go_live:
        return str(fresh.go_live["live_account_id"])
    raise AlreadyLive("This account is live, or already has its live account.")


def _copy_catalog(test_id: str, live_id: str) -> None:
    """Copy every plan, add-on, discount and coupon as it is now (archived ones too: the live
    account starts with the same history of handles)."""

    def copy_id(prefix: str, original: str) -> str:
        return ids.derived_id(prefix, f"{live_id}:{original}", sorted_as=original)

    for plan in repository.catalog_all(Plan, test_id):
        repository.copy_catalog_item(
            dataclasses.replace(plan, account_id=live_id, plan_id=copy_id("pln", plan.plan_id), version=0)
        )
    for addon in repository.catalog_all(Addon, test_id):
        repository.copy_catalog_item(
            dataclasses.replace(addon, account_id=live_id, addon_id=copy_id("add", addon.addon_id), version=0)
        )
    for discount in repository.catalog_all(Discount, test_id):
        repository.copy_catalog_item(
            dataclasses.replace(
                discount, account_id=live_id, discount_id=copy_id("dsc", discount.discount_id), version=0
            )
        )
    for coupon in repository.catalog_all(Coupon, test_id):
        repository.copy_catalog_item(
            dataclasses.replace(
                coupon,
                account_id=live_id,
                coupon_id=copy_id("cpn", coupon.coupon_id),
                discount_id=copy_id("dsc", coupon.discount_id),
                redemptions=0,
                version=0,
            )
        )
