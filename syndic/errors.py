"""The one error hierarchy of syndic.

Services raise these; `syndic.api.problems` maps them to HTTP status codes
and the JSON error shape `{"error": {"code": ..., "message": ...}}` in one
place, and the CLI turns them into one line on stderr.

    SyndicError
    ├── ConfigurationError          settings missing or invalid (start-up)
    ├── InvalidInput                the request is well formed but wrong (422)
    │   ├── InvalidSchedule         time without offset, in the past, ...
    │   └── PostRejected            a platform would refuse the post
    ├── AuthenticationFailed        missing or bad credential (401)
    │   └── InvalidSignature        webhook signature does not match
    ├── PermissionDenied            credential fine, act not allowed (403)
    │   ├── UserBanned
    │   ├── QuotaExceeded
    │   ├── RoleRequired
    │   └── TierRequired
    ├── NotFound                    (404)
    ├── Conflict                    (409)
    │   ├── PostNotCancellable
    │   └── IdempotencyConflict
    ├── RateLimited                 (429, carries retry_after)
    ├── ServiceUnavailable          database or dependency down (503)
    └── SingleProcessOnly           a second process on one SQLite file

Platform adapters have their own branch, `syndic.platforms.base.PlatformError`,
which the scheduler turns into per-platform results, never into HTTP errors.
"""

from __future__ import annotations

from typing import Any


class SyndicError(Exception):
    """Base of every error syndic raises on purpose."""

    code = "error"

    def __init__(self, message: str, *, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class ConfigurationError(SyndicError):
    code = "configuration_error"


class InvalidInput(SyndicError):
    code = "invalid_input"


class InvalidSchedule(InvalidInput):
    code = "invalid_schedule"


class PostRejected(InvalidInput):
    code = "post_rejected"


class AuthenticationFailed(SyndicError):
    code = "unauthorized"


class InvalidSignature(AuthenticationFailed):
    code = "invalid_signature"


class PermissionDenied(SyndicError):
    code = "forbidden"


class UserBanned(PermissionDenied):
    code = "user_banned"


class QuotaExceeded(PermissionDenied):
    code = "quota_exceeded"


class RoleRequired(PermissionDenied):
    code = "admin_required"


class TierRequired(PermissionDenied):
    code = "tier_required"


class NotFound(SyndicError):
    code = "not_found"


class Conflict(SyndicError):
    code = "conflict"


class PostNotCancellable(Conflict):
    code = "post_not_cancellable"


class IdempotencyConflict(Conflict):
    code = "idempotency_conflict"


class RateLimited(SyndicError):
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: int, details: Any = None) -> None:
        super().__init__(message, details=details)
        self.retry_after = retry_after


class ServiceUnavailable(SyndicError):
    code = "service_unavailable"


class SingleProcessOnly(SyndicError):
    code = "single_process_only"
