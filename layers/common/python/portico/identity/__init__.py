"""Identity: the people behind logins and their place in accounts -- sign-up and email
verification, invitations, member administration and the user's own profile (contract sections 2,
7 and 8). Storage is :mod:`portico.identity.repository`."""
