"""The catalog: plans, add-ons, discounts and coupons of an account.

* A handle is unique per account and kind, and a coupon code per account case-insensitively:
  a guard item is put with the item in one conditional transaction, so two concurrent creations
  with one handle make one item and one ``409 handle_taken``.
* Nothing is deleted: ``DELETE`` archives (``state: archived``). An archived item still shows on
  what already uses it, and can no longer be used for a new subscription.
* What a subscription was sold with is copied onto it, so a ``PATCH`` never changes the price or
  period of a plan: it changes names, descriptions and what the portal may offer.
* Every change is audited (``catalog.created``, ``catalog.updated``, ``catalog.archived``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, TypeVar

from portico import audit, clock, ids
from portico.accounts.caller import Caller
from portico.billing import repository
from portico.billing.models import (
    AddonCreate,
    AddonPatch,
    AddonView,
    CouponCreate,
    CouponPatch,
    CouponView,
    DiscountCreate,
    DiscountPatch,
    DiscountView,
    PlanCreate,
    PlanPatch,
    PlanView,
)
from portico.billing.records import Addon, Coupon, Discount, Plan
from portico.errors import NotFound, ValidationFailed, define
from portico.records import Record

HandleTaken = define("HandleTaken", 409, "handle_taken", "Handle Taken")
Conflict = define("Conflict", 409, "conflict", "Conflict")
_ATTEMPTS = 5
R = TypeVar("R", Plan, Addon, Discount, Coupon)

_ID_PREFIX = {Plan: "pln", Addon: "add", Discount: "dsc", Coupon: "cpn"}
_NAMES = {Plan: "plan", Addon: "add-on", Discount: "discount", Coupon: "coupon"}


def _new_id(cls: type[Record]) -> str:
    return ids.new_sortable_id(_ID_PREFIX[cls], clock.timestamp())


def _audit(caller: Caller, action: str, record: Record, details: dict[str, Any]) -> audit.Records:
    kind = _NAMES[type(record)]
    target = {"kind": kind, "id": getattr(record, repository.ID_FIELD[type(record)])}
    return audit.records(audit.Event(action, caller.actor, target, None, details), [caller.account_id])


def _create(caller: Caller, record: R, guards: list[dict[str, Any]], taken: str) -> R:
    created = _audit(caller, "catalog.created", record, {"handle": getattr(record, "handle", None)})
    try:
        repository.create_catalog_item(record, guards, created.ops)
    except repository.Taken:
        raise HandleTaken(taken) from None
    return record


def page(cls: type[R], caller: Caller, limit: int, cursor: str | None) -> tuple[list[R], str | None]:
    """One page of the account's items of a kind, oldest first (archived ones included)."""
    return repository.catalog_page(cls, caller.account_id, limit, cursor)


def get(cls: type[R], caller: Caller, item_id: str) -> R:
    found = repository.catalog_get(cls, caller.account_id, item_id) if len(item_id) <= 64 else None
    if found is None:
        raise NotFound(f"No such {_NAMES[cls]}.")
    return found


def _change(cls: type[R], caller: Caller, item_id: str, update: Callable[[R], dict[str, Any]], action: str) -> R:
    """Apply ``update`` (what it returns: the fields to set) to the item as read, at its version."""
    for _ in range(_ATTEMPTS):
        before = get(cls, caller, item_id)
        fields = {k: v for k, v in update(before).items() if getattr(before, k) != v}
        if not fields:
            return before
        after = dataclasses.replace(before, **fields, version=before.version + 1)
        details = {
            "before": {k: _shown(getattr(before, k)) for k in fields},
            "after": {k: _shown(v) for k, v in fields.items()},
        }
        written: audit.Records = _audit(caller, action, before, details)
        if repository.write([repository.catalog_put_op(after, seen=before.version), *written.ops]):
            return after
    raise Conflict("It was changed by someone else at the same time; try again.")


def _shown(value: Any) -> Any:
    return str(value) if hasattr(value, "as_tuple") else value


def _patched(patch: Any) -> Callable[[Any], dict[str, Any]]:
    """The fields a ``PATCH`` sent; ``null`` clears an optional field and is refused for one the
    item cannot be without (a name)."""
    sent = patch.model_fields_set

    def fields(record: Any) -> dict[str, Any]:
        required = {f.name for f in dataclasses.fields(record) if f.default is dataclasses.MISSING}
        refused = [name for name in sent if getattr(patch, name) is None and name in required]
        if refused:
            raise ValidationFailed(
                [{"loc": ["body", n], "msg": "may not be null", "type": "value_error"} for n in refused]
            )
        return {name: getattr(patch, name) for name in sent}

    return fields


def archive(cls: type[R], caller: Caller, item_id: str) -> R:
    return _change(cls, caller, item_id, lambda _: {"state": "archived"}, "catalog.archived")


def usable(cls: type[R], account_id: str, item_id: str) -> R:
    """An item a new subscription may use: it exists in the account and is not archived."""
    found = repository.catalog_get(cls, account_id, item_id) if len(item_id) <= 64 else None
    if found is None or found.state != "active":
        raise ValidationFailed(
            [{"loc": ["body"], "msg": f"no active {_NAMES[cls]} {item_id}", "type": "value_error"}],
            f"The {_NAMES[cls]} does not exist or is archived.",
        )
    return found


# ----------------------------------------------------------------- plans


def create_plan(caller: Caller, body: PlanCreate) -> Plan:
    plan = Plan(
        plan_id=_new_id(Plan),
        account_id=caller.account_id,
        created_at=clock.iso(clock.now()),
        **body.model_dump(),
    )
    guard = repository.handle_guard_op(caller.account_id, "plan", plan.handle, plan.plan_id)
    return _create(caller, plan, [guard], f"A plan with the handle {plan.handle!r} exists in this account.")


def patch_plan(caller: Caller, plan_id: str, body: PlanPatch) -> Plan:
    return _change(Plan, caller, plan_id, _patched(body), "catalog.updated")


def plan_view(plan: Plan) -> PlanView:
    return PlanView(**{k: getattr(plan, k) for k in PlanView.model_fields})


# ----------------------------------------------------------------- add-ons


def create_addon(caller: Caller, body: AddonCreate) -> Addon:
    addon = Addon(
        addon_id=_new_id(Addon), account_id=caller.account_id, created_at=clock.iso(clock.now()), **body.model_dump()
    )
    guard = repository.handle_guard_op(caller.account_id, "addon", addon.handle, addon.addon_id)
    return _create(caller, addon, [guard], f"An add-on with the handle {addon.handle!r} exists in this account.")


def patch_addon(caller: Caller, addon_id: str, body: AddonPatch) -> Addon:
    return _change(Addon, caller, addon_id, _patched(body), "catalog.updated")


def addon_view(addon: Addon) -> AddonView:
    return AddonView(**{k: getattr(addon, k) for k in AddonView.model_fields})


# ----------------------------------------------------------------- discounts


def create_discount(caller: Caller, body: DiscountCreate) -> Discount:
    discount = Discount(
        discount_id=_new_id(Discount),
        account_id=caller.account_id,
        created_at=clock.iso(clock.now()),
        **body.model_dump(),
    )
    guard = repository.handle_guard_op(caller.account_id, "discount", discount.handle, discount.discount_id)
    return _create(caller, discount, [guard], f"A discount with the handle {discount.handle!r} exists in this account.")


def patch_discount(caller: Caller, discount_id: str, body: DiscountPatch) -> Discount:
    return _change(Discount, caller, discount_id, _patched(body), "catalog.updated")


def discount_view(discount: Discount) -> DiscountView:
    return DiscountView(**{k: getattr(discount, k) for k in DiscountView.model_fields})


# ----------------------------------------------------------------- coupons


def create_coupon(caller: Caller, body: CouponCreate) -> Coupon:
    usable(Discount, caller.account_id, body.discount_id)
    coupon = Coupon(
        coupon_id=_new_id(Coupon), account_id=caller.account_id, created_at=clock.iso(clock.now()), **body.model_dump()
    )
    guard = repository.coupon_code_guard_op(coupon)
    return _create(caller, coupon, [guard], f"The coupon code {coupon.code!r} exists in this account.")


def patch_coupon(caller: Caller, coupon_id: str, body: CouponPatch) -> Coupon:
    def fields(coupon: Coupon) -> dict[str, Any]:
        wanted = _patched(body)(coupon)
        limit = wanted.get("max_redemptions")
        if limit is not None and limit < coupon.redemptions:
            raise ValidationFailed(
                [{"loc": ["body", "max_redemptions"], "msg": "below the redemptions so far", "type": "value_error"}]
            )
        return wanted

    return _change(Coupon, caller, coupon_id, fields, "catalog.updated")


def coupon_view(coupon: Coupon) -> CouponView:
    return CouponView(**{k: getattr(coupon, k) for k in CouponView.model_fields})
