class ReportingError(Exception):
    """A reporting write was refused; the message is fit to show as is. `field` names the input
    it is about, in the API's terms, so forms and the API attach it to the right field."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field
