"""Credentials masked in any form an upstream may echo them in (as configured, URL-encoded with upper- or
lower-case hex, `+` for spaces, JSON-escaped, lower- or upper-cased): the function, and the Sportmonks client
against a server on 127.0.0.1 whose error bodies echo the token in each form."""

from __future__ import annotations

import json
from urllib.parse import quote, quote_plus

import pytest
from sportmonks_server import FakeSportmonks, reply

from pipeline.providers.base import ProviderError
from pipeline.providers.sportmonks import SportmonksProvider
from pipeline.redact import Redactor, redact

KEY = "Sk9/aB+cD=eF gH%7zQ"  # characters that URL-encoding and case change


def echoes(secret: str) -> dict[str, str]:
    """The forms of `secret` an upstream has been seen to send back."""
    return {
        "as configured": secret,
        "url-encoded": quote(secret, safe=""),
        "url-encoded, lower-case hex": quote(secret, safe="").replace("%2F", "%2f").replace("%2B", "%2b"),
        "form-encoded": quote_plus(secret),
        "json-escaped": json.dumps(secret)[1:-1],
        "lower-cased": secret.lower(),
        "upper-cased": secret.upper(),
        "url-encoded, upper-cased": quote(secret, safe="").upper(),
    }


@pytest.mark.parametrize("form", list(echoes(KEY)))
def test_every_form_is_masked(form):
    text = f"error: invalid token '{echoes(KEY)[form]}' (see docs)"
    out = redact(text, [KEY])
    assert out == "error: invalid token '***' (see docs)"
    for spelling in echoes(KEY).values():
        assert spelling.lower() not in out.lower()


def test_short_or_missing_secrets_mask_nothing():
    assert redact("the pw is ok", ["pw", None, ""]) == "the pw is ok"
    assert not Redactor([None])


@pytest.mark.parametrize("form", list(echoes(KEY)))
def test_sportmonks_errors_never_carry_the_token(form):
    body = {"message": f"Unauthenticated: the token {echoes(KEY)[form]} is not valid for this league", "code": 5002}
    with FakeSportmonks() as api:
        api.route("fixtures/multi/7", reply(body, status=400))
        provider = SportmonksProvider(KEY, base_url=api.base_url, attempts=1, backoff=0.0)
        with pytest.raises(ProviderError) as err:
            provider.results(["7"], None)
    message = str(err.value)
    assert "HTTP 400" in message and "***" in message
    for spelling in echoes(KEY).values():
        assert spelling.lower() not in message.lower(), form
