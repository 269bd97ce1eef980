from __future__ import annotations


class IntakeError(Exception):
    """A refusal with the HTTP status and a message for the sender."""

    def __init__(self, status_code: int, message: str, *, outcome: str | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message
        self.outcome = outcome or {
            400: "malformed",
            401: "unauthorized",
            413: "too_large",
            503: "not_configured",
        }.get(status_code, "error")
