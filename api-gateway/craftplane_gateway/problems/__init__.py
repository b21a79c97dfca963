"""RFC 9457 problem details: every error the gateway answers, in one shape.

A route raises :class:`Problem` (usually through one of the constructors
below); :func:`handle_problem` turns it into an ``application/problem+json``
response. Validation errors carry ``errors``: a list of ``{"field", "message"}``
with dotted camelCase paths as they appear in the request body
(``spec.resources.memory``, ``spec.env[0].name``, ``name``), whether the
gateway's pydantic model or the Kubernetes API server refused the object.

The type and its constructors are in ``details``, the translation of pydantic's errors in
``validation``, of the API server's in ``admission``, the exception handlers in ``responses``.
"""

from __future__ import annotations

from craftplane_gateway.problems.admission import (
    from_kube_admission,
    kube_field_errors,
)
from craftplane_gateway.problems.details import (
    DEFAULT_RETRY_AFTER,
    PROBLEM_BASE,
    PROBLEM_MEDIA_TYPE,
    REALM,
    ROOT_FIELD,
    FieldError,
    Problem,
    bad_request,
    conflict,
    forbidden,
    internal_error,
    method_not_allowed,
    name_taken,
    no_tenant,
    not_found,
    payload_too_large,
    route_not_found,
    server_not_running,
    service_unavailable,
    token_in_query,
    too_many_requests,
    unauthorized,
    unprocessable,
    unsupported_media_type,
)
from craftplane_gateway.problems.responses import (
    EXCEPTION_HANDLERS,
    Handler,
    handle_http_exception,
    handle_problem,
    handle_unexpected,
    problem_response,
)
from craftplane_gateway.problems.validation import (
    field_errors,
    field_path,
    from_validation_error,
)

__all__ = [
    "DEFAULT_RETRY_AFTER",
    "EXCEPTION_HANDLERS",
    "PROBLEM_BASE",
    "PROBLEM_MEDIA_TYPE",
    "REALM",
    "ROOT_FIELD",
    "FieldError",
    "Handler",
    "Problem",
    "bad_request",
    "conflict",
    "field_errors",
    "field_path",
    "forbidden",
    "from_kube_admission",
    "from_validation_error",
    "handle_http_exception",
    "handle_problem",
    "handle_unexpected",
    "internal_error",
    "kube_field_errors",
    "method_not_allowed",
    "name_taken",
    "no_tenant",
    "not_found",
    "payload_too_large",
    "problem_response",
    "route_not_found",
    "server_not_running",
    "service_unavailable",
    "token_in_query",
    "too_many_requests",
    "unauthorized",
    "unprocessable",
    "unsupported_media_type",
]
