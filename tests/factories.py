import datetime

import factory
from django.contrib.auth import get_user_model

from bins.models import Bin
from cards.models import Card, Cardholder
from cards.services import card_issue
from cardsystem.audit import Actor
from cardsystem.models import ApiClient
from cardsystem.services import api_client_create

TEST_ACTOR = Actor.system("tests")


class BinFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Bin

    bin = factory.Sequence(lambda n: f"4{n:05d}")
    network = Bin.Network.VISA
    issuer_name = "Test Bank"
    card_type = Bin.CardType.DEBIT
    country = "US"
    currency = "USD"
    pan_length = 16
    is_active = True


class CardholderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Cardholder

    name = factory.Faker("name")
    date_of_birth = datetime.date(1985, 6, 15)
    country = "US"
    email = factory.Faker("email")


class CardFactory(factory.Factory):
    """Issues a card through the real service. The returned Card carries `.pan` and
    `.cvv` attributes (in memory only) so tests can use the card's number."""

    class Meta:
        model = Card

    bin = factory.SubFactory(BinFactory)
    cardholder = factory.SubFactory(CardholderFactory)
    limits = None
    balance_minor = 0

    @classmethod
    def _create(cls, model_class, *, bin, cardholder, limits, balance_minor, **kwargs):
        from cards.services import card_top_up

        issued = card_issue(bin=bin, cardholder=cardholder, actor=TEST_ACTOR, limits=limits, **kwargs)
        card = issued.card
        if balance_minor:
            card_top_up(card=card, amount_minor=balance_minor, actor=TEST_ACTOR, reference="factory")
        card.refresh_from_db()
        card.pan, card.cvv = issued.pan, issued.cvv
        return card

    @classmethod
    def _build(cls, model_class, *args, **kwargs):
        raise NotImplementedError("Cards only exist issued: use CardFactory() or CardFactory.create().")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"staff{n}")
    email = factory.LazyAttribute(lambda user: f"{user.username}@bank.test")
    is_staff = True
    is_superuser = True
    password = factory.django.Password("correct-horse-battery-staple")


def staff_with_roles(*roles: str, username: str | None = None):
    """A staff member (not a superuser) holding the named roles (cardsystem/roles.py)."""
    from django.contrib.auth.models import Group

    user = UserFactory(is_superuser=False, **({"username": username} if username else {}))
    user.groups.set(Group.objects.filter(name__in=roles))
    assert user.groups.count() == len(roles), f"unknown role among {roles}"
    return get_user_model().objects.get(pk=user.pk)  # a fresh object: no cached permissions


def make_api_client(*scopes: str, name: str | None = None) -> tuple[ApiClient, str]:
    name = name or f"client-{ApiClient.objects.count() + 1}-{'-'.join(scopes)}"
    return api_client_create(name=name, scopes=list(scopes), actor=TEST_ACTOR)
