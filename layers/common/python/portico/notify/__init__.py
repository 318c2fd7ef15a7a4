"""Notifications: email through SES (templates in English and German) and SMS through SNS."""
