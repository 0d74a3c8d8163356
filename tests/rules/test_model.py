"""Hashed features, the versioned model file, and training on a small fixture."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from rules.fitting import fit_needs_reply, ranking_metrics
from rules.model import (
    FORMAT_VERSION,
    N_FEATURES,
    ModelError,
    fit_linear,
    hash_batch,
    hash_text,
    load_models,
    normalize,
    save_models,
)
from rules.needs_reply import NeedsReplyModel
from rules.signals import NO_TEXT
from rules.triage import Triager
from tools.sentiment_fit import held_back, time_split

FIXTURE = Path(__file__).parent / "data" / "needs_reply_fixture.jsonl"


def fixture_rows() -> list[dict[str, object]]:
    return [json.loads(line) for line in FIXTURE.read_text(encoding="utf-8").splitlines()]


def test_normalize_strips_case_accents_links_users() -> None:
    assert normalize("Ça COÛTE https://x.co/a @Lumo") == "ca coute  http   @user "


def test_hashing_is_deterministic_across_processes() -> None:
    text = "Il pacco è arrivato rotto 😡 #fail"
    here = hash_text(text)
    code = f"from rules.model import hash_text; x = hash_text({text!r}); print(int(x.idx.sum()), len(x.idx))"
    env = {**os.environ, "PYTHONHASHSEED": "123", "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True).stdout
    assert out.split() == [str(int(here.idx.sum())), str(len(here.idx))]
    assert np.isclose(float(here.val @ np.ones(len(here.val))), len(here.val) ** 0.5, rtol=1e-5)


def test_empty_text_hashes_to_nothing() -> None:
    x = hash_text("")
    assert len(x.idx) == len(x.words) == 0 or len(x.idx) > 0


def test_model_file_round_trip_and_header(tmp_path: Path) -> None:
    rows = fixture_rows()
    texts = [hash_text(str(r["text"])) for r in rows]
    model = fit_linear(texts, [str(r["needs_reply"]) for r in rows], dense=[[1.0]] * len(rows), dense_names=("one",))
    path = tmp_path / "m.npz"
    save_models(path, {"default": model}, kind="needs_reply", meta={"sources": "fixture"})
    loaded, header = load_models(path, kind="needs_reply")
    again = loaded["default"]
    assert header["format_version"] == FORMAT_VERSION and header["sources"] == "fixture"
    assert again.classes == ("0", "1") and again.dense == ("one",)
    for x in texts[:5]:
        assert np.allclose(model.logits(x, [1.0]), again.logits(x, [1.0]), atol=1e-2)


def test_model_file_errors_say_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="not found; run `watcher train`"):
        load_models(tmp_path / "none.npz", kind="needs_reply")
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(ModelError, match="retrain it"):
        load_models(bad, kind="needs_reply")
    newer = tmp_path / "newer.npz"
    header = json.dumps({"format_version": FORMAT_VERSION + 1, "kind": "needs_reply", "models": {}}).encode()
    np.savez(newer, header=np.frombuffer(header, dtype=np.uint8))
    with pytest.raises(ModelError, match=f"model format {FORMAT_VERSION + 1} is not supported"):
        load_models(newer, kind="needs_reply")
    with pytest.raises(ModelError, match="expected 'sentiment'"):
        load_models(Path(__file__).resolve().parents[2] / "rules" / "data" / "needs_reply.npz", kind="sentiment")


def test_training_on_a_small_fixture_ranks_held_back(triager: Triager) -> None:
    rows = [{**r, "id": str(i)} for i, r in enumerate(fixture_rows())]
    train = [r for r in rows if not held_back(str(r["id"]), percent=30)]
    test = [r for r in rows if held_back(str(r["id"]), percent=30)]
    logs: list[str] = []
    model, metrics = fit_needs_reply(
        triager, train, held_back=test, label_key="needs_reply", stack_default=True, log=logs.append
    )
    assert metrics["n"] == len(test) and metrics["ap"] >= 0.8
    assert logs and "AP" in logs[0]
    stacked = NeedsReplyModel(triager.model.default, model)
    assert 0.0 <= stacked.probability(triager.signals("where is my parcel?")) <= 1.0


def test_time_split_and_metrics() -> None:
    rows = [{"id": str(i)} for i in (5, 1, 3, 2, 4)]
    old, new = time_split(rows, newest=0.4)
    assert [r["id"] for r in old] == ["1", "2", "3"] and [r["id"] for r in new] == ["4", "5"]
    m = ranking_metrics([1, 0, 1, 0], [0.9, 0.1, 0.8, 0.2], k=2)
    assert m["ap"] == 1.0 and m["p@2"] == 1.0


def test_signals_only_model_trains_without_text(triager: Triager) -> None:
    rows = [{**r, "id": str(i)} for i, r in enumerate(fixture_rows())]
    model, _ = fit_needs_reply(triager, rows, label_key="needs_reply", use_text=False, log=lambda *_: None)
    assert not model.weights[:, : model.weights.shape[1] - len(model.dense)].any()  # no n-gram weight at all
    both = NeedsReplyModel(triager.model.default, signals_only=model)
    italian = triager.signals("Servizio pessimo, il pacco non è ancora arrivato", lang_hint="it")
    english = triager.signals("Terrible service, my parcel still has not arrived", lang_hint="en")
    assert not both.uses_text("it") and both.uses_text("en")
    assert both.base_logit(italian) == pytest.approx(float(model.logits(NO_TEXT, italian.reply_dense())[0]))
    assert both.base_logit(english) == NeedsReplyModel(triager.model.default).base_logit(english)


def test_a_post_hashes_the_same_alone_or_in_any_batch() -> None:
    texts = ["", " ", "a", "ok!", "Great service, thanks! 🙏", "Ça ne marche pas… @lumo http://x.y/z", "x" * 700]
    batch = hash_batch(texts)
    for i, text in enumerate(texts):
        alone = hash_text(text)
        row = batch.row(i)
        assert row.words == alone.words and row.norm == alone.norm
        assert np.array_equal(row.idx, alone.idx) and np.array_equal(row.val, alone.val)
    # "ok!": words "ok" and "!", one bigram, and 2-5 grams from each of the 4 window starts of " ok! " + padding
    assert len(batch.row(3).idx) == 2 + 1 + 4 * (len(" ok! \0\0\0") - 4)
    assert batch.matrix(2, 4).shape == (2, N_FEATURES) and batch.matrix(2, 4).nnz == len(batch.row(2).idx) + len(
        batch.row(3).idx
    )
