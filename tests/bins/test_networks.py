import pytest

from bins.networks import Network, bin_rule_errors, networks_for_prefix


@pytest.mark.parametrize(
    ("prefix", "network"),
    [
        ("400000", Network.VISA),
        ("510000", Network.MASTERCARD),
        ("559999", Network.MASTERCARD),
        ("22210000", Network.MASTERCARD),
        ("27209999", Network.MASTERCARD),
        ("340000", Network.AMEX),
        ("370000", Network.AMEX),
        ("601100", Network.DISCOVER),
        ("644000", Network.DISCOVER),
        ("650000", Network.DISCOVER),
        ("352800", Network.JCB),
        ("358999", Network.JCB),
        ("620000", Network.UNIONPAY),
        ("622126", Network.DISCOVER),
        ("622126", Network.UNIONPAY),
        ("990000", Network.OTHER),
    ],
)
def test_prefix_agrees_with_its_network(prefix, network):
    assert network in networks_for_prefix(prefix)


@pytest.mark.parametrize(
    ("prefix", "network"),
    [
        ("500000", Network.MASTERCARD),
        ("560000", Network.MASTERCARD),
        ("22200000", Network.MASTERCARD),
        ("27210000", Network.MASTERCARD),
        ("350000", Network.AMEX),
        ("352700", Network.JCB),
        ("359000", Network.JCB),
        ("400000", Network.MASTERCARD),
        ("400000", Network.OTHER),
    ],
)
def test_prefix_outside_the_network_ranges_is_refused(prefix, network):
    errors = bin_rule_errors(bin=prefix, network=network, currency="USD", pan_length=16)
    assert "network" in errors


@pytest.mark.parametrize(
    ("network", "prefix", "length", "ok"),
    [
        (Network.AMEX, "370000", 15, True),
        (Network.AMEX, "370000", 16, False),
        (Network.MASTERCARD, "510000", 16, True),
        (Network.MASTERCARD, "510000", 19, False),
        (Network.VISA, "400000", 13, True),
        (Network.VISA, "400000", 19, True),
        (Network.VISA, "400000", 12, False),
        (Network.OTHER, "990000", 12, True),
    ],
)
def test_pan_length_must_suit_the_network(network, prefix, length, ok):
    errors = bin_rule_errors(bin=prefix, network=network, currency="USD", pan_length=length)
    assert ("pan_length" not in errors) is ok


def test_unknown_currency_is_named():
    assert "currency" in bin_rule_errors(bin="400000", network=Network.VISA, currency="ABC", pan_length=16)
