class PaymentError(Exception):
    """A payment operation was refused; the message is fit to show as is. `field` names the
    input it is about (form field / API field)."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class StripeNotConfigured(PaymentError):
    """No Stripe keys are set: payments are recorded by hand."""
