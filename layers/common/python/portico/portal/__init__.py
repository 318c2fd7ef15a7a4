"""The customer portal: what a merchant's customers use to see and manage their subscriptions,
with sessions of their own kind."""
