"""Domain failures, one class each, with a stable ``error_id`` the API returns as JSON."""

from __future__ import annotations


class CallcenterError(Exception):
    """Base of every failure the product reports to a user or API client."""

    error_id = "internal-error"
    status = 500

    def __init__(self, message: str, details: dict | list | None = None):
        super().__init__(message)
        self.message = message
        self.details = details or {}

    def to_dict(self) -> dict:
        return {"error_id": self.error_id, "message": self.message, "details": self.details}


class NotAuthenticated(CallcenterError):
    error_id = "not-authenticated"
    status = 401


class Forbidden(CallcenterError):
    error_id = "forbidden"
    status = 403


class NotFound(CallcenterError):
    error_id = "not-found"
    status = 404


class InvalidInput(CallcenterError):
    error_id = "invalid-input"
    status = 422


class Conflict(CallcenterError):
    error_id = "conflict"
    status = 409


class InvalidPhoneNumber(InvalidInput):
    error_id = "invalid-phone-number"


class InvalidTaskTransition(Conflict):
    error_id = "invalid-task-transition"


class ImportRejected(InvalidInput):
    """The file has errors; ``details`` lists each with row, column and reason."""

    error_id = "import-rejected"


class ServiceUnavailable(CallcenterError):
    error_id = "service-unavailable"
    status = 503


class TelephonyUnavailable(ServiceUnavailable):
    error_id = "telephony-unavailable"
