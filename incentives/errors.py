"""Errors of the incentives app: refused operations whose message is fit to show as is."""


class IncentivesError(Exception):
    """An incentives operation was refused; `field` names the input it is about, if any."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class StatementStateError(IncentivesError):
    """The statement is not in a state that allows this (the API answers 409)."""


class DisputeError(IncentivesError):
    """A dispute cannot be opened or resolved as asked."""


class PayoutError(IncentivesError):
    """A payout cannot be sent or changed as asked."""
