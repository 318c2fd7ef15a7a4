"""Secrets Portico hands out, and what they stand for while they live.

* Token sessions (:mod:`portico.tokens.sessions`): bearer secrets that stand for someone for a
  while. One core under merchant sessions, portal sessions and login challenges: hashing, the
  absolute and idle lifetimes, refreshing the last use, revocation, single use and the binding to
  the state of a credential.
* One-time links (:mod:`portico.tokens.links`): email verification, password reset, invitation.
* One-time codes (:mod:`portico.tokens.codes`): the 6-digit codes sent by email or SMS (portal
  login and phone codes, a merchant user's phone codes), stored hashed, with their attempts.

Every secret is 256 random bits from the CSPRNG (:func:`portico.ids.new_token`); only its SHA-256
is stored, under a key of its kind (:mod:`portico.keys`). Storage is
:mod:`portico.tokens.repository`.
"""
