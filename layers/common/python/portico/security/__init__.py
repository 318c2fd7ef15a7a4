"""Security rules shared by authentication and account administration: the password policy and an
account's security settings, and what they add up to for a user in several accounts.

Pure models and checks with no storage: :mod:`portico.auth` applies them at login and password
changes, :mod:`portico.accounts` stores them per account.
"""
