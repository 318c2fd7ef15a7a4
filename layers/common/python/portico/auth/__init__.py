"""Authentication: the login credential, the login step machine, passwords and their recovery,
the second factor, merchant sessions and login challenges.
Storage of credentials is :mod:`portico.auth.repository`."""
