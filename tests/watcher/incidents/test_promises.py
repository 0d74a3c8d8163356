"""The promise check in every market language it claims, and none on a plain apology."""

from __future__ import annotations

import pytest

from watcher.core.vocab import MARKET_LANGUAGES
from watcher.incidents.promises import PromiseList

PROMISES = {
    "en": {
        "deadline": "It will be fixed by tomorrow.",
        "refund": "You will get a full refund.",
        "compensation": "We'll offer compensation.",
        "guarantee": "We guarantee it works.",
        "never_again": "This will never happen again.",
    },
    "it": {
        "deadline": "Sarà risolto entro domani.",
        "refund": "Riceverai il rimborso.",
        "compensation": "Ti offriamo un risarcimento.",
        "guarantee": "Te lo garantiamo.",
        "never_again": "Non succederà più.",
    },
    "ro": {
        "deadline": "Se rezolvă până mâine.",
        "refund": "Vă rambursăm toată suma.",
        "compensation": "Veți primi o despăgubire.",
        "guarantee": "Garantăm că merge.",
        "never_again": "Nu se va mai întâmpla niciodată.",
    },
    "es": {
        "deadline": "Estará resuelto antes de mañana.",
        "refund": "Recibirás el reembolso.",
        "compensation": "Te daremos una compensación.",
        "guarantee": "Garantizamos que funciona.",
        "never_again": "No volverá a pasar.",
    },
    "de": {
        "deadline": "Bis morgen ist es behoben.",
        "refund": "Wir erstatten den Betrag.",
        "compensation": "Sie erhalten eine Entschädigung.",
        "guarantee": "Wir garantieren das.",
        "never_again": "Das wird nie wieder passieren.",
    },
    "fr": {
        "deadline": "Ce sera réglé d'ici demain.",
        "refund": "Vous serez remboursé.",
        "compensation": "Nous vous proposons un dédommagement.",
        "guarantee": "Nous garantissons le service.",
        "never_again": "Cela ne se reproduira plus.",
    },
    "pt": {
        "deadline": "Estará resolvido até amanhã.",
        "refund": "Vai receber o reembolso.",
        "compensation": "Vamos compensar o incómodo.",
        "guarantee": "Garantimos que funciona.",
        "never_again": "Não voltará a acontecer.",
    },
}
SAFE = {
    "en": "Sorry for the trouble; our team is working on it and we'll update you here.",
    "it": "Ci scusiamo per il disagio; il team ci sta lavorando e ti aggiorneremo qui.",
    "ro": "Ne pare rău pentru neplăcere; echipa lucrează la problemă și revenim aici.",
    "es": "Sentimos las molestias; el equipo está trabajando y te informaremos aquí.",
    "de": "Entschuldige die Umstände; das Team arbeitet daran und wir melden uns hier.",
    "fr": "Désolés pour la gêne ; l'équipe y travaille et nous donnerons des nouvelles ici.",
    "pt": "Pedimos desculpa; a equipa está a trabalhar nisso e daremos notícias aqui.",
}


@pytest.fixture(scope="module")
def promises() -> PromiseList:
    return PromiseList.load()


def test_every_market_language_is_covered(promises: PromiseList) -> None:
    assert set(promises.languages) == set(MARKET_LANGUAGES) == set(PROMISES)


@pytest.mark.parametrize(
    ("lang", "kind", "text"), [(lang, kind, text) for lang, kinds in PROMISES.items() for kind, text in kinds.items()]
)
def test_each_kind_of_promise_is_found_with_its_reason(promises: PromiseList, lang: str, kind: str, text: str) -> None:
    found = promises.check(text, lang)
    assert [f.kind for f in found] == [kind], found
    assert found[0].phrase.casefold() in text.casefold() and found[0].why


@pytest.mark.parametrize("lang", sorted(SAFE))
def test_an_apology_promises_nothing(promises: PromiseList, lang: str) -> None:
    assert promises.check(SAFE[lang], lang) == []


def test_the_bundled_statement_templates_promise_nothing(promises: PromiseList) -> None:
    from watcher.slack.incident_cards import _templates

    for intent, texts in _templates().items():
        for lang, text in texts.items():
            assert promises.check(text, lang) == [], (intent, lang)
