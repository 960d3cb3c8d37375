"""Exporting a filtered list in a real browser: the transactions list's "Export CSV"
button downloads exactly the rows the list's filter selects, every page of them, with no
card number in the file."""

import csv
import io
from pathlib import Path

from tests.authorizing import authorize
from tests.browser.conftest import log_in, pytestmark  # noqa: F401
from tests.factories import CardFactory, staff_with_roles
from transactions.exports import TRANSACTION_COLUMNS
from transactions.models import Transaction


def test_an_analyst_exports_the_declined_transactions_from_the_filtered_list(page, page_watch):
    card = CardFactory(balance_minor=100_00)
    for _ in range(3):
        authorize(card, amount_minor=500_00)  # more than the card holds: declined
    authorize(card, amount_minor=10_00)
    assert Transaction.objects.filter(status=Transaction.Status.DECLINED).count() == 3
    log_in(page, staff_with_roles("Fraud analyst"))

    page.goto("/admin/transactions/transaction/?status__exact=declined")
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Export CSV").click()
    download = download_info.value
    body = Path(download.path()).read_bytes()

    page_watch.scan(download.suggested_filename, body)
    assert download.suggested_filename.startswith("transactions-")
    assert download.suggested_filename.endswith("Z.csv")
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows[0] == [c.header for c in TRANSACTION_COLUMNS]
    assert len(rows) == 1 + 3
    assert {row[rows[0].index("status")] for row in rows[1:]} == {"declined"}
    assert {row[rows[0].index("card")] for row in rows[1:]} == {card.masked_pan}
