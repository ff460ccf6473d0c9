"""The PKI layer's one error type."""


class PkiError(ValueError):
    """A key or certificate problem; messages never contain key material."""
