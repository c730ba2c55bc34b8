"""The duplicate re-check inside the decision transaction: the same face under two IDs at once.

A duplicate search runs outside the transaction (it is the slow part), on an index that has applied
the template feed up to some position `since`. Two registrations of one face under two IDs, decided
at the same moment on two workers, would each search before the other committed and both be
APPROVED. So the decision transaction, before it decides, takes the feed lock (held until its
commit: no template can commit meanwhile, `simkyc.store.feed.lock_feed`), reads the templates stored
since `since` (usually none, a few under load) and compares the live template with each of them. A
hit under another identity counts as a duplicate exactly like one the search found: the later of the
two registrations goes to REVIEW with DUPLICATE_FACE_OTHER_ID. Exact, not probabilistic (no face
buckets), and it costs one indexed read per decision.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import numpy.typing as npt

from simkyc.service.registration.model import CaptureAssessment
from simkyc.store import UnitOfWork, feed

__all__ = ["late_duplicates", "with_late_duplicates"]


def late_duplicates(
    uow: UnitOfWork,
    template: npt.NDArray[np.float32],
    *,
    since: int,
    own_identity: str,
    threshold: float,
    model_name: str | None = None,
) -> list[tuple[str, float]]:
    """Other identities whose templates, stored after feed position `since`, score >= `threshold`.

    Best score per identity, best first. Holds the feed lock until the caller's transaction ends.
    """
    feed.lock_feed(uow.conn)
    latest: dict[str, feed.TemplateChange] = {}
    after = since
    while True:
        batch = feed.changes_after(uow.conn, after, limit=5000)
        if not batch:
            break
        for change in batch:
            latest[change.template_id] = change
        after = batch[-1].seq
    wanted = [k for k, c in latest.items() if c.op == "put" and c.identity_key != own_identity]
    if not wanted:
        return []
    probe = np.asarray(template, dtype=np.float32).reshape(-1)
    probe = probe / max(float(np.linalg.norm(probe)), 1e-12)
    best: dict[str, float] = {}
    for _, who, stored in feed.fetch_templates(uow.db, wanted, conn=uow.conn, model_name=model_name):
        if who == own_identity or stored.shape != probe.shape:
            continue
        score = float(np.dot(stored / max(float(np.linalg.norm(stored)), 1e-12), probe))
        if score >= threshold and score > best.get(who, -1.0):
            best[who] = score
    return sorted(best.items(), key=lambda kv: -kv[1])


def with_late_duplicates(assessment: CaptureAssessment, late: list[tuple[str, float]]) -> CaptureAssessment:
    """The assessment as if the search had found `late` too (each identity once, best score)."""
    merged = dict(assessment.candidates)
    for who, score in late:
        merged[who] = max(score, merged.get(who, -1.0))
    candidates = sorted(merged.items(), key=lambda kv: -kv[1])
    evidence = dataclasses.replace(assessment.evidence, duplicate_other_ids=len(candidates))
    return dataclasses.replace(assessment, candidates=candidates, evidence=evidence)
