class VendorError(Exception):
    """A vendor could not be created or changed; the message is fit to show to an operator."""
