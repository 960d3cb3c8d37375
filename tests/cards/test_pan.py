import re

import pytest

from cards import pan as card_data
from cardsystem import process_cache
from cardsystem.card_numbers import luhn_valid
from cardsystem.data_keys import data_key_create
from cardsystem.keys import CardDataError, validate_key


def current_key_id() -> str:
    """The key id the current CARD_DATA_KEY stamps on what it encrypts."""
    return card_data.encrypt_pan("4000001234567899")[0]


@pytest.mark.parametrize(
    ("prefix", "length"), [("400000", 16), ("37828", 15), ("22210000", 19), ("411111", 12)]
)
def test_generated_pans_have_the_prefix_length_and_a_valid_check_digit(prefix, length):
    numbers = {card_data.generate_pan(prefix, length) for _ in range(200)}
    assert all(n.startswith(prefix) and len(n) == length and luhn_valid(n) for n in numbers)
    assert len(numbers) > 150  # random, not a counter


@pytest.mark.parametrize(
    ("number", "masked"),
    [
        ("4000001234567899", "400000******7899"),
        ("4000001234567899123", "400000*********9123"),
        ("378282246310005", "37828******0005"),
        ("123456789012", "12******9012"),
    ],
)
def test_masking_shows_at_most_first_six_and_last_four_and_hides_at_least_six(number, masked):
    assert card_data.mask_pan(number) == masked
    assert masked.count("*") >= 6


def test_encryption_round_trips_and_the_ciphertext_holds_no_digits_of_the_pan():
    key_id, blob = card_data.encrypt_pan("4000001234567899")
    assert key_id == current_key_id()
    assert b"4000001234567899" not in blob and b"7899" not in blob
    assert card_data.decrypt_pan(key_id, blob) == "4000001234567899"


def test_each_encryption_uses_a_fresh_nonce():
    assert card_data.encrypt_pan("4000001234567899")[1] != card_data.encrypt_pan("4000001234567899")[1]


def test_a_tampered_ciphertext_is_refused_without_revealing_anything():
    key_id, blob = card_data.encrypt_pan("4000001234567899")
    tampered = blob[:-1] + bytes([blob[-1] ^ 1])
    with pytest.raises(CardDataError) as error:
        card_data.decrypt_pan(key_id, tampered)
    assert "4000" not in str(error.value)


def test_fingerprint_is_keyed_stable_and_not_a_plain_hash():
    import hashlib

    fingerprint = card_data.pan_fingerprint("4000001234567899")
    assert fingerprint == card_data.pan_fingerprint("4000001234567899")
    assert fingerprint != hashlib.sha256(b"4000001234567899").hexdigest()
    assert re.fullmatch(r"[0-9a-f]{64}", fingerprint)


def test_a_different_key_gives_a_different_fingerprint_and_key_id(settings):
    before = card_data.pan_fingerprint("4000001234567899"), current_key_id()
    settings.CARD_DATA_KEY = "another-key-of-at-least-thirty-two-characters!"
    assert (card_data.pan_fingerprint("4000001234567899"), current_key_id()) != before


@pytest.mark.django_db
def test_old_keys_still_decrypt_and_verify_after_rotation(settings):
    key_id, blob = card_data.encrypt_pan("4000001234567899")
    fingerprint = card_data.pan_fingerprint("4000001234567899")
    cvk_id = card_data.newest_cvk().pk
    cvv = card_data.compute_cvv(pan="4000001234567899", expiry_month=12, expiry_year=2029, cvk_id=cvk_id)
    old = settings.CARD_DATA_KEY
    settings.CARD_DATA_KEY = "the-rotated-key-of-at-least-thirty-two-chars"
    settings.CARD_DATA_OLD_KEYS = [old]
    process_cache.forget_all()  # a server started with the new configuration
    assert current_key_id() != key_id
    assert card_data.decrypt_pan(key_id, blob) == "4000001234567899"
    assert card_data.cvv_matches(
        cvv=cvv, pan="4000001234567899", expiry_month=12, expiry_year=2029, cvk_id=cvk_id
    )
    assert fingerprint in card_data.pan_fingerprints("4000001234567899")


def test_reencrypting_moves_a_number_to_the_current_key(settings):
    old_key_id, blob = card_data.encrypt_pan("4000001234567899")
    settings.CARD_DATA_OLD_KEYS = [settings.CARD_DATA_KEY]
    settings.CARD_DATA_KEY = "the-rotated-key-of-at-least-thirty-two-chars"
    key_id, encrypted, fingerprint = card_data.reencrypt_pan(old_key_id, blob)
    assert key_id == current_key_id() != old_key_id
    assert fingerprint == card_data.pan_fingerprint("4000001234567899")
    settings.CARD_DATA_OLD_KEYS = []
    assert card_data.decrypt_pan(key_id, encrypted) == "4000001234567899"


def test_a_ciphertext_under_an_unknown_key_is_refused(settings):
    key_id, blob = card_data.encrypt_pan("4000001234567899")
    settings.CARD_DATA_KEY = "the-rotated-key-of-at-least-thirty-two-chars"
    with pytest.raises(CardDataError):
        card_data.decrypt_pan(key_id, blob)


@pytest.mark.django_db
def test_cvv_is_recomputable_and_depends_on_pan_expiry_and_cvk():
    cvk_id = card_data.newest_cvk().pk
    base = {"pan": "4000001234567899", "expiry_month": 12, "expiry_year": 2029, "cvk_id": cvk_id}
    cvv = card_data.compute_cvv(**base)
    assert re.fullmatch(r"\d{3}", cvv)
    assert card_data.compute_cvv(**base) == cvv
    assert card_data.cvv_matches(cvv=cvv, **base)
    others = [
        card_data.compute_cvv(**{**base, "pan": "4000001234567881"}),
        card_data.compute_cvv(**{**base, "expiry_month": 11}),
        card_data.compute_cvv(**{**base, "expiry_year": 2030}),
        card_data.compute_cvv(**{**base, "cvk_id": data_key_create(purpose="cvv", secret=b"k" * 32).pk}),
    ]
    assert len({cvv, *others}) > 1  # 3 digits collide sometimes; all five equal is ~1e-12
    wrong = str((int(cvv) + 1) % 1000).zfill(3)
    assert not card_data.cvv_matches(cvv=wrong, **base)


@pytest.mark.django_db
def test_amex_gets_a_four_digit_cid():
    cvk_id = card_data.newest_cvk().pk
    cid = card_data.compute_cvv(pan="378282246310005", expiry_month=1, expiry_year=2030, cvk_id=cvk_id)
    assert re.fullmatch(r"\d{4}", cid)


def test_a_short_card_data_key_is_refused():
    with pytest.raises(CardDataError):
        validate_key("too-short")
