class AccountError(Exception):
    """A user-facing problem with an account operation; the message is shown as is."""
