"""The previous triage engine, run on the same posts as the current one.

The engine as it was at BASELINE (main before issue 20) is unpacked from git into a
temporary folder and run in a child process, so both engines score the same posts in
one bench run without sharing a module. The child reads a JSON request on stdin and
writes a JSON answer on stdout:

    {"task": "triage", "texts": [...]}                        -> [{score, priority, needs_reply, lang, ...}]
    {"task": "complaints", "train": [rows], "texts": [...]}   -> same, with a model fitted on `train`
    {"task": "sentiment", "lang": "it", "texts": [...]}       -> ["positive", ...]
    {"task": "runs", "runs": [request, ...]}                  -> [answer, ...], one child for all
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
BASELINE = "db91c66"  # main before issue 20: the engine the figures are compared with

_CHILD = r"""
import json, sys
from datetime import UTC, datetime
from rules.triage import TriageContext, Triager
from rules.needs_reply import NeedsReplyModel
from watcher.core.post import Author, Post, PostKind
from watcher.core.settings import BrandConfig

LANGS = ("en", "it", "es", "fr", "de", "pt", "ro")
triager = Triager(languages=LANGS)  # loaded once, whatever the number of runs
shipped = triager.model


def answer(req):
    task = req["task"]
    if task == "sentiment":
        from tools.sentiment_fit import predicted_label
        return [predicted_label(triager.sentiment, t, req["lang"]) for t in req["texts"]]
    triager.model = shipped
    if task == "complaints":
        from rules.fitting import fit_needs_reply
        model, _ = fit_needs_reply(triager, req["train"], log=lambda *_: None)
        triager.model = NeedsReplyModel(model)
    posts = [
        Post(platform="bench", native_id=str(i), kind=PostKind.MENTION, text=t,
             created_at=datetime(2024, 1, 1, tzinfo=UTC), author=Author(id=f"u{i}", handle=f"user{i}"))
        for i, t in enumerate(req["texts"])
    ]
    ctx = TriageContext(brand=BrandConfig(name="Brand", languages=LANGS))
    return [
        {"score": t.score, "priority": t.priority, "needs_reply": t.needs_reply, "lang": t.lang,
         "sentiment_label": t.sentiment_label, "model_probability": t.model_probability}
        for t in triager.triage_many(posts, [ctx] * len(posts))
    ]


req = json.load(sys.stdin)
json.dump([answer(r) for r in req["runs"]] if req["task"] == "runs" else answer(req), sys.stdout)
"""


def _tree(ref: str) -> Path:
    """The repository at `ref`, unpacked once per machine into the temp folder."""
    sha = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--short=12", ref], check=True, capture_output=True, text=True
    ).stdout.strip()
    folder = Path(tempfile.gettempdir()) / f"watcher-engine-{sha}"
    if not (folder / "rules").is_dir():
        folder.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(["git", "-C", str(REPO), "archive", sha], check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    return folder


def run(request: dict[str, Any], ref: str = BASELINE) -> Any:
    """The previous engine's answer to one request (see the module docstring)."""
    folder = _tree(ref)
    done = subprocess.run(
        [sys.executable, "-c", _CHILD],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        cwd=folder,
        env={"PYTHONPATH": str(folder), "PATH": "/usr/bin:/bin"},
    )
    if done.returncode != 0:
        raise RuntimeError(f"previous engine ({ref}) failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout)
