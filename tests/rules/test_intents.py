"""Intents, sarcasm, language and sentiment: table-driven, per language."""

from __future__ import annotations

import pytest

from rules.intents import detect_intents, sarcasm
from rules.model import normalize
from rules.triage import Triager


def intents_of(text: str, lang: str) -> set[str]:
    return {h.intent for h in detect_intents(normalize(text), lang)}


@pytest.mark.parametrize(
    ("lang", "text", "intent"),
    [
        ("en", "How do I change my delivery address?", "question"),
        ("it", "Come posso cambiare il mio indirizzo?", "question"),
        ("es", "¿Cómo puedo cambiar la dirección?", "question"),
        ("de", "Wie kann ich meine Adresse ändern?", "question"),
        ("fr", "Comment faire pour changer mon adresse ?", "question"),
        ("pt", "Como posso mudar o endereço?", "question"),
        ("ro", "Cum pot schimba adresa?", "question"),
        ("en", "Still waiting for my refund, terrible service", "complaint"),
        ("it", "Servizio pessimo, ancora niente", "complaint"),
        ("de", "Immer noch keine Antwort, unverschämt", "complaint"),
        ("en", "I want a refund for this", "billing"),
        ("fr", "Je veux être remboursé", "billing"),
        ("en", "You charged me twice for one order", "double_charge"),
        ("it", "Mi avete addebitato due volte", "double_charge"),
        ("es", "Me habéis cobrado dos veces", "double_charge"),
        ("de", "Sie haben doppelt abgebucht", "double_charge"),
        ("pt", "Fui cobrado duas vezes", "double_charge"),
        ("ro", "Am fost taxat de două ori", "double_charge"),
        ("en", "my parcel hasn't arrived", "delivery"),
        ("es", "mi paquete no ha llegado", "delivery"),
        ("en", "Is the app down? can't log in", "outage"),
        ("en", "now there's a €400 transfer I didn't make", "account_takeover"),
        ("en", "someone is STILL getting into my account", "account_takeover"),
        ("de", "Neues Gerät angemeldet – das habe ich nicht gemacht", "account_takeover"),
        ("es", "en mi app aparecen los movimientos de otra persona", "privacy_breach"),
        ("es", "esto es una brecha de datos", "privacy_breach"),
        ("en", "I'm done, moving my salary to another bank on Friday", "churn"),
        ("en", "honestly thinking of moving everything to a rival", "churn"),
        ("it", "dopo questa settimana chiudo comunque il conto", "churn"),
        ("pt", "depois de hoje vou fechar a conta", "churn"),
        ("fr", "Bon ben je clôture mon compte", "churn"),
        ("pt", "já fiz queixa à CNPD e ao Banco de Portugal", "press_threat"),
        ("ro", "Am trimis sesizare la ANSPDCP și la BNR", "press_threat"),
        ("fr", "Le site est en panne", "outage"),
        ("pt", "o app está fora do ar", "outage"),
        ("en", "my account was hacked", "account_takeover"),
        ("de", "Mein Konto wurde gehackt", "account_takeover"),
        ("es", "alguien entró en mi cuenta, no fui yo", "account_takeover"),
        ("en", "you sent me someone else's order with their address: data breach", "privacy_breach"),
        ("pt", "vazamento de dados dos clientes", "privacy_breach"),
        ("en", "the charger caught fire", "safety"),
        ("it", "il caricabatterie ha preso fuoco", "safety"),
        ("fr", "ma fille s'est brûlée", "safety"),
        ("ro", "încărcătorul a luat foc", "safety"),
        ("en", "my lawyer will be in touch", "legal"),
        ("it", "vi denuncio, ho già un avvocato", "legal"),
        ("de", "mein Anwalt meldet sich", "legal"),
        ("en", "I'm going to the press with this", "press_threat"),
        ("it", "mando tutto a Striscia la notizia", "press_threat"),
        ("en", "I'm cancelling my subscription", "churn"),
        ("es", "quiero darme de baja", "churn"),
        ("fr", "je résilie mon abonnement", "churn"),
        ("en", "love your new app, amazing work", "praise"),
        ("es", "me encanta, excelente", "praise"),
        ("en", "thanks, all sorted now", "thanks_close"),
        ("en", "the duplicate one dropped off today. thanks, sorted now!", "thanks_close"),
        ("en", "replacement arrived, thanks for sorting it", "thanks_close"),
        ("en", "the charge is gone this morning, balance back to normal. thanks", "thanks_close"),
        ("it", "grazie mille, risolto", "thanks_close"),
        ("en", "Follow & RT to win! #giveaway", "spam"),
        ("es", "Gran sorteo: gana un iPhone", "spam"),
    ],
)
def test_intent_found(lang: str, text: str, intent: str) -> None:
    assert intent in intents_of(text, lang)


@pytest.mark.parametrize(
    ("lang", "text", "intent"),
    [
        ("en", "the new campfire collection looks lovely", "safety"),
        ("en", "the courtyard of your store is lovely", "legal"),
        ("en", "order arrived, thanks", "churn"),
        ("en", "finally got into my account after the reset, thanks", "account_takeover"),
        ("en", "we are moving house next month", "churn"),
        ("en", "thanks for nothing, still no refund", "thanks_close"),
        ("it", "il pacco è arrivato, grazie", "complaint"),
        ("de", "Das Paket ist angekommen, danke", "outage"),
    ],
)
def test_intent_not_found(lang: str, text: str, intent: str) -> None:
    assert intent not in intents_of(text, lang)


@pytest.mark.parametrize(
    "text",
    [
        "great, another delayed parcel",
        "thanks for nothing",
        "oh great, the app is down again",
        "Perfect. My order is late again 🙄",
    ],
)
def test_sarcasm_detected(text: str) -> None:
    norm = normalize(text)
    assert sarcasm(norm, [h.intent for h in detect_intents(norm, "en")])


@pytest.mark.parametrize("text", ["great service, thank you", "love the new app", "thanks, parcel arrived"])
def test_plain_praise_is_not_sarcasm(text: str) -> None:
    norm = normalize(text)
    assert sarcasm(norm, [h.intent for h in detect_intents(norm, "en")]) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Il mio ordine non è ancora arrivato e nessuno risponde", "it"),
        ("Mi pedido no ha llegado y nadie responde", "es"),
        ("Meine Bestellung ist nicht angekommen und niemand antwortet", "de"),
        ("Ma commande n'est pas arrivée et personne ne répond", "fr"),
        ("Meu pedido não chegou e ninguém responde", "pt"),
        ("Comanda mea nu a ajuns si nimeni nu raspunde", "ro"),
        ("My order has not arrived and nobody answers", "en"),
        ("😡😡😡", "unknown"),
    ],
)
def test_language(triager: Triager, text: str, expected: str) -> None:
    assert triager.detector.detect(text).lang == expected


def test_short_text_uses_platform_hint(triager: Triager) -> None:
    assert triager.detector.detect("ok!!", hint="it").lang == "it"
    # no tag: a short post takes the likeliest of the brand's languages, never "unknown"
    assert triager.detector.detect("ok!!").lang in triager.detector.languages


def test_platform_tag_trusted_on_short_posts_only(triager: Triager) -> None:
    english = "My order still has not arrived and nobody answers my emails, what is going on with this company?"
    assert triager.detector.detect(english, hint="it").lang == "it"  # tweet-sized: the platform's word
    long_post = " ".join([english] * 3)
    assert triager.detector.detect(long_post, hint="it").lang == "en"  # long: the detector decides
    assert triager.detector.detect(english, hint="nl").lang == "en"  # not a market language: detector


def test_language_outside_the_market_is_unknown() -> None:
    from rules.language import LanguageDetector

    detector = LanguageDetector(("en",), floor=0.5)
    assert detector.detect("Mijn bestelling is nog steeds niet aangekomen, wat is er aan de hand").lang == "unknown"
    assert detector.detect("My order still has not arrived, what is going on").lang == "en"


@pytest.mark.parametrize(
    ("lang", "text", "label"),
    [
        ("en", "I love this, thank you so much!", "positive"),
        ("en", "This is the worst service ever, I hate it", "negative"),
        ("en", "not good at all", "negative"),
        ("en", "😡😡 👎", "negative"),
        ("it", "Servizio pessimo, che schifo", "negative"),
        ("it", "Bellissimo, grazie mille, siete fantastici", "positive"),
        ("es", "Fatal, una vergüenza de servicio", "negative"),
        ("es", "Me encanta, muchas gracias, genial", "positive"),
        ("de", "Schrecklich, total enttäuscht", "negative"),
        ("de", "Super, vielen Dank, ich bin begeistert", "positive"),
        ("fr", "Nul, service lamentable, honte", "negative"),
        ("fr", "Merci beaucoup, c'est parfait, j'adore", "positive"),
        ("pt", "Péssimo atendimento, que vergonha", "negative"),
        ("pt", "Amei, obrigado, perfeito", "positive"),
        ("ro", "produs groaznic, foarte dezamagit, nu recomand", "negative"),
        ("ro", "produs excelent, recomand cu drag", "positive"),
    ],
)
def test_sentiment_label(triager: Triager, lang: str, text: str, label: str) -> None:
    from rules.model import hash_text

    assert triager.sentiment.analyze(hash_text(text), text, lang).label == label


@pytest.mark.parametrize(
    ("lang", "positive", "negated"),
    [
        ("en", "good", "not good"),
        ("it", "buono", "non buono"),
        ("es", "bueno", "no es bueno"),
        ("de", "gut", "nicht gut"),
        ("fr", "bon", "pas bon"),
        ("pt", "bom", "não é bom"),
        ("ro", "bun", "nu e bun"),
    ],
)
def test_lexicon_negation_flips(triager: Triager, lang: str, positive: str, negated: str) -> None:
    lex = triager.sentiment.lexicons
    pos, neg, _, _ = lex.features(normalize(positive).split(), lang)
    assert pos > 0 and neg == 0
    pos, neg, _, hits = lex.features(normalize(negated).split(), lang)
    assert neg > 0 and pos == 0 and hits[0].startswith("not ")


@pytest.mark.parametrize(("emoji", "sign"), [("😡", -1), ("👎", -1), ("🙏", 1), ("😍", 1)])
def test_emoji_vader_misses_count(triager: Triager, emoji: str, sign: int) -> None:
    _, _, score, _ = triager.sentiment.lexicons.features([emoji], "en")
    assert score * sign > 0


def test_long_post_language_from_its_opening(triager: Triager) -> None:
    opening = "Ho aperto il conto la settimana scorsa e la carta non è ancora arrivata, nessuno risponde. "
    assert triager.detector.detect(opening * 40).lang == "it"
