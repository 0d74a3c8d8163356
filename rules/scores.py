"""How rules move a post's score: evidence on the learned model's logit, bounded, and
the priority bands rules may place a post in."""

from __future__ import annotations

import numpy as np

MODEL_HEADROOM = 5  # the model's score range ends this far below urgent_score
# Rules add evidence to the learned model, they do not outvote it: a boost of
# EVIDENCE_SCALE points moves the model's logit by one, and a post's boosts together move
# it by at most EVIDENCE_CAP either way (both chosen on a dev split of complaints_dev:
# the newest posts train nothing and are never tuned on; docs/triage.md).
EVIDENCE_SCALE = 20.0
EVIDENCE_CAP = 2.0


class Scores:
    """A batch's running scores while rules fire (what a `score` condition reads).

    A post's score is top x sigmoid(model logit + its boosts / EVIDENCE_SCALE), top being
    urgent_score - MODEL_HEADROOM, so the model's order holds unless the rules' evidence
    outweighs it. Boosts of rules that may lift a post into urgent (allow_urgent: who wrote
    it, how far it travels) are added in points on top. A `priority` rule places the post
    in that band by the same probability (no ties at the band's floor); `min_priority`
    raises it to the band's floor."""

    def __init__(self, probabilities: np.ndarray, top: np.ndarray) -> None:
        self.probability = np.asarray(probabilities, dtype=np.float64)
        p = np.clip(self.probability, 1e-9, 1 - 1e-9)
        self.logit = np.log(p) - np.log1p(-p)
        self.top = np.asarray(top, dtype=np.float64)
        n = len(self.probability)
        self.evidence = np.zeros(n)  # boost points read as evidence
        self.context = np.zeros(n)  # boost points of allow_urgent rules
        self.low = np.zeros(n)
        self.high = np.full(n, 100.0)
        self.placed = np.zeros(n, dtype=bool)  # in a band set by a `priority` rule
        self.points = self.probability * self.top

    def boost(self, hit: np.ndarray, amount: int, *, context: bool) -> None:
        (self.context if context else self.evidence)[hit] += amount
        self._update(hit)

    def place(self, hit: np.ndarray, floor: int, ceiling: int) -> None:
        self.low[hit], self.high[hit], self.placed[hit] = floor, ceiling, True
        self._update(hit)

    def at_least(self, hit: np.ndarray, floor: int) -> None:
        self.low[hit] = np.maximum(self.low[hit], floor)
        self.high[hit] = np.maximum(self.high[hit], self.low[hit])
        self._update(hit)

    def _update(self, hit: np.ndarray) -> None:
        evidence = np.clip(self.evidence[hit] / EVIDENCE_SCALE, -EVIDENCE_CAP, EVIDENCE_CAP)
        # no evidence: the model's own probability, not its round trip through the logit
        s = np.where(evidence == 0, self.probability[hit], 1.0 / (1.0 + np.exp(-(self.logit[hit] + evidence))))
        low, high = self.low[hit], self.high[hit]
        value = np.where(self.placed[hit], low + (high - low) * s, self.top[hit] * s) + self.context[hit]
        self.points[hit] = np.clip(value, low, high)
