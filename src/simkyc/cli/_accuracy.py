"""Accuracy-by-population commands, under `simkyc eval`:

- `simkyc eval embed-dev`: embed every dev identity image once (cached in ~/.simkyc/cache/eval);
- `simkyc eval accuracy`: per-group error rates, fusion, TTA, adaptation, abstention (report + plots);
- `simkyc eval adapt`: train the template adaptation on all dev identities and write it as JSON;
- `simkyc eval calibrate`: the shipped thresholds of the default embedder, per group, out of fold;
- `simkyc eval calibrate-model MODEL.onnx`: calibrate a site's own ONNX embedder, per group, in one command.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import typer
from rich.table import Table

from simkyc import bootstrap
from simkyc.cli._common import console, progress_bar, refusals_exit_2

__all__ = ["register"]


def _default_faces() -> Path:
    env = os.environ.get("SIMKYC_SHARED_DATA")
    return (Path(env) if env else Path("..") / "shared" / "data") / "faces"


FacesOpt = Annotated[
    Path | None,
    typer.Option(
        "--faces",
        help="Folder with identities.csv (default $SIMKYC_SHARED_DATA/faces or ../shared/data/faces).",
    ),
]


def _cache_dir() -> Path:
    from simkyc.config import get_settings

    return get_settings().model_cache / "eval"


def _embed(
    faces: Path | None, pipeline: Any, *, views: str = "plain", subset: str = "all", limit: int = 0
) -> Any:
    """Dev embeddings with a progress bar; `subset` "repeated" skips people with a single image."""
    from simkyc.eval.devset import compute_dev_embeddings
    from simkyc.eval.groups import load_identities

    faces = faces or _default_faces()
    if not (faces / "identities.csv").is_file():
        raise typer.BadParameter(f"{faces}/identities.csv not found (use --faces)")
    images = load_identities(faces)
    counts: dict[str, int] = {}
    for im in images:
        counts[im.person] = counts.get(im.person, 0) + 1
    chosen: set[str] | None = None
    if limit > 0:  # a few people per group, with several images each: enough for a smoke run
        per_group: dict[str, list[str]] = {}
        for im in sorted(images, key=lambda im: (-counts[im.person], im.person, im.path)):
            per_group.setdefault(im.group.value, []).append(im.path)
        chosen = {p for paths in per_group.values() for p in paths[: limit // max(len(per_group), 1)]}

    def only(im: Any) -> bool:
        if chosen is not None and im.path not in chosen:
            return False
        return subset == "all" or counts[im.person] > 1

    with progress_bar(f"embedding dev faces ({views})") as progress:
        return compute_dev_embeddings(
            faces, pipeline, cache_dir=_cache_dir(), views=views, only=only, progress=progress
        )


def embed_dev(
    faces: FacesOpt = None,
    views: Annotated[
        str, typer.Option(help="plain | flip | shift (test-time augmentation views).")
    ] = "plain",
    subset: Annotated[
        str, typer.Option(help="all | repeated (only people with two or more images: the costly views).")
    ] = "all",
) -> None:
    """Embed every identity-labelled dev image for `simkyc eval accuracy` (run with `nice`; resumable).

    The default embedder's members on ArcFace chips, as they are and degraded to chip portraits,
    and the previous embedder (dlib) on its own chips, in the `views` asked for and chip-degraded.
    """
    from simkyc.cli._fusion import default_members, embed_sets

    with refusals_exit_2():
        root = faces or _default_faces()
        for condition in ("original", "chip"):
            for name, d in default_members(root, _cache_dir(), condition=condition).items():  # type: ignore[arg-type]
                console.print(f"{name} ({condition}): {int(d.ok.sum())} of {len(d.ok)} images have a face")
        legacy = bootstrap.base_face_pipeline()
        chip = embed_sets(
            root, legacy, [legacy.embedder], cache_dir=_cache_dir(), views="flip", condition="chip"
        )
        d = next(iter(chip.values()))
        console.print(f"{d.embedder} (chip): {int(d.ok.sum())} of {len(d.ok)} images have a face")
        dev = _embed(faces, legacy, views=views, subset=subset)
    console.print(
        f"{dev.embedder}: {int(dev.ok.sum())} of {len(dev.ok)} images have a face; "
        f"views cached: {sorted(dev.views)}"
    )


def _shipped_thresholds() -> dict[float, float]:
    from simkyc import bootstrap

    try:
        cal = bootstrap.load_calibration(bootstrap.LEGACY_CALIBRATION_FILE)  # these studies are of dlib
    except Exception:  # no calibration shipped yet: the report simply omits that view
        return {}
    return {p.fmr_target: p.threshold for p in cal.points.values() if p.fmr_target in (1e-3, 1e-4)}


def accuracy(
    faces: FacesOpt = None,
    out: Annotated[Path | None, typer.Option(help="Output folder (default ~/.simkyc/eval/accuracy).")] = None,
    folds: Annotated[int, typer.Option(help="Identity-disjoint folds.")] = 5,
    seed: Annotated[int, typer.Option(help="Seed of the fold assignment and fusion trials.")] = 0,
    member_flip: Annotated[
        bool,
        typer.Option(
            "--member-flip", help="Also measure the new members with flip TTA (twice the embedding)."
        ),
    ] = False,
    alignments: Annotated[
        bool, typer.Option("--alignments", help="Also compare the 112x112 members' landmark sources (slow).")
    ] = False,
) -> None:
    """FNMR at FMR 1e-3/1e-4 per group: embedders and fusion (single, registration, chip), then the
    previous embedder's studies (fusion, TTA, adaptation, abstention); writes JSON, PNGs."""
    from simkyc.cli._fusion import alignment_study, embedder_study, print_embedder_rows
    from simkyc.config import get_settings
    from simkyc.eval.accuracy import plot_reports, run_studies

    with refusals_exit_2():
        study = embedder_study(faces or _default_faces(), k_folds=folds, seed=seed, member_flip=member_flip)
        if alignments:
            study["alignment"] = alignment_study(faces or _default_faces(), k_folds=folds, seed=seed)
        dev = _embed(faces, bootstrap.base_face_pipeline())
        report, nap = run_studies(dev, k_folds=folds, seed=seed, shipped_threshold=_shipped_thresholds())
        report["embedders"] = study
        target = out or get_settings().home / "eval" / "accuracy"
        target.mkdir(parents=True, exist_ok=True)
        (target / "report.json").write_text(json.dumps(report, indent=1, default=float) + "\n")
        pngs = plot_reports(dev, report, target, k_folds=folds, seed=seed, nap=nap)
    _print_rows(report["rows"])
    print_embedder_rows(study)
    console.print(f"wrote {target / 'report.json'} and {', '.join(p.name for p in pngs)}")


def _print_rows(rows: list[dict[str, Any]]) -> None:
    table = Table(title="FNMR at FMR (identity-disjoint folds; comparisons behind each figure)")
    for col in (
        "study",
        "variant",
        "group",
        "FMR",
        "FNMR own thr",
        "FNMR / FMR at one thr",
        "genuine",
        "impostor",
    ):
        table.add_column(col)
    for r in rows:
        table.add_row(
            r["study"],
            r["variant"],
            r["group"],
            f"{r['target_fmr']:g}",
            f"{r['own_fnmr']:.3f}",
            f"{r['fnmr']:.3f} / {r['fmr']:.1e}",
            str(r["n_genuine"]),
            str(r["n_impostor"]),
        )
    console.print(table)


def _adaptation_path(embedder: str) -> Path:
    import simkyc

    return Path(simkyc.__file__).parent / "data" / f"adaptation-{embedder}.json"


def adapt(
    faces: FacesOpt = None,
    method: Annotated[str, typer.Option(help="nap (default) or wccn-lda (for comparison only).")] = "nap",
    output: Annotated[
        Path | None, typer.Option(help="File to write (default simkyc/data/adaptation-EMBEDDER.json).")
    ] = None,
    folds: Annotated[int, typer.Option(help="Identity-disjoint folds for choosing NAP's parameters.")] = 5,
) -> None:
    """Train the template adaptation on all dev identities (a minute); then `simkyc eval calibrate`."""
    from simkyc.eval.adapt_train import select_nap, train_adaptation
    from simkyc.eval.groups import fold_array

    with refusals_exit_2():
        if method not in ("nap", "wccn-lda"):
            raise typer.BadParameter(f"unknown method {method!r}")
        dev = _embed(faces, bootstrap.base_face_pipeline())
        d = dev.subset(dev.ok)
        people = np.array([im.person for im in d.images])
        groups = np.array([im.group.value for im in d.images])
        statement = _data_statement(d)
        meta: dict[str, Any] = {"data": statement, "command": f"simkyc eval adapt --method {method}"}
        if method == "nap":
            fold = fold_array(d.images, k=folds) if len(set(people.tolist())) >= 2 * folds else None
            if fold is None:
                raise typer.BadParameter("too few people to choose the adaptation's parameters")
            params, results = select_nap(d.plain, people, groups, fold)
            if not results:
                console.print("too few people to choose NAP's parameters: using the defaults k=2, keep=0.3")
            meta["selection"] = {
                "criterion": "worst group's FNMR at the strictest group's threshold for FMR 1e-3",
                "folds": folds,
                "chosen": {"k": params.k, "keep": params.keep, "centre": params.centre},
                "cv_worst_fnmr": results.get(params),
            }
            ad = train_adaptation(
                d.plain,
                people,
                groups=groups,
                nap=params,
                embedder=d.embedder,
                embedder_version=d.embedder_version,
                meta=meta,
            )
        else:
            ad = train_adaptation(
                d.plain, people, embedder=d.embedder, embedder_version=d.embedder_version, meta=meta
            )
        target = output or _adaptation_path(d.embedder)
        target.write_text(json.dumps(ad.to_dict(), separators=(",", ":")) + "\n", encoding="utf-8")
        console.print(f"wrote {target} ({ad.name} {ad.version}, {ad.in_dim} -> {ad.out_dim})")
    console.print("the shipped thresholds are now stale: run `simkyc eval calibrate`")


def calibrate(
    faces: FacesOpt = None,
    output: Annotated[
        Path | None, typer.Option(help="File to write (default: the shipped simkyc/data/calibration.json).")
    ] = None,
    folds: Annotated[int, typer.Option(help="Identity-disjoint folds for the out-of-fold adaptation.")] = 5,
    legacy: Annotated[
        bool, typer.Option("--legacy", help="Calibrate the previous generation (dlib-resnet-v1+nap+flip).")
    ] = False,
) -> None:
    """Thresholds for FMR 1e-2/1e-3/1e-4 of the default embedder: each group held at or below the target.

    Genuine comparisons: all same-person pairs of identities.csv; impostors: all cross-person
    pairs within a group. Adaptations and fusion z-scales are refitted out of fold, so every
    score is of people the maps never saw. Writes the per-group FMR and FNMR into the file,
    for one image against one image and for an ID photo against 5 live frames averaged.
    """
    if legacy:
        _calibrate_legacy(faces, output, folds)
        return
    from simkyc.cli._fusion import _people, default_members, shipped_spec
    from simkyc.core.liveness.session import LivenessConfig
    from simkyc.eval.calibrate_groups import calibrate_by_group
    from simkyc.eval.embedders import out_of_fold_system
    from simkyc.eval.fusion import draw_trials, fusion_scores

    with refusals_exit_2():
        fusion = bootstrap.fusion_spec()
        spec = shipped_spec(fusion)
        devs, people, groups, fold_of = _people(
            default_members(faces or _default_faces(), _cache_dir()), k_folds=folds
        )
        st = out_of_fold_system(spec, devs, None, people=people, groups=groups, folds=fold_of)
        first = next(iter(devs.values()))
        k = LivenessConfig().best_frames
        trials = draw_trials(
            people.tolist(),
            groups.tolist(),
            max_k=k,
            per_person=30,
            folds=fold_of,
            id_like=[im.source == "nuaa_spoof_print" for im in first.images],
        )
        pipe = bootstrap.face_pipeline()
        members = ", ".join(
            f"{m['embedder']} ({m['adaptation']['name'] if m.get('adaptation') else 'raw'})"
            for m in fusion["members"]
        )
        how = (
            f"templates: {members} on ArcFace chips, centring maps and z-scales refitted on the other "
            f"{folds - 1} of {folds} identity-disjoint folds for each image, fused with the shipped "
            f"relative weights; pairs within a fold only; fused protocol: {len(trials)} trials, one image "
            f"of a person with >= {k + 1} images as the ID photo (NUAA: a printed photo) against {k} "
            "others averaged, impostors within group and fold"
        )
        cal = calibrate_by_group(
            st.original,
            people.tolist(),
            groups.tolist(),
            embedder=pipe.embedder_name,
            embedder_version=pipe.embedder_version,
            data=f"{_data_statement(first)}; {how}",
            folds=fold_of,
            fused=fusion_scores(st.original, trials, k=k, rule="template") if trials else None,
            fused_frames=k,
            extra={
                "command": "simkyc eval calibrate",
                "score": "weighted mean of the members' cosine similarities (one cosine of fused templates)",
                "fusion": {"name": fusion["name"], "created": fusion.get("created")},
                "per_fold": st.chosen,
            },
        )
        if not cal.points:
            raise typer.BadParameter("too few faces to measure any operating point")
        target = output or Path(bootstrap.__file__).parent / "data" / bootstrap.CALIBRATION_FILE
        target.write_text(json.dumps(cal.to_dict(), indent=2) + "\n", encoding="utf-8")
    _print_calibration(cal)
    console.print(f"wrote {target}")


def _calibrate_legacy(faces: Path | None, output: Path | None, folds: int) -> None:
    """The previous generation's calibration (dlib, NAP refitted out of fold, flip TTA)."""
    from simkyc.core.faces.tta import AugmentedEmbedder
    from simkyc.core.liveness.session import LivenessConfig
    from simkyc.eval.calibrate_groups import calibrate_by_group, out_of_fold_templates
    from simkyc.eval.fusion import draw_trials, fusion_scores
    from simkyc.eval.groups import fold_array

    with refusals_exit_2():
        pipe = bootstrap.legacy_face_pipeline()
        flip = isinstance(pipe.embedder, AugmentedEmbedder) and pipe.embedder.plan.flip
        dev = _embed(faces, bootstrap.base_face_pipeline(), views="flip" if flip else "plain")
        d = dev.subset(dev.ok)
        adaptation = bootstrap.face_adaptation(bootstrap.base_embedder())
        templates, fold_of = out_of_fold_templates(d, adaptation, flip=flip, k_folds=folds)
        how = (
            [
                f"adaptation {adaptation.name} {adaptation.version} refitted on the other {folds - 1} of "
                f"{folds} identity-disjoint folds for each image; pairs within a fold only"
            ]
            if adaptation
            else []
        )
        how += ["chip and mirror averaged (flip TTA)"] if flip else []
        # the registration decision: one ID photo against the session's best frames averaged
        k = LivenessConfig().best_frames
        people = [im.person for im in d.images]
        groups = [im.group.value for im in d.images]
        trials = draw_trials(
            people,
            groups,
            max_k=k,
            per_person=30,
            folds=fold_of if fold_of is not None else fold_array(d.images, k=folds),
            id_like=[im.source == "nuaa_spoof_print" for im in d.images],
        )
        fused = fusion_scores(templates, trials, k=k, rule="template") if trials else None
        how += (
            [
                f"fused protocol: {len(trials)} trials, one image of a person with >= {k + 1} images as "
                f"the ID photo (NUAA: a printed photo) against {k} others averaged, impostors within group "
                "and fold"
            ]
            if trials
            else []
        )
        cal = calibrate_by_group(
            templates,
            people,
            groups,
            embedder=pipe.embedder_name,
            embedder_version=pipe.embedder_version,
            data=_data_statement(d) + (f"; templates: {', '.join(how)}" if how else ""),
            folds=fold_of,
            fused=fused,
            fused_frames=k,
            extra={
                "command": "simkyc eval calibrate --legacy",
                "score": "cosine similarity of L2-normalised templates",
                "adaptation": (
                    {"name": adaptation.name, "version": adaptation.version} if adaptation else None
                ),
                "tta": "flip" if flip else None,
            },
        )
        if not cal.points:
            raise typer.BadParameter("too few faces to measure any operating point")
        target = output or Path(bootstrap.__file__).parent / "data" / bootstrap.LEGACY_CALIBRATION_FILE
        target.write_text(json.dumps(cal.to_dict(), indent=2) + "\n", encoding="utf-8")
    _print_calibration(cal)
    console.print(f"wrote {target}")


def _data_statement(d: Any) -> str:
    groups: dict[str, set[str]] = {}
    for im in d.images:
        groups.setdefault(im.group.value, set()).add(im.person)
    parts = ", ".join(f"{g}: {len(p)} people" for g, p in sorted(groups.items()))
    return (
        f"dev identities (identities.csv, {len(d.images)} images with a face; {parts}); "
        "genuine = all same-person pairs, impostors = all cross-person pairs within a group "
        "(east_asian = Japanese/Korean public figures, Chinese celebrities, NUAA webcam; other = LFW, "
        "deepface, face_recognition)"
    )


def _print_calibration(cal: Any) -> None:
    blocks = [("one image", cal.points, "per_group")]
    if cal.fused_points:
        blocks.append((f"{cal.fused_frames} frames averaged", cal.fused_points, "per_group_fused"))
    for label, points, extra in blocks:
        for key, point in points.items():
            groups = cal.extra.get(extra, {}).get(key, {})
            per = "  ".join(f"{g}: FMR {v['fmr']:.1e} FNMR {v['fnmr']:.3f}" for g, v in groups.items())
            console.print(f"{label}, FMR {key}: threshold {point.threshold:.4f}  {per}")


def calibrate_model(
    model: Annotated[Path, typer.Argument(help="ONNX face embedder (one image in, one descriptor out).")],
    name: Annotated[str, typer.Option(help="Name stored with every template, e.g. arcface-r100.")],
    input_size: Annotated[int, typer.Option(help="Square input side in pixels (112 for ArcFace).")] = 112,
    mean: Annotated[float, typer.Option(help="Pixel mean subtracted (all channels).")] = 127.5,
    std: Annotated[float, typer.Option(help="Pixel std divided by (all channels).")] = 127.5,
    color_order: Annotated[str, typer.Option(help="RGB or BGR, as the model was trained.")] = "RGB",
    layout: Annotated[str, typer.Option(help="NCHW (PyTorch) or NHWC (TensorFlow).")] = "NCHW",
    faces: FacesOpt = None,
    output: Annotated[
        Path | None, typer.Option(help="Calibration file (default ./calibration-NAME.json).")
    ] = None,
    limit: Annotated[int, typer.Option(help="Use only this many images (0 = all; for smoke tests).")] = 0,
) -> None:
    """Calibrate your own ONNX embedder on the dev identities: per-group thresholds for FMR 1e-2/1e-3/1e-4."""
    import hashlib

    from simkyc.core.faces.pipeline import FacePipeline
    from simkyc.eval.calibrate_groups import calibrate_by_group
    from simkyc.models.onnx_embedder import OnnxEmbedder

    with refusals_exit_2():
        if color_order not in ("RGB", "BGR") or layout not in ("NCHW", "NHWC"):
            raise typer.BadParameter("color-order must be RGB or BGR, layout NCHW or NHWC")
        version = hashlib.sha256(model.read_bytes()).hexdigest()[:12] if model.is_file() else "missing"
        co: Literal["RGB", "BGR"] = "RGB" if color_order == "RGB" else "BGR"
        lay: Literal["NCHW", "NHWC"] = "NCHW" if layout == "NCHW" else "NHWC"
        embedder = OnnxEmbedder(
            model,
            input_size=(input_size, input_size),
            color_order=co,
            mean=(mean,) * 3,
            std=(std,) * 3,
            name=name,
            version=version,
            layout=lay,
        )
        base = bootstrap.base_face_pipeline()
        pipeline = FacePipeline(base.detector, base.aligner, embedder, base.fallback_detector)
        dev = _embed(faces, pipeline, limit=limit)
        d = dev.subset(dev.ok)
        if len(d.images) < 2:
            raise typer.BadParameter("no faces embedded: check the model's input settings")
        cal = calibrate_by_group(
            d.plain,
            [im.person for im in d.images],
            [im.group.value for im in d.images],
            embedder=name,
            embedder_version=version,
            data=_data_statement(d),
            extra={
                "model_file": model.name,
                "model_sha256": hashlib.sha256(model.read_bytes()).hexdigest(),
                "preprocessing": {
                    "input_size": input_size,
                    "mean": mean,
                    "std": std,
                    "color_order": color_order,
                    "layout": layout,
                },
            },
        )
        if not cal.points:
            raise typer.BadParameter("too few faces to measure any operating point: use more images")
        target = output or Path(f"calibration-{name}.json")
        target.write_text(json.dumps(cal.to_dict(), indent=2) + "\n", encoding="utf-8")
    _print_calibration(cal)
    console.print(f"wrote {target}")


def register(app: typer.Typer) -> None:
    """Add the commands to the `eval` group made by `simkyc.cli._faces` (or to `app` if it is absent)."""
    try:
        from simkyc.cli._faces import eval_app as group
    except ImportError:
        group = app
    group.command("embed-dev")(embed_dev)
    group.command("accuracy")(accuracy)
    group.command("adapt")(adapt)
    group.command("calibrate")(calibrate)
    group.command("calibrate-model")(calibrate_model)
