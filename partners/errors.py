class PartnerError(Exception):
    """A partner-program operation was refused; the message is fit to show as is.

    `field` names the input it is about (for form and API field errors), when there is one.
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field
