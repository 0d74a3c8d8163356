"""detect_many answers exactly as detect (py3langid text by text) does, bit for bit, on a varied batch."""

from __future__ import annotations

import itertools
import random
import re
from types import SimpleNamespace

import pytest

from rules.language import _NOISE, DETECT_CHARS, Detected, LanguageDetector, _BatchScorer

BRAND_LANGS = ("en", "it", "es", "de", "fr", "pt", "ro")

SENTENCES = [
    "My order has not arrived and nobody answers my emails, what is going on?",
    "Thanks a lot, the new app is great and support fixed it in minutes",
    "Il mio ordine non è ancora arrivato e nessuno risponde alle email",
    "Grazie mille, servizio fantastico, lo consiglio a tutti",
    "Mi pedido no ha llegado y nadie responde, qué vergüenza",
    "Me encanta la nueva versión, muchas gracias por la ayuda",
    "Meine Bestellung ist nicht angekommen und niemand antwortet",
    "Vielen Dank, ich bin begeistert von eurem Kundenservice",
    "Ma commande n'est pas arrivée et personne ne répond à mes messages",
    "Merci beaucoup, c'est parfait, j'adore cette application",
    "Meu pedido não chegou e ninguém responde, que vergonha",
    "Obrigado pela ajuda, o atendimento foi excelente",
    "Comanda mea nu a ajuns și nimeni nu răspunde la telefon",
    "Mulțumesc frumos, aplicația funcționează foarte bine",
    "Mijn bestelling is nog steeds niet aangekomen, wat is er aan de hand",
    "Moje zamówienie jeszcze nie dotarło i nikt nie odpowiada",
    "Siparişim hala gelmedi ve kimse cevap vermiyor, çok kötü",
    "Моя посылка до сих пор не пришла, никто не отвечает",
    "Η παραγγελία μου δεν έχει φτάσει ακόμα",
    "注文した商品がまだ届きません。対応してください。",
    "我的订单还没有到，没有人回复",
    "طلبي لم يصل بعد ولا أحد يرد",
    "Min beställning har inte kommit fram och ingen svarar",
    "A rendelésem még mindig nem érkezett meg",
    "ok",
    "ciao!",
    "gracias",
    "danke schön",
    "lol wtf",
    "ab",
]

ODD = [
    "",
    " ",
    "😡😡😡",
    "👍",
    "🙂 🙃 😂😂",
    "https://example.com/a/b?c=1",
    "www.example.com https://x.co/abc",
    "@lumo_help #fail 12345",
    "1234 5678",
    "!!!???...",
    "x",
    "e\u0301te\u0301 a\u0300 Paris, c\u0327a va tre\u0300s bien",  # decomposed accents: NFC matters
    "\ud800 broken surrogate in the middle \udfff of a sentence",
    "İSTANBUL'DA KARGO GELMEDİ",
    "STRASSE GESPERRT, ßPÄTER MEHR",
    "THE APP CRASHED AGAIN!!! FIX IT NOW",
    "Mi ordine è arrived but der Paket ist nicht hier, merci",
    "Order 注文 not arrived まだ 届かない please help",
    "hello\x00world\x00null bytes",
    "tab\tseparated\nnew lines\r\nand more",
    "ÿþ latin-1 looking ÿ characters þ",
]


def _variants(text: str) -> list[str]:
    long = " ".join([text] * (DETECT_CHARS // max(len(text), 1) + 3))
    return [
        text,
        text.upper(),
        f"@lumo_help {text} https://lumo.example/help #fail 2024",
        f"{text} 😡😡 👎",
        long,  # longer than DETECT_CHARS and the hint-trust limit
        text[: len(text) // 2],
    ]


CORPUS = [variant for text in SENTENCES + ODD for variant in _variants(text)]
HINTS = [None, "en", "it-IT", "pt-BR", "nl", "", "und", "EN", "ro", "es"]


@pytest.fixture(scope="module")
def detector() -> LanguageDetector:
    return LanguageDetector(BRAND_LANGS)


def _assert_same(batch: list[Detected], one_by_one: list[Detected], texts: list[str]) -> None:
    assert len(batch) == len(one_by_one) == len(texts)
    for got, want, text in zip(batch, one_by_one, texts, strict=True):
        assert (got.lang, got.why) == (want.lang, want.why), text
        assert got.confidence == want.confidence, text  # bit for bit


def test_corpus_covers_what_it_claims(detector: LanguageDetector) -> None:
    assert len(CORPUS) >= 300
    seen = {detector.detect(text).lang for text in CORPUS}
    assert set(BRAND_LANGS) | {"unknown"} <= seen
    why = {detector.detect(text).why.split(" ")[0] for text in CORPUS}
    assert {"no", "language"} <= why  # word-less texts and unsure ones are in the corpus too


@pytest.mark.parametrize("batch_size", [1, 7, 200, len(CORPUS)])
def test_detect_many_equals_detect(detector: LanguageDetector, batch_size: int) -> None:
    hints = list(itertools.islice(itertools.cycle(HINTS), len(CORPUS)))
    want = [detector.detect(text, hint=hint) for text, hint in zip(CORPUS, hints, strict=True)]
    got: list[Detected] = []
    for start in range(0, len(CORPUS), batch_size):
        got += detector.detect_many(CORPUS[start : start + batch_size], hints[start : start + batch_size])
    _assert_same(got, want, CORPUS)
    assert detector._batch is not None and detector._batch.rewalked == 0  # the warm-up always sufficed


def test_detect_many_without_hints_and_with_every_hint(detector: LanguageDetector) -> None:
    for hint in HINTS:
        hints = [hint] * len(CORPUS)
        want = [detector.detect(text, hint=hint) for text in CORPUS]
        _assert_same(detector.detect_many(CORPUS, hints), want, CORPUS)


def test_classify_many_equals_py3langid_on_raw_text(detector: LanguageDetector) -> None:
    """Below detect's own filters too: empty and feature-less texts (a uniform answer)."""
    scorer = detector._batch
    assert scorer is not None
    texts = [*CORPUS, "", "", "😡", " "]
    got = scorer.classify_many(texts)
    assert got == [detector._identifier.classify(text) for text in texts]
    assert scorer.classify_many([]) == []
    assert scorer.classify_many([""]) == [detector._identifier.classify("")]


def test_a_failed_warm_up_check_falls_back_to_the_exact_walk(detector: LanguageDetector) -> None:
    """Rows with no warm-up start in the wrong state: the check must catch it."""
    scorer = _BatchScorer.from_identifier(detector._identifier, warmup=0, chunk=8)
    assert scorer is not None
    texts = [text for text in CORPUS if text.strip()]
    got = scorer.classify_many(texts)
    assert scorer.rewalked == 1
    assert got == [detector._identifier.classify(text) for text in texts]


@pytest.mark.parametrize(("warmup", "chunk"), [(6, 6), (6, 7), (8, 64), (6, 1000)])
def test_row_sizes_do_not_change_the_answer(detector: LanguageDetector, warmup: int, chunk: int) -> None:
    scorer = _BatchScorer.from_identifier(detector._identifier, warmup=warmup, chunk=chunk)
    reference = detector._batch
    assert scorer is not None and reference is not None
    assert scorer.classify_many(CORPUS) == reference.classify_many(CORPUS)
    assert scorer.rewalked == 0


def test_unknown_py3langid_layout_falls_back_to_detect(
    detector: LanguageDetector, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert _BatchScorer.from_identifier(object()) is None
    texts = CORPUS[:60]
    want = [detector.detect(t) for t in texts]
    monkeypatch.setattr(detector, "_batch", None)  # what a py3langid with another model layout gets
    _assert_same(detector.detect_many(texts, [None] * len(texts)), want, texts)


def test_detect_many_needs_one_hint_per_text(detector: LanguageDetector) -> None:
    with pytest.raises(ValueError, match="2 texts but 1 hints"):
        detector.detect_many(["a b", "c d"], [None])
    assert detector.detect_many([], []) == []


def test_warm_up_must_fit_in_a_row(detector: LanguageDetector) -> None:
    with pytest.raises(ValueError, match="warmup"):
        _BatchScorer.from_identifier(detector._identifier, warmup=9, chunk=8)


def test_a_language_with_two_model_columns_is_folded_as_py3langid_does() -> None:
    """py3langid has two columns for Serbian (Cyrillic and Latin script) and adds them up."""
    detector = LanguageDetector(("sr", "hr", "en"))
    assert detector._identifier._alias_pairs  # the case under test
    texts = [
        "Моја поруџбина још није стигла и нико не одговара",
        "Moja porudžbina još nije stigla i niko ne odgovara",
        "Moja narudžba još nije stigla i nitko ne odgovara",
        *CORPUS[::5],
    ]
    hints = list(itertools.islice(itertools.cycle([None, "sr", "hr-HR"]), len(texts)))
    want = [detector.detect(text, hint=hint) for text, hint in zip(texts, hints, strict=True)]
    _assert_same(detector.detect_many(texts, hints), want, texts)
    assert {d.lang for d in want[:2]} == {"sr"}


def test_a_large_batch_goes_in_parts(detector: LanguageDetector, monkeypatch: pytest.MonkeyPatch) -> None:
    from rules import language

    monkeypatch.setattr(language, "MAX_BATCH_BYTES", 300)  # many parts, and texts longer than a part
    scorer = detector._batch
    assert scorer is not None
    texts = [text for text in CORPUS if text.strip()]
    assert max(len(text) for text in texts) > 300
    assert scorer.classify_many(texts) == [detector._identifier.classify(text) for text in texts]


def test_py3langid_settings_it_does_not_reproduce_are_left_to_py3langid(detector: LanguageDetector) -> None:
    """Raw scores (norm_probs=False) and an "und" threshold score differently: no batch scorer."""
    ident = detector._identifier
    names = ("tk_nextmove", "_rowbase", "tk_output", "nb_ptc", "nb_pc", "nb_classes", "_alias_pairs")
    model = {name: getattr(ident, name) for name in names}
    assert _BatchScorer.from_identifier(SimpleNamespace(**model, _norm_probs=True, min_confidence=None)) is not None
    assert _BatchScorer.from_identifier(SimpleNamespace(**model, _norm_probs=False, min_confidence=None)) is None
    assert _BatchScorer.from_identifier(SimpleNamespace(**model, _norm_probs=True, min_confidence=0.5)) is None


def test_noise_pattern_removes_what_the_plain_alternation_does() -> None:
    plain = re.compile(r"https?://\S+|www\.\S+|[@#]\w+|\d+")
    rng = random.Random(4)
    pieces = [
        "h",
        "http",
        "https://a.b/c",
        "www.",
        "www.x.y",
        "w",
        "@",
        "@bob",
        "#",
        "#tag",
        "12",
        "٣4",
        " ",
        "x",
        "é",
        "\n",
    ]
    texts = ["".join(rng.choice(pieces) for _ in range(rng.randint(0, 12))) for _ in range(3000)]
    texts += ["see https://x.co/a @Lumo #fail 2024 www.lumo.it ok", "hhttps://x", "wwww.x", "@@x", "##", "a1b22"]
    for text in texts:
        assert _NOISE.sub(" ", text) == plain.sub(" ", text), repr(text)
