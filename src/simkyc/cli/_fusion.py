"""The default embedder's recipe, under `simkyc eval`:

- `simkyc eval fuse`: choose, on identity-disjoint folds of the dev identities, the share of
  the East Asian centroid each member's centring map removes and the members' fusion weights;
  train the maps on all dev people and write `simkyc/data/adaptation-MEMBER.json` and
  `simkyc/data/fusion.json` (then run `simkyc eval calibrate`).

Also the helpers the accuracy and calibration commands share: the members' dev templates and
the `SystemSpec` of the shipped recipe.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import numpy as np
import typer

from simkyc import bootstrap
from simkyc.cli._common import console, progress_bar, refusals_exit_2

if TYPE_CHECKING:
    from simkyc.core.faces.pipeline import FacePipeline
    from simkyc.core.faces.types import Embedder
    from simkyc.eval.devset import Condition, DevEmbeddings
    from simkyc.eval.embedders import SystemSpec

__all__ = [
    "alignment_study",
    "default_members",
    "default_spec",
    "embed_sets",
    "embedder_study",
    "print_embedder_rows",
    "register",
    "shipped_spec",
]


def embed_sets(
    faces: Path,
    pipeline: FacePipeline,
    embedders: list[Embedder],
    *,
    cache_dir: Path,
    views: str = "plain",
    condition: Condition = "original",
) -> dict[str, DevEmbeddings]:
    """Dev templates of every embedder (one detection and alignment per image), with a progress bar."""
    from simkyc.eval.devset import compute_dev_embedding_sets

    if not (faces / "identities.csv").is_file():
        raise typer.BadParameter(f"{faces}/identities.csv not found (use --faces)")
    label = "+".join(e.name for e in embedders)
    with progress_bar(f"embedding dev faces: {label} ({views}, {condition})") as progress:
        return compute_dev_embedding_sets(
            faces,
            pipeline,
            embedders,
            cache_dir=cache_dir,
            views=views,
            condition=condition,
            progress=progress,
        )


def default_members(
    faces: Path, cache_dir: Path, *, condition: Condition = "original", views: str = "plain"
) -> dict[str, DevEmbeddings]:
    """The raw members of the default embedder on the dev identities (ArcFace chips)."""
    pipeline, members = bootstrap.members_face_pipeline()
    return embed_sets(faces, pipeline, members, cache_dir=cache_dir, views=views, condition=condition)


def default_spec(name: str = "fr-feature+mobilefacenet") -> SystemSpec:
    """The default recipe with its choices open: centring share and weights chosen in the training folds."""
    from simkyc.eval.adapt_train import CENTRE_GRID, NapParams
    from simkyc.eval.embedders import MemberSpec, SystemSpec

    members = tuple(MemberSpec(m, NapParams(0, 1.0, 1.0), flip=False) for m in bootstrap.DEFAULT_MEMBERS)
    return SystemSpec(name, members, centres=CENTRE_GRID)


def shipped_spec(fusion: dict[str, Any]) -> SystemSpec:
    """The shipped recipe (`fusion.json`) with its choices fixed: maps and z-scales refitted per fold."""
    from simkyc.eval.adapt_train import NapParams
    from simkyc.eval.embedders import MemberSpec, SystemSpec

    members = []
    centre: float | None = None
    for m in fusion["members"]:
        ad = m.get("adaptation")
        nap = None
        if ad:
            nap = NapParams(int(ad["k"]), float(ad["keep"]), float(ad["centre"]))
            centre = float(ad["centre"]) if nap.k == 0 else centre
        members.append(MemberSpec(m["embedder"], nap, flip=bool(m.get("flip", False))))
    return SystemSpec(
        str(fusion["name"]),
        tuple(members),
        relative=tuple(float(m["relative_weight"]) for m in fusion["members"]),
        centres=(centre,) if centre is not None else (),
    )


def _people(
    devs: dict[str, DevEmbeddings], *, k_folds: int = 5
) -> tuple[dict[str, DevEmbeddings], Any, Any, Any]:
    """The images every member embedded, and their people, groups and identity-disjoint folds."""
    from simkyc.eval.groups import fold_array

    ok = np.all([d.ok for d in devs.values()], axis=0)
    sub = {k: d.subset(ok) for k, d in devs.items()}
    first = next(iter(sub.values()))
    people = np.array([im.person for im in first.images])
    groups = np.array([im.group.value for im in first.images])
    return sub, people, groups, fold_array(first.images, k=k_folds)


def _legacy_member() -> Any:
    """The previous default as a one-member system: its NAP hyper-parameters refitted per fold, flip TTA."""
    from simkyc.eval.adapt_train import NapParams
    from simkyc.eval.embedders import MemberSpec, SystemSpec

    ad = bootstrap.face_adaptation(bootstrap.base_embedder())
    nap = (
        NapParams(int(ad.meta["k"]), float(ad.meta["keep"]), float(ad.meta.get("centre", 0.0)))
        if ad
        else None
    )
    name = bootstrap.legacy_face_pipeline().embedder_name
    return SystemSpec(name, (MemberSpec("dlib-resnet-v1", nap, flip=True),), weights=(1.0,))


def _trials(images: list[Any], people: Any, groups: Any, folds: Any, seed: int) -> list[Any]:
    from simkyc.core.liveness.session import LivenessConfig
    from simkyc.eval.fusion import draw_trials

    return draw_trials(
        people.tolist(),
        groups.tolist(),
        max_k=LivenessConfig().best_frames,
        per_person=30,
        seed=seed,
        folds=folds,
        id_like=[im.source == "nuaa_spoof_print" for im in images],
    )


def embedder_study(
    faces: Path, *, k_folds: int = 5, seed: int = 0, member_flip: bool = False
) -> dict[str, Any]:
    """Every embedder and fusion in three protocols on the same images and folds (issue 13).

    Systems: the previous default (dlib, NAP, flip), each new member raw and with a centring
    map (share chosen in the training folds), the two fused (shares and weights chosen in the
    training folds), the two fused with dlib added, the shipped recipe (`fusion.json`, its
    choices fixed, maps refitted per fold) and, with `member_flip`, the fusion with flip TTA.
    """
    from simkyc.cli._accuracy import _cache_dir
    from simkyc.eval.adapt_train import CENTRE_GRID, NapParams
    from simkyc.eval.embedders import MemberSpec, SystemSpec, run_study
    from simkyc.eval.groups import fold_array

    cache = _cache_dir()
    views = "flip" if member_flip else "plain"
    devs = default_members(faces, cache, views=views)
    chips = default_members(faces, cache, views=views, condition="chip")
    legacy_pipe = bootstrap.base_face_pipeline()
    base = [legacy_pipe.embedder]
    devs |= embed_sets(faces, legacy_pipe, base, cache_dir=cache, views="flip")
    chips |= embed_sets(faces, legacy_pipe, base, cache_dir=cache, views="flip", condition="chip")
    ok = np.all([d.ok for d in (*devs.values(), *chips.values())], axis=0)
    devs = {k: d.subset(ok) for k, d in devs.items()}
    chips = {k: d.subset(ok) for k, d in chips.items()}
    first = next(iter(devs.values()))
    people = np.array([im.person for im in first.images])
    groups = np.array([im.group.value for im in first.images])
    folds = fold_array(first.images, k=k_folds, seed=seed)
    trials = _trials(first.images, people, groups, folds, seed)
    centre = NapParams(0, 1.0, 1.0)
    legacy = _legacy_member()
    specs = [legacy]
    for m in bootstrap.DEFAULT_MEMBERS:
        specs.append(SystemSpec(m, (MemberSpec(m, None, flip=False),), weights=(1.0,)))
        specs.append(SystemSpec(f"{m}+centre", (MemberSpec(m, centre, flip=False),), centres=CENTRE_GRID))
    fused = default_spec()
    specs.append(SystemSpec(f"{fused.name} (chosen in folds)", fused.members, centres=CENTRE_GRID))
    specs.append(
        SystemSpec(f"{fused.name}+dlib (chosen in folds)", (*fused.members, *legacy.members), centres=(1.0,))
    )
    try:
        shipped = shipped_spec(bootstrap.fusion_spec())
        specs.append(
            SystemSpec(
                f"{shipped.name} (shipped recipe)",
                shipped.members,
                relative=shipped.relative,
                centres=shipped.centres,
            )
        )
    except Exception:  # nothing shipped yet (before `simkyc eval fuse`): no row
        pass
    if member_flip:
        flipped = tuple(MemberSpec(m.embedder, m.nap, flip=True) for m in fused.members)
        specs.append(SystemSpec(f"{fused.name}+flip (chosen in folds)", flipped, centres=CENTRE_GRID))
    out = run_study(specs, devs, chips, people=people, groups=groups, folds=folds, trials=trials)
    out["images"] = int(ok.sum())
    out["images_excluded"] = int((~ok).sum())
    out["trials"] = len(trials)
    return out


def alignment_study(faces: Path, *, k_folds: int = 5, seed: int = 0) -> dict[str, Any]:
    """The members raw and fused (chosen in folds) on chips cut from each landmark source, single image."""
    from simkyc.cli._accuracy import _cache_dir
    from simkyc.eval.embedders import SystemSpec, run_study
    from simkyc.eval.groups import fold_array
    from simkyc.models.arcface import ArcFaceAligner

    pipe, members = bootstrap.members_face_pipeline()
    rows: list[dict[str, Any]] = []
    fused = default_spec()
    for source, warp, js_box in (
        ("fr-landmark", "similarity", False),
        ("fr-landmark", "similarity", True),
        ("facemesh", "similarity", False),
        ("blazeface", "similarity", False),
        ("fr-landmark", "affine3", False),
    ):
        aligner = ArcFaceAligner(source, warp, js_box=js_box)  # type: ignore[arg-type]
        from simkyc.core.faces.pipeline import FacePipeline

        p = FacePipeline(pipe.detector, aligner, members[0], pipe.fallback_detector)
        devs = embed_sets(faces, p, members, cache_dir=_cache_dir())
        ok = np.all([d.ok for d in devs.values()], axis=0)
        devs = {k: d.subset(ok) for k, d in devs.items()}
        first = next(iter(devs.values()))
        people = np.array([im.person for im in first.images])
        groups = np.array([im.group.value for im in first.images])
        folds = fold_array(first.images, k=k_folds, seed=seed)
        specs = [SystemSpec(f"{m.embedder} [{aligner.name}]", (m,), weights=(1.0,)) for m in fused.members]
        specs.append(SystemSpec(f"{fused.name} [{aligner.name}]", fused.members, centres=fused.centres))
        rows += run_study(specs, devs, None, people=people, groups=groups, folds=folds, trials=[])["rows"]
    return {"rows": rows}


def print_embedder_rows(study: dict[str, Any]) -> None:
    """One line per system and protocol: FNMR (and FMR) of each group at the strictest group's threshold."""
    from rich.table import Table

    table = Table(title="Embedders: FNMR / FMR per group at one threshold (identity-disjoint folds)")
    for col in ("system", "protocol", "FMR", "east_asian", "other", "genuine / impostor (EA)"):
        table.add_column(col)
    rows = study.get("rows", []) + study.get("alignment", {}).get("rows", [])
    keys = sorted(
        {(r["variant"], r["protocol"], r["target_fmr"]) for r in rows}, key=lambda k: (k[0], k[1], -k[2])
    )
    seen: list[tuple[str, str, float]] = []
    for k in keys:
        if k not in seen:
            seen.append(k)
    order = {r["variant"]: i for i, r in enumerate(rows)}
    for variant, protocol, fmr in sorted(seen, key=lambda k: (order[k[0]], k[1], -k[2])):
        by = {
            r["group"]: r
            for r in rows
            if (r["variant"], r["protocol"], r["target_fmr"]) == (variant, protocol, fmr)
        }
        cells = [
            f"{by[g]['fnmr']:.3f} / {by[g]['fmr']:.1e}" if g in by else "-" for g in ("east_asian", "other")
        ]
        ea = by.get("east_asian")
        counts = f"{ea['n_genuine']} / {ea['n_impostor']}" if ea else "-"
        table.add_row(variant, protocol, f"{fmr:g}", *cells, counts)
    console.print(table)


def fuse(
    faces: Annotated[
        Path | None,
        typer.Option("--faces", help="Folder with identities.csv (default ../shared/data/faces)."),
    ] = None,
    output: Annotated[
        Path | None, typer.Option(help="Folder to write the files to (default: the shipped simkyc/data).")
    ] = None,
) -> None:
    """Choose and train the default embedder's centring maps and fusion weights (a few minutes, `nice`)."""
    from simkyc.cli._accuracy import _cache_dir, _data_statement, _default_faces
    from simkyc.eval.embedders import select_system, train_members, znorm_scale

    with refusals_exit_2():
        faces = faces or _default_faces()
        devs, people, groups, folds = _people(default_members(faces, _cache_dir()))
        spec = default_spec()
        console.print(f"choosing the centring share and weights of {spec.name} on 5 identity-disjoint folds")
        centre, relative, table = select_system(spec, devs, people=people, groups=groups, folds=folds)
        statement = _data_statement(next(iter(devs.values())))
        versions = {k: d.embedder_version for k, d in devs.items()}
        maps = train_members(
            spec,
            devs,
            people=people,
            groups=groups,
            centre=centre,
            versions=versions,
            meta={"data": statement, "command": "simkyc eval fuse"},
        )
        target = output or Path(bootstrap.__file__).parent / "data"
        target.mkdir(parents=True, exist_ok=True)
        members: list[dict[str, Any]] = []
        for m, ad, rel in zip(spec.members, maps, relative, strict=True):
            from simkyc.core.faces.adapt import adapt

            x = devs[m.embedder].views["plain"]
            if ad is not None:
                x = adapt(ad, x)
                (target / f"adaptation-{m.embedder}.json").write_text(
                    json.dumps(ad.to_dict(), separators=(",", ":")) + "\n", encoding="utf-8"
                )
            z = znorm_scale(x, people, groups, folds)
            members.append(
                {
                    "embedder": m.embedder,
                    "embedder_version": versions[m.embedder],
                    "adaptation": (
                        {
                            "name": ad.name,
                            "version": ad.version,
                            **{k: ad.meta[k] for k in ("k", "keep", "centre")},
                        }
                        if ad
                        else None
                    ),
                    "flip": m.flip,
                    "relative_weight": rel,
                    "z_scale": z,
                    "weight": rel * z,
                }
            )
        fusion = {
            "format": "simkyc-fusion/1",
            "name": spec.name,
            "dim": sum(int(devs[m.embedder].views["plain"].shape[1]) for m in spec.members),
            "aligner": dict(bootstrap.DEFAULT_ALIGNER),
            "members": members,
            "selection": {
                "criterion": "worst group's FNMR at the strictest group's threshold, mean of FMR 1e-3 "
                "and 1e-4, templates out of fold (maps and z-scales fitted on the other 4 of 5 "
                "identity-disjoint folds)",
                "chosen": {"centre": centre, "relative_weights": list(relative)},
                "candidates": table,
            },
            "score": "weighted mean of the members' cosine similarities (EnsembleEmbedder: one "
            "concatenated template)",
            "data": statement,
            "command": "simkyc eval fuse",
            "created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        (target / bootstrap.FUSION_FILE).write_text(json.dumps(fusion, indent=2) + "\n", encoding="utf-8")
    best = table[f"centre={centre} relative={list(relative)}"]
    console.print(
        f"chosen: centre {centre}, relative weights {list(relative)} "
        f"(out-of-fold worst-group FNMR {best:.4f})"
    )
    console.print(
        f"wrote {target / bootstrap.FUSION_FILE}; the shipped thresholds are now stale: "
        "run `simkyc eval calibrate`"
    )


def register(app: typer.Typer) -> None:
    """Add `fuse` to the `eval` group."""
    try:
        from simkyc.cli._faces import eval_app as group
    except ImportError:
        group = app
    group.command("fuse")(fuse)
