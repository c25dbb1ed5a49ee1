"""API tokens, ``me/`` and a shop's members."""
import pytest
from django.core.cache import cache
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from accounts.models import Role

from ..factories import MembershipFactory, ShopFactory, TeamFactory, UserFactory

API = "/api/v1"


@pytest.fixture(autouse=True)
def _clear_throttle():
    cache.clear()
    yield
    cache.clear()


def logged_in(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


def assert_error(response, status_code: int, *, field: str | None = None) -> dict:
    assert response.status_code == status_code, response.content
    error = response.json()["error"]
    assert error["code"] and error["message"]
    if field is not None:
        assert field in error["fields"], error
    return error


# --- auth/token/ ---------------------------------------------------------------------------
def test_token_for_good_credentials_is_stable_and_authenticates(agent):
    client = APIClient()
    response = client.post(f"{API}/auth/token/", {"username": agent.username, "password": "pw-123456"}, format="json")
    assert response.status_code == 200, response.content
    key = response.json()["token"]
    assert Token.objects.get(user=agent).key == key
    again = client.post(f"{API}/auth/token/", {"username": agent.username, "password": "pw-123456"}, format="json")
    assert again.json()["token"] == key
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.get(f"{API}/me/").json()["id"] == agent.pk


def test_token_accepts_form_posts(agent):
    response = APIClient().post(f"{API}/auth/token/", {"username": agent.username, "password": "pw-123456"})
    assert response.status_code == 200


@pytest.mark.parametrize(
    "data, field",
    [
        ({"username": "USER", "password": "wrong"}, None),
        ({"username": "nobody", "password": "pw-123456"}, None),
        ({"username": "USER"}, "password"),
        ({"password": "pw-123456"}, "username"),
        ({}, "username"),
        ({"username": 5, "password": "pw-123456"}, "username"),
        ({"username": "USER", "password": ["pw-123456"]}, "password"),
        ({"username": "USER", "password": "pw-123456", "remember": True}, "remember"),
        ({"username": "USER", "password": "x" * 129}, "password"),
    ],
)
def test_token_refused(agent, data, field):
    data = {key: (agent.username if value == "USER" else value) for key, value in data.items()}
    assert_error(APIClient().post(f"{API}/auth/token/", data, format="json"), 400, field=field)
    assert not Token.objects.exists()


def test_wrong_password_and_unknown_user_read_the_same(agent):
    client = APIClient()
    wrong = client.post(f"{API}/auth/token/", {"username": agent.username, "password": "nope"}, format="json")
    unknown = client.post(f"{API}/auth/token/", {"username": "ghost", "password": "nope"}, format="json")
    assert wrong.json() == unknown.json()


def test_inactive_user_gets_no_token(db):
    user = UserFactory(is_active=False)
    assert_error(APIClient().post(f"{API}/auth/token/", {"username": user.username, "password": "pw-123456"}, format="json"), 400)


def test_token_endpoint_only_takes_post_and_json(agent):
    assert_error(APIClient().get(f"{API}/auth/token/"), 405)
    assert_error(APIClient().post(f"{API}/auth/token/", "{oops", content_type="application/json"), 400)


def test_token_endpoint_is_throttled(agent):
    # Guesses at many usernames: the address's request rate, not a username's failures, stops them.
    client = APIClient()
    codes = [
        client.post(f"{API}/auth/token/", {"username": f"user-{n}", "password": "guess"}, format="json").status_code
        for n in range(20)
    ]
    assert codes == [400] * 20
    assert_error(client.post(f"{API}/auth/token/", {"username": agent.username, "password": "guess"}, format="json"), 429)


def test_a_made_up_forwarded_for_header_does_not_escape_the_throttle(agent):
    client = APIClient()
    codes = [
        client.post(
            f"{API}/auth/token/",
            {"username": agent.username, "password": "guess"},
            format="json",
            HTTP_X_FORWARDED_FOR=f"10.0.0.{n}",
        ).status_code
        for n in range(21)
    ]
    assert codes[-1] == 429


def test_behind_a_proxy_each_forwarded_client_has_its_own_budget(agent, settings):
    from rest_framework.settings import api_settings

    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    api_settings.reload()
    try:
        client = APIClient()

        def attempt(address: str) -> int:
            body = {"username": agent.username, "password": "guess"}
            return client.post(f"{API}/auth/token/", body, format="json", HTTP_X_FORWARDED_FOR=address).status_code

        # What the client claims comes first; the proxy appends the address it saw.
        assert [attempt(f"1.2.3.{n}, 203.0.113.7") for n in range(21)][-1] == 429
        assert attempt("198.51.100.9") == 400  # another client behind the same proxy
    finally:
        api_settings.reload()


# --- me/ -----------------------------------------------------------------------------------
def test_me_lists_shops_and_roles(agent, shop):
    second = ShopFactory(name="第二家店")
    MembershipFactory(user=agent, shop=second, role=Role.ADMIN)
    body = logged_in(agent).get(f"{API}/me/").json()
    assert body["id"] == agent.pk
    assert body["username"] == agent.username
    assert body["nickname"] == agent.display_name
    assert body["avatar_url"] is None
    assert {(s["id"], s["role"]) for s in body["shops"]} == {(shop.pk, "agent"), (second.pk, "admin")}
    assert {s["slug"] for s in body["shops"]} == {shop.slug, second.slug}


def test_me_nickname_falls_back_to_username(shop):
    user = MembershipFactory(shop=shop, user=UserFactory(display_name="")).user
    assert logged_in(user).get(f"{API}/me/").json()["nickname"] == user.username


def test_me_requires_login():
    assert_error(APIClient().get(f"{API}/me/"), 403)


# --- shops/<id>/members/ ---------------------------------------------------------------------
def test_members_of_own_shop(agent, supervisor, admin_user, shop, outsider):
    team = TeamFactory(shop=shop, name="售后")
    agent.memberships.get(shop=shop).teams.add(team)
    MembershipFactory(shop=shop, user=UserFactory(is_active=False))
    body = logged_in(agent).get(f"{API}/shops/{shop.pk}/members/").json()
    rows = {row["id"]: row for row in body["results"]}
    assert set(rows) == {agent.pk, supervisor.pk, admin_user.pk}
    assert rows[agent.pk]["teams"] == [{"id": team.pk, "name": "售后"}]
    assert rows[admin_user.pk]["role"] == "admin"
    assert rows[supervisor.pk]["nickname"] == supervisor.nickname


def test_members_of_foreign_or_unknown_shop_are_the_same_404(outsider, shop):
    client = logged_in(outsider)
    foreign = assert_error(client.get(f"{API}/shops/{shop.pk}/members/"), 404)
    unknown = assert_error(client.get(f"{API}/shops/999999/members/"), 404)
    assert foreign == unknown


def test_members_is_read_only(agent, shop):
    assert_error(logged_in(agent).post(f"{API}/shops/{shop.pk}/members/", {}, format="json"), 405)
