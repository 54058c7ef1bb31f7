"""What goes on the wire: Descope-shaped errors and the response value the HTTP handler writes out."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Final

from controller.descope_api import RATE_LIMITED_STATUS, RETRY_AFTER_HEADER

JSON_TYPE: Final = "application/json"
HTML_TYPE: Final = "text/html; charset=utf-8"

# Codes Descope's SDKs know (github.com/descope/go-sdk ``descope/errors.go``: ErrBadRequest,
# ErrMissingArguments, ErrValidationFailure, ErrRateLimitExceeded).
BAD_REQUEST: Final = "E011001"
MISSING_ARGUMENT: Final = "E011002"
VALIDATION_FAILURE: Final = "E011003"
RATE_LIMITED: Final = "E130429"
# Codes for answers whose real code is unknown: clearly fake so nobody mistakes them for Descope's.
UNAUTHORIZED: Final = "E000401-sandbox"
NOT_FOUND: Final = "E000404-sandbox"
CONFLICT: Final = "E000409-sandbox"
REFUSED: Final = "E000400-sandbox"
METHOD_NOT_ALLOWED: Final = "E000405-sandbox"
TOO_LARGE: Final = "E000413-sandbox"
INTERNAL: Final = "E000500-sandbox"


class ApiError(Exception):
    """An error answer: HTTP status plus Descope's ``errorCode``/``errorDescription``/``errorMessage`` body."""

    def __init__(
        self, status: int, code: str, description: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.description = description
        self.message = message
        self.headers = headers or {}

    def body(self) -> dict[str, str]:
        return {"errorCode": self.code, "errorDescription": self.description, "errorMessage": self.message}


@dataclass(frozen=True)
class Response:
    """One HTTP answer, already encoded, so every path (API, control, faults) is written out the same way."""

    status: int
    body: bytes
    content_type: str = JSON_TYPE
    headers: dict[str, str] = field(default_factory=dict)


def encode(payload: Any) -> bytes:
    # Compact separators: a 100k-tenant ``/all`` answer is noticeably smaller and faster to write.
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def json_response(status: int, payload: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(status, encode(payload), JSON_TYPE, headers or {})


def error_response(error: ApiError) -> Response:
    return json_response(error.status, error.body(), error.headers)


def rate_limit_body() -> dict[str, str]:
    """The 429 body verbatim from Descope's python-sdk tests (github.com/descope/python-sdk ``tests/test_auth.py``)."""
    return {
        "errorCode": RATE_LIMITED,
        "errorDescription": "https://docs.descope.com/rate-limit",
        "errorMessage": "API rate limit exceeded.",
    }


def rate_limited_response(retry_after_s: int | None) -> Response:
    headers = {} if retry_after_s is None else {RETRY_AFTER_HEADER: str(retry_after_s)}
    return json_response(RATE_LIMITED_STATUS, rate_limit_body(), headers)


def bad_request(message: str) -> ApiError:
    return ApiError(400, BAD_REQUEST, "Bad request", message)


def missing(field_name: str) -> ApiError:
    # The wording Descope uses (descope-dotnet's integration tests).
    return ApiError(400, MISSING_ARGUMENT, "Missing arguments", f"The {field_name} field is required")


def invalid(field_name: str, expected: str) -> ApiError:
    return ApiError(400, VALIDATION_FAILURE, "Validation failure", f"The {field_name} field must be {expected}")


def tenant_not_found(tenant_id: str) -> ApiError:
    return not_found("Tenant not found", f"Tenant {tenant_id} not found")


def not_found(description: str, message: str) -> ApiError:
    return ApiError(404, NOT_FOUND, description, message)


def conflict(message: str, description: str = "Tenant already exists") -> ApiError:
    return ApiError(409, CONFLICT, description, message)


def refused(message: str) -> ApiError:
    return ApiError(400, REFUSED, "Invalid request", message)


def too_large(limit: int) -> ApiError:
    return ApiError(413, TOO_LARGE, "Request entity too large", f"The request body is larger than {limit} bytes")
