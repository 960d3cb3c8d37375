"""The CSV exports as the tests read them (cardsystem/exports.py): a list's export
address, and an export's rows, read the way a spreadsheet would, after checking that the
response streamed and that its body holds no run of digits as long as a card number."""

import csv
import io
import re

from django.urls import reverse

CARD_NUMBER_LIKE = re.compile(r"\d{13,}")


def export_url(changelist: str) -> str:
    """The export of a list named as its admin URL is ("transactions_transaction")."""
    return reverse(f"admin:{changelist}_export")


def body_of(response) -> str:
    assert response.status_code == 200, response.status_code
    assert response.streaming
    return b"".join(response.streaming_content).decode("utf-8-sig")


def rows_of(response) -> list[dict[str, str]]:
    """An export's rows, by header."""
    body = body_of(response)
    assert CARD_NUMBER_LIKE.search(body) is None
    return list(csv.DictReader(io.StringIO(body)))


def exported(client, changelist: str, query: dict | None = None) -> list[dict[str, str]]:
    """The rows of a list's export, by header."""
    return rows_of(client.get(export_url(changelist), query or {}))


def header_of(client, changelist: str) -> list[str]:
    body = body_of(client.get(export_url(changelist)))
    return next(csv.reader(io.StringIO(body)))
