"""Token users and memberships are cached, and every change that could alter them drops them."""
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from accounts.models import Membership, Role

from ..factories import ConversationFactory

API = "/api/v1"
# Session authentication comes first, so DRF answers a bad token with 403, not 401.
REFUSED = 403


@pytest.fixture
def token_client(agent):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=agent).key}")
    return client


def _detail(client, conversation):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(f"{API}/conversations/{conversation.pk}/")
    return response, [q["sql"] for q in queries]


def test_token_and_memberships_are_read_once(token_client, conversation):
    first, first_sql = _detail(token_client, conversation)
    second, second_sql = _detail(token_client, conversation)
    assert first.status_code == second.status_code == 200
    assert any("authtoken_token" in sql for sql in first_sql)
    assert any("accounts_membership" in sql for sql in first_sql)
    assert not any("authtoken_token" in sql or "accounts_membership" in sql for sql in second_sql)
    assert len(second_sql) == len(first_sql) - 2


def test_deleted_token_and_deactivated_user_are_refused_at_once(token_client, conversation, agent):
    assert _detail(token_client, conversation)[0].status_code == 200
    agent.is_active = False
    agent.save()
    assert _detail(token_client, conversation)[0].status_code == REFUSED
    agent.is_active = True
    agent.save()
    assert _detail(token_client, conversation)[0].status_code == 200
    Token.objects.filter(user=agent).delete()
    assert _detail(token_client, conversation)[0].status_code == REFUSED


def test_membership_changes_apply_at_once(token_client, conversation, agent, other_shop):
    assert _detail(token_client, conversation)[0].status_code == 200
    elsewhere = ConversationFactory(shop=other_shop)
    assert _detail(token_client, elsewhere)[0].status_code == 404
    Membership.objects.create(user=agent, shop=other_shop, role=Role.AGENT)
    assert _detail(token_client, elsewhere)[0].status_code == 200
    Membership.objects.filter(user=agent, shop=conversation.shop).delete()
    assert _detail(token_client, conversation)[0].status_code == 404


def test_deleted_user_is_refused(token_client, conversation, agent):
    assert _detail(token_client, conversation)[0].status_code == 200
    agent.delete()  # token and memberships go by cascade
    assert _detail(token_client, conversation)[0].status_code == REFUSED
