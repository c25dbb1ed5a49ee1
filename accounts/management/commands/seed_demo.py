"""``python manage.py seed_demo``: a demo seller with two shops, staff, buyers and chats.

Everything is created through the services (accounts, customers, inbox), so the demo data
has the same shape as real traffic: gapless seqs, events, unread counters, previews.
Idempotent: when the demo organization exists the command only prints the logins.
"""
from datetime import timedelta
from decimal import Decimal

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from accounts import services as accounts_services
from accounts.models import Organization, Role, Shop, User
from customers.models import Address
from customers.services import customer_get_or_create, customer_update
from inbox import channel_services
from inbox import services as inbox_services
from inbox.models import Channel, Conversation, Message
from orders.models import Order

DEMO_ORG_NAME = "小二演示商家"

# (slug, name, platform, web channel name, platform channel name)
SHOPS = [
    ("xiaoer-flagship", "小二旗舰店", Shop.Platform.TAOBAO, "网页聊天", "淘宝千牛接口"),
    ("xiaoer-jd", "小二京东店", Shop.Platform.JD, "网页聊天", "京东咚咚接口"),
]
TEAMS = ["售前", "售后", "VIP"]

# The demo logins; bootstrap.py prints the same table (a test keeps the two in step).
DEMO_USERS = [
    # username, password, 客服昵称, {shop slug: (role, teams)}
    ("agent1", "demo-pass-1", "小美", {"xiaoer-flagship": (Role.AGENT, ["售前"])}),
    ("agent2", "demo-pass-2", "阿强", {"xiaoer-jd": (Role.AGENT, ["售后"]), "xiaoer-flagship": (Role.AGENT, ["售后"])}),
    ("agent3", "demo-pass-3", "小雪", {"xiaoer-flagship": (Role.AGENT, ["VIP", "售前"]), "xiaoer-jd": (Role.AGENT, ["VIP"])}),
    ("lead1", "demo-lead-pass", "芳姐", {"xiaoer-flagship": (Role.SUPERVISOR, ["售后"]), "xiaoer-jd": (Role.SUPERVISOR, ["售后", "VIP"])}),
    ("boss", "demo-admin-pass", "店长老王", {"xiaoer-flagship": (Role.ADMIN, []), "xiaoer-jd": (Role.ADMIN, [])}),
]
SUPERUSERS = {"boss"}  # may also use /admin/

# Buyers: shop slug, platform buyer id, nickname, profile, tags, address, orders.
BUYERS = {
    "maomao": {
        "shop": "xiaoer-flagship",
        "buyer_id": "tb_aichiyu_mao",
        "nickname": "爱吃鱼的猫",
        "profile": {"name": "林晓", "phone": "13812345678", "vip_level": 1, "notes": "偏爱宽松版型"},
        "tags": ["老客户"],
        "address": ("林晓", "13812345678", "浙江省 杭州市 西湖区", "文三路 88 号 3 幢 501"),
        "orders": [("TB20261101001", Order.Status.SIGNED, "259.00", [("加绒连帽卫衣 灰色 M", 1, "259.00")], 20)],
    },
    "lily": {
        "shop": "xiaoer-flagship",
        "buyer_id": "tb_lilian2024",
        "nickname": "莉莉安",
        "profile": {"phone": "13900001111"},
        "tags": [],
        "address": None,
        "orders": [],
    },
    "zhang": {
        "shop": "xiaoer-flagship",
        "buyer_id": "tb_zhangxs88",
        "nickname": "张先生",
        "profile": {"name": "张建国", "phone": "13698765432", "vip_level": 3, "notes": "企业团购联系人"},
        "tags": ["VIP", "老客户"],
        "address": ("张建国", "13698765432", "上海市 浦东新区", "张江路 1000 弄 12 号 1802 室"),
        "orders": [
            ("TB20261123017", Order.Status.PENDING_PAYMENT, "897.00", [("羊毛大衣 藏青 XL", 1, "699.00"), ("围巾 酒红", 1, "198.00")], 0),
            ("TB20261002005", Order.Status.SIGNED, "399.00", [("直筒西裤 黑色 32", 1, "399.00")], 50),
        ],
    },
    "xiaolu": {
        "shop": "xiaoer-flagship",
        "buyer_id": "tb_xiaolu_luanzhuang",
        "nickname": "小鹿乱撞",
        "profile": {},
        "tags": [],
        "address": None,
        "orders": [],
    },
    "wangming": {
        "shop": "xiaoer-jd",
        "buyer_id": "jd_wangming_01",
        "nickname": "王明",
        "profile": {"name": "王明", "phone": "13755556666"},
        "tags": ["老客户"],
        "address": ("王明", "13755556666", "广东省 深圳市 南山区", "科技园南区 深南大道 9988 号"),
        "orders": [("JD300012345678", Order.Status.SHIPPED, "1299.00", [("降噪蓝牙耳机 Pro", 1, "1299.00")], 4)],
    },
    "tingting": {
        "shop": "xiaoer-jd",
        "buyer_id": "jd_tingting_bt",
        "nickname": "婷婷不停",
        "profile": {"name": "李婷", "phone": "18600001234", "notes": "近 30 天第 3 次申请退款"},
        "tags": ["易退款"],
        "address": ("李婷", "18600001234", "北京市 朝阳区", "望京 SOHO T1 1205"),
        "orders": [("JD300012399999", Order.Status.SIGNED, "59.00", [("玻璃保温杯 350ml", 1, "59.00")], 6)],
    },
    "chen": {
        "shop": "xiaoer-jd",
        "buyer_id": "jd_chen_dashu",
        "nickname": "陈大叔",
        "profile": {},
        "tags": [],
        "address": None,
        "orders": [],
    },
}

# Conversations: (buyer key, channel kind, steps). Steps:
#   ("buyer", text) · ("agent", username, text) · ("note", username, text)
#   ("assign", username, by username) · ("resolve", username) · ("snooze", username, hours)
CONVERSATIONS = [
    # 售前: size and promotions, web chat, assigned to 小美.
    ("maomao", Channel.Kind.WEB, [
        ("buyer", "你好，这件加绒卫衣我 175cm、140 斤穿什么码？"),
        ("assign", "agent1", "agent1"),
        ("agent", "agent1", "亲，175/140 斤建议选 L 码哦，这款版型偏宽松，喜欢修身可以选 M～"),
        ("buyer", "好的，现在有什么活动吗？"),
        ("agent", "agent1", "店铺满 299 减 30，今晚 20 点前下单还送同色系袜子一双哦～"),
        ("buyer", "那我再凑一件，有合适的裤子推荐吗？"),
    ]),
    # 售前 promotion question, not yet assigned.
    ("lily", Channel.Kind.PLATFORM_API, [
        ("buyer", "双十二的价格现在买能保价吗？"),
        ("buyer", "还有，羽绒服可以用优惠券叠加吗？"),
    ]),
    # 催付 and address check on an unpaid order, VIP buyer, assigned to 小雪.
    ("zhang", Channel.Kind.PLATFORM_API, [
        ("buyer", "大衣和围巾拍下了，地址是上次那个吗？"),
        ("assign", "agent3", "lead1"),
        ("agent", "agent3", "张先生您好～帮您核对一下：上海市浦东新区张江路 1000 弄 12 号 1802 室，张建国 136****5432，对吗？"),
        ("buyer", "对的，没问题"),
        ("agent", "agent3", "好的～订单 TB20261123017 还没有付款哦，今天 16 点前付款当天就能发顺丰，VIP 还包运费险～"),
        ("note", "agent3", "VIP 3 级老客户，如 17 点前仍未付款再提醒一次"),
    ]),
    # Web chat question nobody has taken yet.
    ("xiaolu", Channel.Kind.WEB, [
        ("buyer", "在吗？想问下这款白鸭绒羽绒服会不会钻毛"),
    ]),
    # Logistics chase on JD, assigned to 阿强, with a private note.
    ("wangming", Channel.Kind.PLATFORM_API, [
        ("buyer", "我的耳机发货三天了物流一直没更新，怎么回事？"),
        ("assign", "agent2", "lead1"),
        ("agent", "agent2", "王先生您好，帮您查一下订单 JD300012345678 的物流，请稍等～"),
        ("note", "agent2", "已联系京东物流催件，工单号 JDWL-88231，转运中心积压"),
        ("agent", "agent2", "已经帮您催促快递了，转运中心这两天件比较多，预计明天下午送达，给您添麻烦了～"),
        ("buyer", "好吧，明天还不到我就退货了"),
        ("agent", "agent2", "理解您的心情，明天下午我再帮您跟进，到时主动联系您～"),
        ("snooze", "agent2", 20),
    ]),
    # After-sales refund, handled by the supervisor and resolved.
    ("tingting", Channel.Kind.PLATFORM_API, [
        ("buyer", "收到的保温杯杯身有裂纹，我要退款"),
        ("assign", "lead1", "lead1"),
        ("agent", "lead1", "非常抱歉给您带来不好的体验！麻烦拍一张裂纹的照片发给我们，核实后马上为您处理～"),
        ("buyer", "照片已经在订单里上传了"),
        ("note", "lead1", "易退款客户（近 30 天第 3 次），照片核实确有裂纹，同意仅退款"),
        ("agent", "lead1", "已核实，为您申请仅退款 59 元，1-3 个工作日原路退回，杯子不用寄回了～"),
        ("buyer", "收到了，谢谢"),
        ("agent", "lead1", "不客气，祝您生活愉快～"),
        ("resolve", "lead1"),
    ]),
    # 售前 product question on JD web chat, unassigned.
    ("chen", Channel.Kind.WEB, [
        ("buyer", "这款耳机支持主动降噪吗？续航多久？"),
    ]),
]


def demo_logins() -> list[tuple[str, str, str, str]]:
    """(username, password, 客服昵称, highest role) of every demo user."""
    rank = {Role.AGENT: 1, Role.SUPERVISOR: 2, Role.ADMIN: 3}
    return [
        (username, password, nickname, max((r for r, _ in roles.values()), key=rank.__getitem__).value)
        for username, password, nickname, roles in DEMO_USERS
    ]


class Command(BaseCommand):
    help = "Create a demo seller (two shops, staff, buyers, orders, conversations); safe to run again."

    def handle(self, *args, **options):
        if Organization.objects.filter(name=DEMO_ORG_NAME).exists():
            self.stdout.write(f"Demo data already present ({DEMO_ORG_NAME}); nothing to do.")
        else:
            taken = set(User.objects.filter(username__in=[u[0] for u in DEMO_USERS]).values_list("username", flat=True))
            taken_slugs = set(Shop.objects.filter(slug__in=[s[0] for s in SHOPS]).values_list("slug", flat=True))
            if taken or taken_slugs:
                raise CommandError(
                    "Cannot seed the demo: these names are already used by other data: "
                    + ", ".join(sorted(taken | taken_slugs))
                )
            with transaction.atomic():
                counts = self._seed()
            self.stdout.write(self.style.SUCCESS(
                f"Demo data created: {counts['shops']} shops, {counts['users']} staff, "
                f"{counts['customers']} buyers, {counts['conversations']} conversations, {counts['messages']} messages."
            ))
        self.stdout.write("Demo logins (username / password, 客服昵称, role):")
        for username, password, nickname, role in demo_logins():
            self.stdout.write(f"  {username:<8} / {password:<16} {nickname}  {role}")

    def _seed(self) -> dict:
        now = timezone.now()
        org = accounts_services.organization_create(name=DEMO_ORG_NAME)
        shops, channels, teams = {}, {}, {}
        for slug, name, platform, web_name, api_name in SHOPS:
            shop = accounts_services.shop_create(organization=org, name=name, slug=slug, platform=platform)
            shops[slug] = shop
            for team_name in TEAMS:
                teams[slug, team_name] = accounts_services.team_create(shop=shop, name=team_name)
            channels[slug, Channel.Kind.WEB] = channel_services.channel_create(shop=shop, kind=Channel.Kind.WEB, name=web_name)
            channels[slug, Channel.Kind.PLATFORM_API] = channel_services.channel_create(
                shop=shop, kind=Channel.Kind.PLATFORM_API, name=api_name
            )

        users = {}
        for username, password, nickname, roles in DEMO_USERS:
            user = accounts_services.user_create(
                username=username, password=password, display_name=nickname, is_superuser=username in SUPERUSERS
            )
            users[username] = user
            for slug, (role, team_names) in roles.items():
                accounts_services.membership_add(
                    user=user, shop=shops[slug], role=role, teams=[teams[slug, t] for t in team_names]
                )

        customers = {}
        for key, buyer in BUYERS.items():
            shop = shops[buyer["shop"]]
            customer = customer_get_or_create(shop=shop, platform_buyer_id=buyer["buyer_id"], nickname=buyer["nickname"])
            customer = customer_update(customer=customer, tags=buyer["tags"], **buyer["profile"])
            customers[key] = customer
            if buyer["address"]:
                recipient, phone, region, detail = buyer["address"]
                Address.objects.create(
                    customer=customer, recipient=recipient, phone=phone, region=region, detail=detail, is_default=True
                )
            for number, status, amount, items, days_ago in buyer["orders"]:
                placed_at = now - timedelta(days=days_ago, hours=2)
                Order.objects.create(
                    shop=shop,
                    customer=customer,
                    platform_order_id=number,
                    status=status,
                    total_amount=Decimal(amount),
                    items=[{"title": t, "quantity": q, "price": p} for t, q, p in items],
                    placed_at=placed_at,
                    paid_at=None if status == Order.Status.PENDING_PAYMENT else placed_at + timedelta(minutes=3),
                )

        message_count = 0
        for key, kind, steps in CONVERSATIONS:
            buyer = BUYERS[key]
            channel = channels[buyer["shop"], kind]
            conversation = None
            for index, step in enumerate(steps, start=1):
                client_msg_id = f"demo-{key}-{index}"
                action = step[0]
                if action == "buyer":
                    message, _created = inbox_services.buyer_message_receive(
                        channel=channel,
                        platform_buyer_id=buyer["buyer_id"],
                        nickname=buyer["nickname"],
                        text=step[1],
                        client_msg_id=client_msg_id,
                    )
                    conversation = message.conversation
                    message_count += 1
                elif action == "agent":
                    # The agent read the thread before answering.
                    conversation.refresh_from_db()
                    conversation = inbox_services.conversation_mark_read(
                        conversation=conversation, side="agent", up_to_seq=conversation.last_seq, actor=users[step[1]]
                    )
                    message, _created = inbox_services.message_send(
                        conversation=conversation,
                        sender_kind=Message.SenderKind.AGENT,
                        author=users[step[1]],
                        text=step[2],
                        client_msg_id=client_msg_id,
                    )
                    if message.delivery_state == Message.Delivery.PENDING:
                        # The demo has no real platform behind its API channels: record the
                        # reply as accepted, as the delivery task would after a 2xx.
                        inbox_services.message_delivery_update(message_id=message.pk, state=Message.Delivery.SENT)
                    message_count += 1
                elif action == "note":
                    inbox_services.note_add(
                        conversation=conversation, author=users[step[1]], text=step[2], client_msg_id=client_msg_id
                    )
                    message_count += 1
                elif action == "assign":
                    conversation = inbox_services.conversation_assign(
                        conversation=conversation, assignee=users[step[1]], actor=users[step[2]]
                    )
                elif action == "resolve":
                    conversation = inbox_services.conversation_resolve(conversation=conversation, actor=users[step[1]])
                elif action == "snooze":
                    conversation = inbox_services.conversation_snooze(
                        conversation=conversation, until=timezone.now() + timedelta(hours=step[2]), actor=users[step[1]]
                    )
                else:  # pragma: no cover - a typo in the table above
                    raise CommandError(f"unknown demo step {action!r}")
        return {
            "shops": len(shops),
            "users": len(users),
            "customers": len(customers),
            "conversations": Conversation.objects.filter(shop__organization=org).count(),
            "messages": message_count,
        }
