"""Problems as ``application/problem+json`` responses: Starlette's exception handlers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from http import HTTPStatus
from typing import Any, Final

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from craftplane_gateway.problems.details import (
    PROBLEM_MEDIA_TYPE,
    Problem,
    internal_error,
    method_not_allowed,
    route_not_found,
)


def problem_response(problem: Problem) -> JSONResponse:
    """The ``application/problem+json`` response for ``problem``."""
    return JSONResponse(
        problem.to_dict(),
        status_code=problem.status,
        headers=problem.headers,
        media_type=PROBLEM_MEDIA_TYPE,
    )


async def handle_problem(request: Request, exc: Exception) -> Response:
    """Starlette exception handler for :class:`Problem`."""
    if not isinstance(exc, Problem):  # pragma: no cover - registered for Problem only
        raise exc
    if exc.instance is None:
        exc.instance = request.url.path
    return problem_response(exc)


async def handle_http_exception(request: Request, exc: Exception) -> Response:
    """Starlette's own HTTPException (unknown route, wrong method) as problem details."""
    if not isinstance(exc, HTTPException):  # pragma: no cover
        raise exc
    if exc.status_code == 404:
        problem = route_not_found()
    elif exc.status_code == 405:
        problem = method_not_allowed()
    else:
        problem = Problem(exc.status_code, _reason(exc.status_code), exc.detail)
    problem.headers.update(exc.headers or {})
    problem.instance = request.url.path
    return problem_response(problem)


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


async def handle_unexpected(request: Request, exc: Exception) -> Response:
    """Anything else: a 500 problem with no detail.

    Registered for ``Exception``, it runs in Starlette's ServerErrorMiddleware,
    which re-raises afterwards so the server still logs the traceback.
    """
    problem = internal_error()
    problem.instance = request.url.path
    return problem_response(problem)


Handler = Callable[[Request, Exception], Awaitable[Response]]

EXCEPTION_HANDLERS: Final[Mapping[Any, Handler]] = {
    Problem: handle_problem,
    HTTPException: handle_http_exception,
    Exception: handle_unexpected,
}
