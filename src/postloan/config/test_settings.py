"""Settings for the test suite: the production settings, served over plain HTTP.

The tests talk to a server on this machine without TLS (the test client and
the browser tests), so HTTPS redirects and secure-only cookies are off; every
other production setting stays as it is.
"""

from .settings import *  # noqa: F403

SECURE_SSL_REDIRECT = False
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
SECURE_HSTS_SECONDS = 0
