"""Optional bearer-token auth: a request passes when its token equals one configured."""

from __future__ import annotations

import hmac
from collections.abc import Sequence

from chaincrawler.transports.errors import ApiError


class TokenCheck:
    """Checks bearer tokens in constant time; with no tokens configured, everything passes."""

    def __init__(self, tokens: Sequence[str]) -> None:
        self._tokens = [t.encode() for t in tokens]

    @property
    def enabled(self) -> bool:
        return bool(self._tokens)

    def allows(self, token: str | None) -> bool:
        """Whether ``token`` is one of the configured tokens (compares against every one)."""
        if not self._tokens:
            return True
        given = (token or "").encode()
        matched = False
        for known in self._tokens:
            matched |= hmac.compare_digest(given, known)
        return matched and token is not None

    def check(self, token: str | None) -> None:
        """Raise 401 unless ``token`` (from ``Authorization: Bearer``) is a configured one."""
        if not self.allows(token):
            raise ApiError(401, "unauthorized", "a valid bearer token is required "
                           "(Authorization: Bearer <token>)")
