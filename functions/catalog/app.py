"""Catalog routes: plans, add-ons, discounts and coupons of an account (read by any member,
changed with the right ``settings``; ``DELETE`` archives)."""

from __future__ import annotations

from portico import boot  # first: the collector off and boto3 in before the rest (see portico.boot)

# isort: split
from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Query

from portico import access, http, pages
from portico.accounts.rights import Right
from portico.billing import catalog
from portico.billing.models import (
    AddonCreate,
    AddonList,
    AddonPatch,
    AddonView,
    CouponCreate,
    CouponList,
    CouponPatch,
    CouponView,
    DiscountCreate,
    DiscountList,
    DiscountPatch,
    DiscountView,
    PlanCreate,
    PlanList,
    PlanPatch,
    PlanView,
)
from portico.billing.records import Addon, Coupon, Discount, Plan

boot.ready("dynamodb")

app = http.resolver()

Limit = Annotated[int, Query(ge=1, le=pages.MAX_LIMIT)]
Cursor = Annotated[str | None, Query(max_length=pages.MAX_CURSOR_CHARS)]


def _scope(kind: str) -> str:
    caller = http.caller(app)
    return f"catalog-{kind}#{caller.account_id}#{caller.user_id}"


# ----------------------------------------------------------------- plans


@app.get("/accounts/<account_id>/plans")
@access.member()
def list_plans(account_id: str, limit: Limit = pages.DEFAULT_LIMIT, cursor: Cursor = None) -> PlanList:
    """List the account's plans, archived ones included."""
    items, next_cursor = catalog.page(Plan, http.caller(app), limit, cursor)
    return PlanList(items=[catalog.plan_view(p) for p in items], next_cursor=next_cursor)


@app.post("/accounts/<account_id>/plans")
@access.member(Right.SETTINGS)
def create_plan(account_id: str, body: PlanCreate) -> Response[PlanView]:
    """Create a plan.

    Errors:
        409 handle_taken: another plan of the account has this ``handle``.
    """
    caller = http.caller(app)
    return http.idempotent(app, _scope("plan"), body, lambda: catalog.plan_view(catalog.create_plan(caller, body)))


@app.get("/accounts/<account_id>/plans/<plan_id>")
@access.member()
def get_plan(account_id: str, plan_id: str) -> PlanView:
    """Show one plan of the account."""
    return catalog.plan_view(catalog.get(Plan, http.caller(app), plan_id))


@app.patch("/accounts/<account_id>/plans/<plan_id>")
@access.member(Right.SETTINGS)
def patch_plan(account_id: str, plan_id: str, body: PlanPatch) -> PlanView:
    """Change a plan; what already uses it keeps its terms.

    Errors:
        409 conflict: it was changed by someone else at the same time; try again.
    """
    return catalog.plan_view(catalog.patch_plan(http.caller(app), plan_id, body))


@app.delete("/accounts/<account_id>/plans/<plan_id>")
@access.member(Right.SETTINGS)
def archive_plan(account_id: str, plan_id: str) -> PlanView:
    """Archive a plan: what already uses it keeps it, nothing new can use it.

    Errors:
        409 conflict: it was changed by someone else at the same time; try again.
    """
    return catalog.plan_view(catalog.archive(Plan, http.caller(app), plan_id))


# ----------------------------------------------------------------- add-ons


@app.get("/accounts/<account_id>/addons")
@access.member()
def list_addons(account_id: str, limit: Limit = pages.DEFAULT_LIMIT, cursor: Cursor = None) -> AddonList:
    """List the account's add-ons, archived ones included."""
    items, next_cursor = catalog.page(Addon, http.caller(app), limit, cursor)
    return AddonList(items=[catalog.addon_view(a) for a in items], next_cursor=next_cursor)


@app.post("/accounts/<account_id>/addons")
@access.member(Right.SETTINGS)
def create_addon(account_id: str, body: AddonCreate) -> Response[AddonView]:
    """Create an add-on.

    Errors:
        409 handle_taken: another add-on of the account has this ``handle``.
    """
    caller = http.caller(app)
    return http.idempotent(app, _scope("addon"), body, lambda: catalog.addon_view(catalog.create_addon(caller, body)))


@app.get("/accounts/<account_id>/addons/<addon_id>")
@access.member()
def get_addon(account_id: str, addon_id: str) -> AddonView:
    """Show one add-on of the account."""
    return catalog.addon_view(catalog.get(Addon, http.caller(app), addon_id))


@app.patch("/accounts/<account_id>/addons/<addon_id>")
@access.member(Right.SETTINGS)
def patch_addon(account_id: str, addon_id: str, body: AddonPatch) -> AddonView:
    """Change an add-on; what already uses it keeps its terms.

    Errors:
        409 conflict: it was changed by someone else at the same time; try again.
    """
    return catalog.addon_view(catalog.patch_addon(http.caller(app), addon_id, body))


@app.delete("/accounts/<account_id>/addons/<addon_id>")
@access.member(Right.SETTINGS)
def archive_addon(account_id: str, addon_id: str) -> AddonView:
    """Archive an add-on: what already uses it keeps it, nothing new can use it.

    Errors:
        409 conflict: it was changed by someone else at the same time; try again.
    """
    return catalog.addon_view(catalog.archive(Addon, http.caller(app), addon_id))


# ----------------------------------------------------------------- discounts


@app.get("/accounts/<account_id>/discounts")
@access.member()
def list_discounts(account_id: str, limit: Limit = pages.DEFAULT_LIMIT, cursor: Cursor = None) -> DiscountList:
    """List the account's discounts, archived ones included."""
    items, next_cursor = catalog.page(Discount, http.caller(app), limit, cursor)
    return DiscountList(items=[catalog.discount_view(d) for d in items], next_cursor=next_cursor)


@app.post("/accounts/<account_id>/discounts")
@access.member(Right.SETTINGS)
def create_discount(account_id: str, body: DiscountCreate) -> Response[DiscountView]:
    """Create a discount.

    Errors:
        409 handle_taken: another discount of the account has this ``handle``.
    """
    caller = http.caller(app)
    return http.idempotent(
        app, _scope("discount"), body, lambda: catalog.discount_view(catalog.create_discount(caller, body))
    )


@app.get("/accounts/<account_id>/discounts/<discount_id>")
@access.member()
def get_discount(account_id: str, discount_id: str) -> DiscountView:
    """Show one discount of the account."""
    return catalog.discount_view(catalog.get(Discount, http.caller(app), discount_id))


@app.patch("/accounts/<account_id>/discounts/<discount_id>")
@access.member(Right.SETTINGS)
def patch_discount(account_id: str, discount_id: str, body: DiscountPatch) -> DiscountView:
    """Change a discount; what already uses it keeps its terms.

    Errors:
        409 conflict: it was changed by someone else at the same time; try again.
    """
    return catalog.discount_view(catalog.patch_discount(http.caller(app), discount_id, body))


@app.delete("/accounts/<account_id>/discounts/<discount_id>")
@access.member(Right.SETTINGS)
def archive_discount(account_id: str, discount_id: str) -> DiscountView:
    """Archive a discount: what already uses it keeps it, nothing new can use it.

    Errors:
        409 conflict: it was changed by someone else at the same time; try again.
    """
    return catalog.discount_view(catalog.archive(Discount, http.caller(app), discount_id))


# ----------------------------------------------------------------- coupons


@app.get("/accounts/<account_id>/coupons")
@access.member()
def list_coupons(account_id: str, limit: Limit = pages.DEFAULT_LIMIT, cursor: Cursor = None) -> CouponList:
    """List the account's coupons, archived ones included."""
    items, next_cursor = catalog.page(Coupon, http.caller(app), limit, cursor)
    return CouponList(items=[catalog.coupon_view(c) for c in items], next_cursor=next_cursor)


@app.post("/accounts/<account_id>/coupons")
@access.member(Right.SETTINGS)
def create_coupon(account_id: str, body: CouponCreate) -> Response[CouponView]:
    """Create a coupon.

    Errors:
        409 handle_taken: another coupon of the account has this ``code``.
        422 validation_error: the discount is unknown or archived.
    """
    caller = http.caller(app)
    return http.idempotent(
        app, _scope("coupon"), body, lambda: catalog.coupon_view(catalog.create_coupon(caller, body))
    )


@app.get("/accounts/<account_id>/coupons/<coupon_id>")
@access.member()
def get_coupon(account_id: str, coupon_id: str) -> CouponView:
    """Show one coupon of the account."""
    return catalog.coupon_view(catalog.get(Coupon, http.caller(app), coupon_id))


@app.patch("/accounts/<account_id>/coupons/<coupon_id>")
@access.member(Right.SETTINGS)
def patch_coupon(account_id: str, coupon_id: str, body: CouponPatch) -> CouponView:
    """Change a coupon; what already uses it keeps its terms.

    Errors:
        409 conflict: it was changed by someone else at the same time; try again.
    """
    return catalog.coupon_view(catalog.patch_coupon(http.caller(app), coupon_id, body))


@app.delete("/accounts/<account_id>/coupons/<coupon_id>")
@access.member(Right.SETTINGS)
def archive_coupon(account_id: str, coupon_id: str) -> CouponView:
    """Archive a coupon: what already uses it keeps it, nothing new can use it.

    Errors:
        409 conflict: it was changed by someone else at the same time; try again.
    """
    return catalog.coupon_view(catalog.archive(Coupon, http.caller(app), coupon_id))


lambda_handler = http.entry_point(app)
