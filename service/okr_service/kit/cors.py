"""Cross-origin access for browser frontends (CORS), from the settings.

Off unless origins are configured: a page on another origin then gets no `Access-Control-*`
header and its browser keeps the answer from it. Bearer tokens travel in a header, so no
credentials mode is needed (and it stays off unless asked for). Preflights are cached by
the browser for `cors_max_age_seconds`.
"""

from typing import Any

from starlette.middleware.cors import CORSMiddleware

from okr_service.kit.settings import Settings

# Origins `serve --demo` lets in: any port of the machine, for a frontend's dev server.
LOCAL_ORIGINS = r"^http://(localhost|127\.0\.0\.1)(:\d+)?$"
# Request headers a client sends beyond the CORS-safelisted ones.
ALLOWED_HEADERS = [
    "Authorization",
    "Content-Type",
    "Idempotency-Key",
    "X-Request-ID",
    "Consistency-Token",
]
# Response headers a page may read: backing off, replays, the request's id in the logs, and
# the position of a write its next reads echo (read replicas).
EXPOSED_HEADERS = [
    "Retry-After",
    "Idempotent-Replayed",
    "X-Request-ID",
    "WWW-Authenticate",
    "Consistency-Token",
]


def cors_options(settings: Settings) -> dict[str, Any] | None:
    """CORSMiddleware's options, or None when no origin is allowed (CORS off)."""
    if not settings.cors_origins and not settings.cors_origin_regex:
        return None
    return {
        "allow_origins": settings.cors_origins,
        "allow_origin_regex": settings.cors_origin_regex or None,
        "allow_methods": ["GET", "POST"],
        "allow_headers": ALLOWED_HEADERS,
        "expose_headers": EXPOSED_HEADERS,
        "allow_credentials": settings.cors_allow_credentials,
        "max_age": settings.cors_max_age_seconds,
    }


__all__ = ["LOCAL_ORIGINS", "CORSMiddleware", "cors_options"]
