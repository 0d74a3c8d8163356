"""A token_env value that may be a pasted token is never repeated in errors."""

from __future__ import annotations

from tests.connectors.meta.support import ENV, Clock, facebook, running_fake
from tests.fakes.graph_api import T0

PASTED = "EAAGpastedToken123"  # a Page token pasted into token_env: letters and digits


def test_a_pasted_token_is_not_the_hint_in_errors() -> None:
    with running_fake() as fake:
        connector = facebook(fake, Clock(T0), env={**ENV, PASTED: "page-token"}, token_env=PASTED)
        assert connector.client.token_hint == "the variable named by sources.facebook_main.token_env"
        connector.close()
