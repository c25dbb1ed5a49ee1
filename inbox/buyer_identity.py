"""How a buyer proves who they are, on the chat page, its uploads and its websocket.

Two ways in: a shop-signed identity token (the shop's own site knows the platform buyer id)
or, lacking one, a random visitor id kept in a cookie. Either way the page then hands the
browser a short *session token* naming the customer row, which the websocket and uploads
carry; it is signed with SECRET_KEY, so it cannot be forged or moved to another shop.
"""
import uuid

from django.core import signing

from customers.models import Customer

from .models import Channel

SHOP_TOKEN_SALT = "dxe.buyer-identity"
SESSION_TOKEN_SALT = "dxe.buyer-session"
SHOP_TOKEN_MAX_AGE = 24 * 3600
SESSION_TOKEN_MAX_AGE = 30 * 24 * 3600
VISITOR_COOKIE = "dxe_visitor"


def shop_token_sign(*, channel: Channel, buyer_id: str, nickname: str = "") -> str:
    """What a shop's server does to vouch for a buyer (documented for integrators)."""
    return signing.dumps({"b": buyer_id, "n": nickname}, key=channel.webhook_secret, salt=SHOP_TOKEN_SALT)


def shop_token_read(*, channel: Channel, token: str) -> tuple[str, str] | None:
    """The (buyer id, nickname) a shop token vouches for, or None if invalid or expired."""
    try:
        data = signing.loads(token, key=channel.webhook_secret, salt=SHOP_TOKEN_SALT, max_age=SHOP_TOKEN_MAX_AGE)
    except signing.BadSignature:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("b"), str) or not data["b"]:
        return None
    return data["b"], str(data.get("n") or "")


def visitor_buyer_id(visitor_id: str) -> str:
    return f"visitor-{visitor_id}"


def new_visitor_id() -> str:
    return uuid.uuid4().hex


def valid_visitor_id(value: str | None) -> bool:
    try:
        return value is not None and uuid.UUID(hex=value).hex == value
    except ValueError:
        return False


def session_token_issue(customer: Customer) -> str:
    return signing.dumps({"c": customer.pk, "s": customer.shop_id}, salt=SESSION_TOKEN_SALT)


def session_token_customer(token: str | None, *, shop_id: int) -> Customer | None:
    """The customer a session token names, if valid and of this shop."""
    if not token:
        return None
    try:
        data = signing.loads(token, salt=SESSION_TOKEN_SALT, max_age=SESSION_TOKEN_MAX_AGE)
    except signing.BadSignature:
        return None
    if not isinstance(data, dict) or data.get("s") != shop_id:
        return None
    return Customer.objects.filter(pk=data.get("c"), shop_id=shop_id).first()
