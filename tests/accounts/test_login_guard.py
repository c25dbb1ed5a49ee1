"""Password guessing is locked per (username, address) and per address on every sign-in."""
import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from accounts import login_guard

from ..factories import UserFactory

PASSWORD = "pw-123456"
LOGIN = reverse("accounts:login")


def sign_in(client: Client, username: str, password: str, address: str = "203.0.113.9"):
    return client.post(LOGIN, {"username": username, "password": password}, REMOTE_ADDR=address)


def fail(times: int, username: str, address: str = "203.0.113.9") -> None:
    for _ in range(times):
        assert sign_in(Client(), username, "wrong-guess", address).status_code == 200


def test_after_too_many_failures_even_the_right_password_is_refused_from_there(agent):
    fail(login_guard.FAILURES_PER_PAIR, agent.username)
    refused = sign_in(Client(), agent.username, PASSWORD)
    assert refused.status_code == 200  # the page again, saying why
    assert "15" in refused.context["form"].non_field_errors()[0]
    assert "_auth_user_id" not in refused.wsgi_request.session
    # The agent, signing in from their own address, is not locked out by the stranger.
    assert sign_in(Client(), agent.username, PASSWORD, address="198.51.100.7").status_code == 302


def test_an_address_guessing_many_usernames_is_locked_for_all(db):
    users = [UserFactory() for _ in range(5)]
    per_user = login_guard.FAILURES_PER_ADDRESS // len(users)
    for user in users:
        fail(per_user, user.username)
    newcomer = UserFactory()
    newcomer.set_password(PASSWORD)
    newcomer.save()
    assert sign_in(Client(), newcomer.username, PASSWORD).status_code == 200
    assert sign_in(Client(), newcomer.username, PASSWORD, address="198.51.100.7").status_code == 302


def test_a_success_clears_the_pairs_failures(agent):
    fail(login_guard.FAILURES_PER_PAIR - 1, agent.username)
    assert sign_in(Client(), agent.username, PASSWORD).status_code == 302
    fail(login_guard.FAILURES_PER_PAIR - 1, agent.username)
    assert sign_in(Client(), agent.username, PASSWORD).status_code == 302


def test_usernames_count_alike_whatever_their_case(agent):
    fail(login_guard.FAILURES_PER_PAIR, agent.username.upper())
    assert sign_in(Client(), agent.username, PASSWORD).status_code == 200


def test_the_admin_sign_in_is_locked_too(admin_user):
    admin_user.is_staff = True
    admin_user.save()
    fail(login_guard.FAILURES_PER_PAIR, admin_user.username)
    response = Client().post(
        reverse("admin:login"), {"username": admin_user.username, "password": PASSWORD}, REMOTE_ADDR="203.0.113.9"
    )
    assert response.status_code == 200
    assert "15" in response.context["form"].non_field_errors()[0]


@pytest.mark.parametrize("locked_by", ["page", "api"])
def test_the_token_endpoint_is_locked_by_failures_anywhere(agent, locked_by):
    api = APIClient(REMOTE_ADDR="203.0.113.9")
    if locked_by == "page":
        fail(login_guard.FAILURES_PER_PAIR, agent.username)
    else:
        for _ in range(login_guard.FAILURES_PER_PAIR):
            assert api.post("/api/v1/auth/token/", {"username": agent.username, "password": "x"}, format="json").status_code == 400
    response = api.post("/api/v1/auth/token/", {"username": agent.username, "password": PASSWORD}, format="json")
    assert response.status_code == 429
    assert "15" in response.json()["error"]["message"]
