class AccountError(Exception):
    """A user-facing problem with an account operation; the message is shown as is."""


class InvitationError(AccountError):
    """An invitation link that cannot be used (unknown, expired, revoked or already used)."""

    def __init__(self, message: str, *, gone: bool = True) -> None:
        super().__init__(message)
        # False when the token matches no invitation at all (404); True when it did once (410).
        self.gone = gone
