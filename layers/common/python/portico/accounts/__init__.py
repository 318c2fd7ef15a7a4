"""Accounts: the account, its memberships and rights, its security settings, and who is acting in it
(:class:`~portico.accounts.caller.Caller`). Storage is :mod:`portico.accounts.repository`."""
