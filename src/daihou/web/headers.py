"""Security headers on every answer. The content security policy lets pages load
scripts, styles, images and data only from daihou itself, so a page can never pull
anything from the internet even if a template tried; the API docs page alone needs
Swagger UI's inline start-up script."""

from __future__ import annotations

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; "
    "frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
)
DOCS_CSP = CSP.replace("script-src 'self'", "script-src 'self' 'unsafe-inline'")


def security_headers(path: str) -> list[tuple[bytes, bytes]]:
    policy = DOCS_CSP if path == "/docs" else CSP
    return [
        (b"content-security-policy", policy.encode()),
        (b"x-content-type-options", b"nosniff"),
        (b"x-frame-options", b"DENY"),
        (b"referrer-policy", b"same-origin"),
    ]
