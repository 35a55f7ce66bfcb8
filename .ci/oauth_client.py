#!/usr/bin/env python3
"""The token endpoint as a standard OAuth 2.0 client library sees it (requests-oauthlib).

    oauth_client.py BASE_URL

Right credentials give a token that works; wrong ones raise InvalidClientError; a grant
type the server does not support raises UnsupportedGrantTypeError. Any other outcome, or
any other exception, fails.
"""

import os
import sys

# The server under test listens on loopback over plain HTTP.
os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = "1"

from oauthlib.oauth2 import BackendApplicationClient, LegacyApplicationClient  # noqa: E402
from oauthlib.oauth2.rfc6749.errors import (  # noqa: E402
    InvalidClientError,
    UnsupportedGrantTypeError,
)
from requests_oauthlib import OAuth2Session  # noqa: E402


def main() -> None:
    base = sys.argv[1]
    token_url = f"{base}/oauth/token"

    session = OAuth2Session(client=BackendApplicationClient(client_id="acme"))
    token = session.fetch_token(token_url, client_id="acme", client_secret="acme-secret")
    assert token["token_type"] == "Bearer", token
    accounts = session.get(f"{base}/accounts")
    assert accounts.status_code == 200, accounts.text

    session = OAuth2Session(client=BackendApplicationClient(client_id="acme"))
    try:
        session.fetch_token(token_url, client_id="acme", client_secret="wrong")
    except InvalidClientError as e:
        print(f"wrong credentials: InvalidClientError ({e.description})")
    else:
        sys.exit("wrong credentials were not refused with InvalidClientError")

    session = OAuth2Session(client=LegacyApplicationClient(client_id="acme"))
    try:
        session.fetch_token(
            token_url,
            username="someone",
            password="secret",
            client_id="acme",
            client_secret="acme-secret",
        )
    except UnsupportedGrantTypeError as e:
        print(f"password grant: UnsupportedGrantTypeError ({e.description})")
    else:
        sys.exit("the password grant was not refused with UnsupportedGrantTypeError")


if __name__ == "__main__":
    main()
