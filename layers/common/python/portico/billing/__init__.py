"""Billing: the catalog (plans, add-ons, discounts, coupons), customers and their payment methods,
subscriptions and their state machine, invoices with VAT, the payment gateway port, and the renewal
with dunning. Storage is :mod:`portico.billing.repository`."""
