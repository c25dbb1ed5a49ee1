"""How a buyer proves who they are, on the chat page, its uploads and its websocket.

Two ways in: a shop-signed identity token (the shop's own site knows the platform buyer id)
or, lacking one, a random visitor id kept in a cookie. Either way the page then hands the
browser a *session token* naming the buyer (shop and platform buyer id), which the websocket
and uploads carry; it is signed with SECRET_KEY, so it cannot be forged or moved to another
shop. It names the buyer rather than a profile row, so a visitor's profile is made by their
first message, not by every page view (crawlers, a glance at the widget).
"""
import uuid
from dataclasses import dataclass

from django.core import signing
from django.utils.crypto import salted_hmac

from customers.models import Customer

from .models import Channel

SHOP_TOKEN_SALT = "dxe.buyer-identity"
SESSION_TOKEN_SALT = "dxe.buyer-session"
VISITOR_BUYER_ID_SALT = "dxe.visitor-buyer-id"
SHOP_TOKEN_MAX_AGE = 24 * 3600
SESSION_TOKEN_MAX_AGE = 30 * 24 * 3600


def shop_token_sign(*, channel: Channel, buyer_id: str, nickname: str = "") -> str:
    """What a shop's server does to vouch for a buyer (documented for integrators)."""
    return signing.dumps({"b": buyer_id, "n": nickname}, key=channel.webhook_secret, salt=SHOP_TOKEN_SALT)


def shop_token_read(*, channel: Channel, token: str) -> tuple[str, str] | None:
    """The (buyer id, nickname) a shop token vouches for, or None if invalid or expired."""
    try:
        # Only the channel's secret: Django would also try SECRET_KEY_FALLBACKS for a given key,
        # letting an old SECRET_KEY vouch for buyers of every shop.
        data = signing.loads(
            token, key=channel.webhook_secret, fallback_keys=[], salt=SHOP_TOKEN_SALT, max_age=SHOP_TOKEN_MAX_AGE
        )
    except signing.BadSignature:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("b"), str) or not data["b"]:
        return None
    return data["b"], str(data.get("n") or "")


def visitor_buyer_id(*, shop_id: int, visitor_id: str) -> str:
    """The platform buyer id of a chat visitor in one shop.

    The visitor id in the cookie is a bearer secret: whoever sends it is that visitor. So the
    buyer id that the shop's agents see (and the API lists) is a keyed hash of the shop and
    the visitor id, never the id itself: it cannot be turned back into the cookie, and one
    browser is a different, unlinkable buyer in each shop. It follows ``SECRET_KEY``:
    changing the key makes returning visitors new buyers.
    """
    digest = salted_hmac(VISITOR_BUYER_ID_SALT, f"{shop_id}:{visitor_id}", algorithm="sha256").hexdigest()
    return f"visitor-{digest[:32]}"


def new_visitor_id() -> str:
    return uuid.uuid4().hex


def valid_visitor_id(value: str | None) -> bool:
    try:
        return value is not None and uuid.UUID(hex=value).hex == value
    except ValueError:
        return False


@dataclass(frozen=True)
class BuyerSession:
    """Who a chat session's buyer is: a shop's platform buyer id, with or without a profile yet.

    ``address`` is the client address a visitor's chat page saw: their first message counts
    against it (inbox/visitor_quota.py). Empty for buyers a shop vouches for.
    """

    shop_id: int
    buyer_id: str
    nickname: str = ""
    address: str = ""

    @classmethod
    def of(cls, customer: Customer) -> "BuyerSession":
        return cls(shop_id=customer.shop_id, buyer_id=customer.platform_buyer_id, nickname=customer.nickname)

    def customer(self) -> Customer | None:
        """The buyer's profile, once their first message (or their shop) made it."""
        return Customer.objects.filter(shop_id=self.shop_id, platform_buyer_id=self.buyer_id).first()


def session_token_issue(buyer: BuyerSession) -> str:
    claims = {"s": buyer.shop_id, "b": buyer.buyer_id, "n": buyer.nickname}
    if buyer.address:
        claims["a"] = buyer.address
    return signing.dumps(claims, salt=SESSION_TOKEN_SALT)


def session_token_read(token: str | None, *, shop_id: int) -> BuyerSession | None:
    """The buyer a session token names, if it is valid and of this shop."""
    if not token:
        return None
    try:
        data = signing.loads(token, salt=SESSION_TOKEN_SALT, max_age=SESSION_TOKEN_MAX_AGE)
    except signing.BadSignature:
        return None
    if not isinstance(data, dict) or data.get("s") != shop_id or not isinstance(data.get("b"), str) or not data["b"]:
        return None
    return BuyerSession(
        shop_id=shop_id, buyer_id=data["b"], nickname=str(data.get("n") or ""), address=str(data.get("a") or "")
    )


def session_token_customer(token: str | None, *, shop_id: int) -> Customer | None:
    """The profile of the buyer a session token names, if valid, of this shop, and made yet."""
    buyer = session_token_read(token, shop_id=shop_id)
    return buyer.customer() if buyer is not None else None
