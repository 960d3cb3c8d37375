import pytest
from django.core.exceptions import ValidationError

from bins.models import Bin
from bins.services import BinImportError, bin_create, bin_import, bin_set_active
from cardsystem.models import AuditLog
from tests.factories import TEST_ACTOR, BinFactory

pytestmark = pytest.mark.django_db

VISA = {
    "bin": "411111",
    "network": "visa",
    "issuer_name": "Bank",
    "card_type": "debit",
    "country": "US",
    "currency": "USD",
    "pan_length": 16,
}


def test_creating_a_bin_is_audited():
    created = bin_create(actor=TEST_ACTOR, **VISA)
    assert AuditLog.objects.get(action=AuditLog.Action.BIN_CREATED).target_id == str(created.pk)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"bin": "41111"}, "bin"),
        ({"bin": "4111111"}, "bin"),
        ({"bin": "41111a"}, "bin"),
        ({"network": "mastercard"}, "network"),
        ({"country": "XX"}, "country"),
        ({"currency": "ABC"}, "currency"),
        ({"pan_length": 11}, "pan_length"),
        ({"pan_length": 20}, "pan_length"),
        ({"card_type": "charge"}, "card_type"),
    ],
)
def test_a_bad_bin_is_refused_naming_the_field_and_nothing_is_written(changes, field):
    with pytest.raises(ValidationError) as error:
        bin_create(actor=TEST_ACTOR, **{**VISA, **changes})
    assert field in error.value.message_dict
    assert not Bin.objects.exists() and not AuditLog.objects.exists()


def test_a_duplicate_bin_is_refused():
    bin_create(actor=TEST_ACTOR, **VISA)
    with pytest.raises(ValidationError) as error:
        bin_create(actor=TEST_ACTOR, **VISA)
    assert "bin" in error.value.message_dict
    assert Bin.objects.count() == 1


def test_an_import_with_one_bad_row_imports_nothing_and_names_the_row():
    rows = [("line 2", VISA), ("line 3", {**VISA, "bin": "511111"}), ("line 4", {**VISA, "bin": "422222"})]
    with pytest.raises(BinImportError) as error:
        bin_import(rows=rows, actor=TEST_ACTOR, source="bins.csv")
    assert set(error.value.errors) == {"line 3"} and "network" in error.value.errors["line 3"]
    assert not Bin.objects.exists()


def test_an_import_with_a_bin_twice_imports_nothing():
    with pytest.raises(BinImportError) as error:
        bin_import(rows=[("line 2", VISA), ("line 3", VISA)], actor=TEST_ACTOR, source="bins.csv")
    assert "line 3" in error.value.errors
    assert not Bin.objects.exists()


def test_a_good_import_creates_every_row_with_one_audit_row():
    rows = [("line 2", VISA), ("line 3", {**VISA, "bin": "422222"})]
    assert len(bin_import(rows=rows, actor=TEST_ACTOR, source="bins.csv")) == 2
    assert Bin.objects.count() == 2
    assert AuditLog.objects.get(action=AuditLog.Action.BINS_IMPORTED).details["count"] == 2


def test_deactivating_and_activating_are_audited_once_each():
    bin = BinFactory()
    bin_set_active(bin=bin, is_active=False, actor=TEST_ACTOR)
    bin_set_active(bin=bin, is_active=False, actor=TEST_ACTOR)
    bin_set_active(bin=bin, is_active=True, actor=TEST_ACTOR)
    actions = list(AuditLog.objects.order_by("id").values_list("action", flat=True))
    assert actions == [AuditLog.Action.BIN_DEACTIVATED, AuditLog.Action.BIN_ACTIVATED]
