"""Face commands: `simkyc verify` and `simkyc eval` (evaluate a pair list).

`eval` is a group whose default command is `run`: `simkyc eval PAIRS.csv ...` is
`simkyc eval run PAIRS.csv ...`; the accuracy commands of `simkyc.cli._accuracy`
(`eval calibrate` among them, which writes the shipped calibration) join the group.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.progress import track
from typer import _click as typer_click
from typer.core import TyperGroup

from simkyc.cli._common import console, fail, refusals_exit_2
from simkyc.errors import InputError, Reason, SimkycError

if TYPE_CHECKING:
    from simkyc.eval.systems import System

__all__ = ["register"]

FmrOpt = Annotated[
    str, typer.Option("--fmr", help="Operating point (false-match rate) from the calibration file.")
]


def register(app: typer.Typer) -> None:
    app.command("verify")(verify)
    app.add_typer(eval_app, name="eval")


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InputError(Reason.IMAGE_UNREADABLE, f"cannot read {path.name}: {exc.strerror}") from None


def _fmr_value(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise InputError(Reason.INVALID_REQUEST, f"--fmr {text!r} is not a number") from None
    return value


def verify(
    id_image: Annotated[Path, typer.Argument(help="The ID photo (card portrait, chip photo or scan).")],
    live_image: Annotated[Path, typer.Argument(help="The live capture of the customer.")],
    fmr: FmrOpt = "1e-3",
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Is the person in LIVE_IMAGE the holder of ID_IMAGE? Exit 0 match, 1 no match, 2 unusable input."""
    from simkyc import bootstrap
    from simkyc.core.images import decode_image

    with refusals_exit_2():
        fmr_value = _fmr_value(fmr)
        t0 = time.perf_counter()
        id_bytes, live_bytes = _read(id_image), _read(live_image)
        t_read = (time.perf_counter() - t0) * 1000
        t0 = time.perf_counter()
        try:
            id_img = decode_image(id_bytes)
        except SimkycError as exc:
            exc.message = f"{exc.message} (ID image)"
            raise
        try:
            live_img = decode_image(live_bytes)
        except SimkycError as exc:
            exc.message = f"{exc.message} (live image)"
            raise
        t_decode = (time.perf_counter() - t0) * 1000
        t0 = time.perf_counter()
        pipeline = bootstrap.face_pipeline()
        cal = bootstrap.calibration()
        threshold = cal.threshold(fmr_value)
        t_load = (time.perf_counter() - t0) * 1000
        t0 = time.perf_counter()
        try:
            result = pipeline.verify(id_img, live_img, threshold=threshold)
        except SimkycError as exc:
            side = "ID image" if exc.detail.get("kind") == "id_photo" else "live image"
            exc.message = f"{exc.message} ({side})"
            raise
        t_verify = (time.perf_counter() - t0) * 1000
    timings = {"read": t_read, "decode": t_decode, **result.timings, "verify_total": t_verify}
    decision = "MATCH" if result.is_match else ("UNUSABLE" if not result.usable else "NO MATCH")
    payload: dict[str, Any] = {
        "decision": decision,
        "is_match": result.is_match,
        "usable": result.usable,
        "score": round(result.score, 4),
        "threshold": round(result.threshold, 4),
        "operating_point": {"fmr": fmr_value, "embedder": cal.embedder, "calibration_data": cal.data},
        "reasons": [str(r) for r in result.reasons],
        "quality": {
            side: {
                "findings": [str(f) for f in face.quality.findings],
                "face_px": round(face.quality.face_px, 1),
                "sharpness": round(face.quality.sharpness, 1),
                "brightness": round(face.quality.brightness, 1),
                "yaw_deg": round(face.quality.yaw_deg, 1),
                "detector": face.detector,
                "detector_score": round(face.detection.score, 3),
            }
            for side, face in (("id", result.id_face), ("live", result.live_face))
        },
        "timings_ms": {k: round(v, 1) for k, v in timings.items()},
        "model_load_ms": round(t_load, 1),
    }
    if as_json:
        typer.echo(json.dumps(payload))
    else:
        colour = "green" if result.is_match else ("yellow" if not result.usable else "red")
        console.print(
            f"[bold {colour}]{decision}[/]  score {result.score:.3f}  threshold {result.threshold:.3f}"
            f"  (FMR {fmr_value:g}, {cal.embedder})"
        )
        console.print("reasons: " + ", ".join(str(r) for r in result.reasons))
        for side, face in (("id", result.id_face), ("live", result.live_face)):
            q = face.quality
            found = ", ".join(str(f) for f in q.findings) or "none"
            console.print(
                f"{side:>4}: face {q.face_px:.0f}px via {face.detector}, sharpness {q.sharpness:.0f}, "
                f"brightness {q.brightness:.0f}, yaw {q.yaw_deg:+.0f}°; findings: {found}"
            )
        console.print("ms: " + "  ".join(f"{k} {v:.1f}" for k, v in timings.items()))
    if not result.usable:
        blocking = [str(r) for r in result.reasons]
        raise fail(f"{blocking[0]}: " + "; ".join(Reason(r).message for r in blocking))
    raise typer.Exit(code=0 if result.is_match else 1)


class _DefaultRunGroup(TyperGroup):
    """A group that runs `run` when the first argument is not a subcommand (`simkyc eval PAIRS.csv`)."""

    def parse_args(self, ctx: typer_click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


eval_app = typer.Typer(
    cls=_DefaultRunGroup,
    no_args_is_help=True,
    help="Evaluate verification on a pair list (`simkyc eval PAIRS.csv --root DIR`), calibrate, adapt.",
)

SYSTEM_NAMES = ("simkyc", "face_recognition")


def _default_out(pairs: Path, condition: str) -> Path:
    from simkyc.config import get_settings

    suffix = "" if condition == "original" else f"-{condition}"
    return get_settings().home / "eval" / f"{pairs.stem}{suffix}"


def _cache(path: Path | None) -> Any:
    from simkyc.config import get_settings
    from simkyc.eval.cache import EmbeddingCache

    return EmbeddingCache(path or get_settings().home / "cache" / "eval-embeddings.sqlite")


def _embed_system(
    name: str, jobs: list[Any], root: Path, cache: Any, workers: int
) -> tuple[dict[Any, Any], str]:
    from simkyc.eval.run import embed_jobs
    from simkyc.eval.systems import SYSTEMS

    if name not in SYSTEMS:
        raise InputError(
            Reason.INVALID_REQUEST, f"unknown system {name!r} (choose from {', '.join(SYSTEMS)})"
        )
    factory: Callable[[], System] = SYSTEMS[name]
    key = factory().key
    records = embed_jobs(
        jobs,
        root,
        factory=factory,
        system_key=key,
        cache=cache,
        workers=workers,
        progress=lambda it, n: track(it, total=n, description=f"Embedding images ({name})", console=console),
    )
    return records, key


@eval_app.command("run")
def run(
    pairs: Annotated[Path, typer.Argument(help="Pair list CSV: img_a,img_b,same,source.")],
    root: Annotated[
        Path | None, typer.Option(help="Folder the CSV's paths are relative to (default: the CSV's folder).")
    ] = None,
    condition: Annotated[
        str, typer.Option(help="'original', or 'chip': degrade the ID side (img_a) to 102x126 px, JPEG 70.")
    ] = "original",
    system: Annotated[
        list[str] | None,
        typer.Option(help="System(s) to evaluate: simkyc, face_recognition (repeat the option)."),
    ] = None,
    out: Annotated[Path | None, typer.Option(help="Output folder (default ~/.simkyc/eval/NAME).")] = None,
    cache: Annotated[Path | None, typer.Option(help="Embedding cache (SQLite).")] = None,
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 1,
) -> None:
    """EER and FNMR at FMR 1e-2/1e-3/1e-4 per system, per source; DET curve PNG and JSON report."""
    from simkyc.eval.pairs import load_pairs
    from simkyc.eval.report import plot_det, scored_report
    from simkyc.eval.run import jobs_for_pairs, score_pairs

    with refusals_exit_2():
        if condition not in ("original", "chip"):
            raise InputError(Reason.INVALID_REQUEST, "--condition must be 'original' or 'chip'")
        pair_list = load_pairs(pairs)
        if not pair_list:
            raise InputError(Reason.INVALID_REQUEST, f"{pairs} holds no pairs")
        data_root = root or pairs.parent
        out_dir = out or _default_out(pairs, condition)
        jobs = jobs_for_pairs(pair_list, condition=condition)
        store = _cache(cache)
        reports: dict[str, Any] = {}
        curves = {}
        for name in system or ["simkyc"]:
            records, key = _embed_system(name, jobs, data_root, store, workers)
            scored = score_pairs(pair_list, records, condition=condition)
            rep = scored_report(scored)
            rep["system_key"] = key
            reports[name] = rep
            curves[name] = scored.split()
        out_dir.mkdir(parents=True, exist_ok=True)
        det = plot_det(curves, out_dir / "det.png", title=f"DET: {pairs.name} ({condition})")
        report = {
            "pairs": str(pairs),
            "root": str(data_root),
            "condition": condition,
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "det_png": str(det),
            "systems": reports,
        }
        (out_dir / "report.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    _print_summary(reports)
    console.print(f"report: {out_dir / 'report.json'}\nDET curve: {det}")


def _print_summary(reports: dict[str, Any]) -> None:
    from rich.table import Table

    table = Table("system", "pairs (gen/imp)", "FTA pairs", "EER", "FNMR@1e-2", "FNMR@1e-3", "FNMR@1e-4")
    for name, rep in reports.items():
        pts = rep.get("operating_points", {})

        def cell(key: str, pts: dict[str, Any] = pts) -> str:
            p = pts.get(key)
            if p is None:
                return "-"
            flag = "" if p["reliable"] else "*"
            return f"{p['fnmr']:.4f}{flag} (n_imp={p['impostor_comparisons']})"

        table.add_row(
            name,
            f"{rep['n_genuine']}/{rep['n_impostor']}",
            str(rep["failures_to_acquire"]["pairs"]),
            f"{rep.get('eer', float('nan')):.4f}",
            cell("1e-2"),
            cell("1e-3"),
            cell("1e-4"),
        )
    console.print(table)
    console.print("* fewer than 1/FMR impostor comparisons: the figure is not reliable at that point")
