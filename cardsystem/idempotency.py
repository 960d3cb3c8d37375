"""`Idempotency-Key` on POST: the same client, key and body within 24 h replays the
first response and writes nothing new; the same key with another body is a 409.

The key is claimed by inserting its record in the same database transaction as the
work itself, so the record commits exactly when the work does:
- two requests with one key at once: the second's INSERT waits on the unique index
  (PostgreSQL) or on the write lock (SQLite, IMMEDIATE) until the first commits, then
  finds the finished record and replays it;
- the work fails (an exception or an error response): everything rolls back, the key
  included, so a corrected retry can use the same key;
- the work commits but the client never sees the answer: the retry replays it.
"""

import functools
import hashlib
import hmac
import json
import re
from collections.abc import Callable
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.utils.encoders import JSONEncoder

from cardsystem import data_keys
from cardsystem.exceptions import ConflictError
from cardsystem.models import DataKey, IdempotencyRecord

HEADER = "Idempotency-Key"
RETENTION = timedelta(hours=24)
MAX_KEY_LENGTH = 255
# Visible ASCII, with spaces inside but not at either end (HTTP would strip them): a UUID
# or any token a client makes. No control characters, which no log line should hold.
KEY_PATTERN = f"^[!-~]([ -~]{{0,{MAX_KEY_LENGTH - 2}}}[!-~])?$"

SCHEMA_PARAMETER = OpenApiParameter(
    HEADER,
    location=OpenApiParameter.HEADER,
    required=False,
    description="Retry safely: the same key and body within 24 hours replays the first "
    "response and writes nothing new (header `Idempotent-Replayed: true`); the same key "
    "with another body is a 409. A rejected request does not use up its key.",
    type={"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH, "pattern": KEY_PATTERN},
)


def _identity(body: dict) -> dict:
    return body


def idempotent(
    *, store: Callable[[dict], dict] = _identity, replay: Callable[[dict], dict] = _identity
) -> Callable:
    """Decorate an APIView's `post`.

    `store` strips what must not be kept from a response body (card data); `replay`
    restores it from the database when the stored response is served again.
    """

    def decorator(handler):
        @functools.wraps(handler)
        def wrapper(view, request, *args, **kwargs):
            key = request.headers.get(HEADER)
            if key is None:
                return handler(view, request, *args, **kwargs)
            if not re.fullmatch(KEY_PATTERN.strip("^$"), key):
                raise serializers.ValidationError(
                    {HEADER: [f"Give 1 to {MAX_KEY_LENGTH} visible ASCII characters (spaces only inside)."]}
                )
            digest = _digest(request)
            with transaction.atomic():
                record, created = _claim(request.auth, key, digest)
                if not created:
                    if record.request_digest != digest:
                        raise ConflictError(
                            "This Idempotency-Key was already used with a different request.", field=HEADER
                        )
                    response = Response(replay(record.response_body), status=record.status_code)
                    response["Idempotent-Replayed"] = "true"
                    # A replay may hold restored card data (the issuing response).
                    response["Cache-Control"] = "no-store"
                    return response
                response = handler(view, request, *args, **kwargs)
                if response.status_code >= 400:
                    # A rejected request writes nothing, its key included.
                    transaction.set_rollback(True)
                    return response
                record.status_code = response.status_code
                record.response_body = store(json.loads(json.dumps(response.data, cls=JSONEncoder)))
                record.save(update_fields=["status_code", "response_body"])
                return response

        return extend_schema(parameters=[SCHEMA_PARAMETER])(wrapper)

    return decorator


def _digest(request) -> str:
    canonical = json.dumps(
        {"method": request.method, "path": request.path, "body": request.data},
        sort_keys=True,
        separators=(",", ":"),
        cls=JSONEncoder,
    )
    # Keyed, so that stored digests cannot be brute-forced back to the CVV a body may
    # hold (PCI DSS forbids keeping it, even hashed plainly). A data key, not one derived
    # from CARD_DATA_KEY: a retry after a key rotation must still match the digest
    # stored before it, whose body is gone.
    key = data_keys.newest_secret(DataKey.Purpose.REQUEST_DIGEST)
    return hmac.new(key, canonical.encode(), hashlib.sha256).hexdigest()


def _claim(client, key: str, digest: str) -> tuple[IdempotencyRecord, bool]:
    """The client's record for `key`, and whether this request now owns it."""
    # INSERT first, where get_or_create() would SELECT first: a fresh key, nearly every
    # request, then costs no read. A taken key fails on the unique index,
    # after waiting for its owner's commit as before, and is read then.
    try:
        with transaction.atomic():
            return IdempotencyRecord.objects.create(client=client, key=key, request_digest=digest), True
    except IntegrityError:
        record = IdempotencyRecord.objects.filter(client=client, key=key).first()
        if record is None:  # some other constraint failed
            raise
    if record.created_at >= timezone.now() - RETENTION:
        return record, False
    # Expired: the key is free again. Taken over by a conditional UPDATE of the old
    # row, so that of two concurrent retries exactly one owns it; the other waits on
    # the row lock, matches nothing, and then finds the new record like any replay.
    taken = IdempotencyRecord.objects.filter(pk=record.pk, created_at=record.created_at).update(
        request_digest=digest, status_code=None, response_body=None, created_at=timezone.now()
    )
    record.refresh_from_db()
    return record, bool(taken)
