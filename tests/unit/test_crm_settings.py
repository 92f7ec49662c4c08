"""Destination settings refuse what would send more than the mapping names, or could not work, with messages
that say what to change."""

from __future__ import annotations

from typing import Any

import pytest

from callsense.config import load_settings
from callsense.errors import ConfigError

HOOK = {
    "name": "hook",
    "kind": "webhook",
    "base_url": "https://hooks.example.com/calls",
    "secret": "whsec_c2VjcmV0",
}
HUBSPOT = {"name": "hubspot", "kind": "hubspot", "base_url": "https://api.hubapi.com", "token": "pat-na1-x"}


def load(*destinations: dict[str, Any]) -> Any:
    return load_settings(deliveries={"destinations": list(destinations)}).deliveries


def refused(*destinations: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as error:
        load(*destinations)
    return str(error.value)


def test_destinations_load_with_defaults_and_secrets_stay_secret() -> None:
    deliveries = load(HOOK, {**HUBSPOT, "enabled": False})
    assert [d.name for d in deliveries.enabled()] == ["hook"]
    hubspot = deliveries.named("hubspot")
    assert hubspot is not None and hubspot.max_age_h == 24 and "transcript" not in hubspot.fields
    assert "pat-na1-x" not in repr(deliveries)


@pytest.mark.parametrize(
    ("destination", "message"),
    [
        (
            {**HUBSPOT, "body_template": "{summary}\n{transcript}"},
            "body_template uses transcript, which is not in",
        ),
        ({**HUBSPOT, "subject_template": "{oops"}, "subject_template is not a valid template"),
        ({**HUBSPOT, "fields": ["summary", "mood"]}, "unknown field(s) mood"),
        ({**HUBSPOT, "token": None}, "hubspot needs token"),
        ({**HOOK, "secret": None}, "a webhook needs secret"),
        # Any text was taken, and every delivery then failed in the worker, each minute anew, never dead.
        ({**HOOK, "secret": "whsec_..."}, "destination hook: secret is not valid base64 (a secret is whsec_"),
        ({**HOOK, "secret": "whsec_"}, "destination hook: secret is empty"),
        ({**HUBSPOT, "base_url": "api.hubapi.com"}, "base_url must be an http(s) URL"),
        ({**HUBSPOT, "kind": "bottlecrm"}, "no_match must be 'create' or 'skip'"),
        ({**HUBSPOT, "no_match": "create"}, "fields must include customer_number"),
        ({**HUBSPOT, "name": "Big CRM"}, "name"),
        ({**HUBSPOT, "kind": "pipedrive"}, "kind"),
    ],
)
def test_invalid_destinations_are_refused_with_a_helpful_message(
    destination: dict[str, Any], message: str
) -> None:
    assert message in refused(destination)


def test_destination_names_are_unique() -> None:
    assert "destination names must be unique: hubspot" in refused(HUBSPOT, HUBSPOT)


def test_a_webhook_needs_no_templates_and_the_transcript_can_be_mapped() -> None:
    [hook] = load({**HOOK, "fields": ["call_id", "transcript"]}).destinations
    assert hook.fields == ["call_id", "transcript"]


def test_a_proxy_is_an_http_url_and_is_off_unless_named() -> None:
    assert load(HUBSPOT).destinations[0].proxy_url is None
    proxied = load({**HUBSPOT, "proxy_url": "http://proxy.corp.example:3128"}).destinations[0]
    assert proxied.proxy_url == "http://proxy.corp.example:3128"
    assert "proxy_url must be an http(s) URL" in refused({**HUBSPOT, "proxy_url": "socks9://proxy"})
