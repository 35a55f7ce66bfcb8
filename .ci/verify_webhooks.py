"""Checks deliveries captured by apierr-webhooks' tests with the published
`standardwebhooks` package: every message must verify with every secret given.

usage: python verify_webhooks.py CAPTURE.json
CAPTURE.json: {"secrets": ["whsec_..."], "messages": [{"headers": {...}, "body": "..."}]}
"""
import json
import sys

from standardwebhooks.webhooks import Webhook

capture = json.load(open(sys.argv[1]))
checked = 0
for secret in capture["secrets"]:
    hook = Webhook(secret)
    for message in capture["messages"]:
        # Raises WebhookVerificationError on a bad signature or a stale timestamp.
        payload = hook.verify(message["body"], message["headers"])
        assert payload == json.loads(message["body"]), "payload differs"
        checked += 1
if checked == 0:
    sys.exit("nothing to verify")
print(f"standardwebhooks: {checked} signatures verified")
