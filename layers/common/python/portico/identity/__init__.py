"""Identity: the people behind logins and their place in accounts -- sign-up and email verification,
invitations, member administration and the user's own profile. Storage is
:mod:`portico.identity.repository`."""
