"""Staff in the back office, for tests of roles and four eyes: a logged-in client per
user, the messages a page showed, and a decision on a change request through the queue."""

from django.test import Client
from django.urls import reverse


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def shown(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def decide(user, request, decision: str, note: str = ""):
    """`decision` is approve, reject or withdraw: the queue's button, posted as `user`."""
    path = reverse(f"admin:cardsystem_changerequest_{decision}", args=[request.pk])
    return client_for(user).post(path, {"note": note}, follow=True)
