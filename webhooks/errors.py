class WebhookError(Exception):
    """A webhook operation was refused; the message is fit to show as is. `field` names the
    input it is about (`url`, `event_types`)."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field
