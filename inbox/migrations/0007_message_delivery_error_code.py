"""Delivery failures get a stable code (``Message.DeliveryFailure``) beside their detail.

Rows stored before kept an English sentence in ``delivery_error``. The sentences the delivery
task wrote are mapped to their codes (keeping what is specific, such as "HTTP 404", as the
detail); anything else becomes ``other`` with the sentence kept as the detail, so agents
still read it.
"""
import re

from django.db import migrations, models

HTTP_STATUS = re.compile(r"^HTTP (\d{3})$")
BLOCKED = re.compile(r" resolves to (\S+), which is not a public address$")
FIXED = {
    "channel is inactive": "channel_inactive",
    "no outbound URL configured": "no_outbound_url",
    "outbound URL must be http or https": "invalid_url",
    "timed out": "timeout",
}
DNS_TEXTS = ("Name or service not known", "Temporary failure in name resolution", "No address associated with hostname")


def code_of(text: str) -> tuple[str, str]:
    """``(code, detail)`` for a sentence the delivery task stored before codes existed."""
    if text in FIXED:
        return FIXED[text], ""
    if text.startswith("SITE_URL is not set"):
        return "no_site_url", ""
    if match := HTTP_STATUS.match(text):
        status = int(match[1])
        code = {3: "http_redirect", 4: "http_4xx", 5: "http_5xx"}.get(status // 100, "invalid_response")
        return code, text
    if match := BLOCKED.search(text):
        return "blocked_address", match[1]
    if "Connection refused" in text:
        return "refused", ""
    if any(dns in text for dns in DNS_TEXTS):
        return "dns", ""
    if "CERTIFICATE_VERIFY_FAILED" in text or text.startswith("[SSL"):
        return "tls", ""
    if text.startswith("[Errno"):
        return "connection", text
    if text == "Remote end closed connection without response":
        return "invalid_response", "RemoteDisconnected"
    return "other", text


def sentences_to_codes(apps, schema_editor):
    Message = apps.get_model("inbox", "Message")
    texts = Message.objects.exclude(delivery_error_detail="").values_list("delivery_error_detail", flat=True).distinct()
    for text in list(texts):
        code, detail = code_of(text)
        Message.objects.filter(delivery_error_detail=text).update(delivery_error_code=code, delivery_error_detail=detail)


class Migration(migrations.Migration):

    dependencies = [
        ("inbox", "0006_conversation_previous"),
    ]

    operations = [
        migrations.RenameField(model_name="message", old_name="delivery_error", new_name="delivery_error_detail"),
        migrations.AddField(
            model_name="message",
            name="delivery_error_code",
            field=models.CharField(
                blank=True,
                choices=[
                    ("channel_inactive", "the channel is turned off"),
                    ("no_outbound_url", "the channel has no outbound URL; ask an admin to set it"),
                    ("invalid_url", "the channel's outbound URL is not a valid http(s) address"),
                    ("no_site_url", "images cannot be linked because SITE_URL is not set"),
                    ("blocked_address", "the outbound URL points to a non-public address, so it was blocked"),
                    ("dns", "the platform's server name could not be resolved"),
                    ("timeout", "the platform did not answer in time"),
                    ("refused", "the platform's server refused the connection"),
                    ("tls", "the secure (HTTPS) connection to the platform failed"),
                    ("connection", "the network connection to the platform failed"),
                    ("invalid_response", "the platform's answer was not valid HTTP"),
                    ("http_redirect", "the platform answered with a redirect, which is not followed"),
                    ("http_4xx", "the platform refused the message"),
                    ("http_5xx", "the platform's server had an error"),
                    ("other", "another error"),
                ],
                max_length=32,
            ),
        ),
        migrations.RunPython(sentences_to_codes, migrations.RunPython.noop),
    ]
