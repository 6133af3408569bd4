"""Exceptions the emulator's handlers raise; the app turns them into responses."""

from __future__ import annotations

from http import HTTPStatus


class ApiError(Exception):
    """An HTTP error answered with the NestJS-style body the official clients read."""

    def __init__(
        self, status: int, message: str, headers: list[tuple[str, str]] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or []

    def body(self) -> dict[str, object]:
        return {
            "message": self.message,
            "error": HTTPStatus(self.status).phrase,
            "statusCode": self.status,
        }


def bad_request(message: str) -> ApiError:
    return ApiError(400, message)


def not_found(message: str) -> ApiError:
    return ApiError(404, message)


class DropConnection(Exception):
    """Raised after a write committed: the transport must answer with nothing at all."""
