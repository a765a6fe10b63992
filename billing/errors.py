class BillingError(Exception):
    """A billing operation was refused; the message is fit to show as is.

    `field` names the input it is about, in the API's terms (`charges[1].tiers[0].up_to`), so
    forms and the API can attach the message to the right field.
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class PeriodStateError(BillingError):
    """The billing period is not in a state that allows this (the API answers 409)."""
