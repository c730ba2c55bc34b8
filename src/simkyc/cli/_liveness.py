"""`simkyc liveness VIDEO --challenge turn_left,blink`: run a liveness session over a video file.

The file's frames get capture times from the decoder, anchored inside a fresh
challenge window (a file has no capture timestamps of its own), and go through
the same session the server runs on streamed frames. Exit 0 = passed,
1 = refused (reasons printed), 2 = unusable input (not a video, empty, ...).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from simkyc.cli._common import console, refusals_exit_2
from simkyc.core.liveness import Action, LivenessResult
from simkyc.errors import InputError, Reason

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    app.command("liveness")(liveness)


def _actions(text: str) -> tuple[Action, ...]:
    names = [t.strip().lower() for t in text.split(",") if t.strip()]
    try:
        actions = tuple(Action(n) for n in names)
    except ValueError:
        choices = ", ".join(a.value for a in Action)
        raise InputError(
            Reason.INVALID_REQUEST, f"--challenge {text!r}: use a comma list of {choices}"
        ) from None
    if not actions or len(set(actions)) != len(actions):
        raise InputError(Reason.INVALID_REQUEST, "--challenge needs distinct actions")
    return actions


def liveness(
    video: Annotated[Path, typer.Argument(help="A video file (mp4, mov, ...) of the customer.")],
    challenge: Annotated[
        str, typer.Option("--challenge", "-c", help="Actions in order: blink, turn_left, turn_right, nod.")
    ] = "turn_left,blink",
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    plot: Annotated[
        Path | None, typer.Option("--plot", help="Write a PNG of eye aspect ratio and head pose over time.")
    ] = None,
    no_embedder: Annotated[
        bool, typer.Option("--no-embedder", help="Skip the same-face embeddings (faster, weaker).")
    ] = False,
) -> None:
    """Decide whether the person in VIDEO performed the challenge live. Exit 0 pass, 1 refused, 2 unusable."""
    from simkyc.service.liveness import (
        LivenessModels,
        adhoc_challenge,
        anchor_frames,
        read_video,
        run_liveness,
    )

    with refusals_exit_2():
        actions = _actions(challenge)
        clip = read_video(video)
        ch = adhoc_challenge(actions, ttl_s=max(60.0, clip.duration + 10.0))
        if no_embedder:
            models = LivenessModels.load()
        else:
            from simkyc import bootstrap

            models = bootstrap.liveness_models()
        frames = anchor_frames(clip, ch)
        result = run_liveness(frames, ch, models=models)
    t0 = frames[0].timestamp
    if as_json:
        print(json.dumps(_as_dict(result, t0, clip.dropped_repeats), indent=2))
    else:
        _print(result, t0)
    if plot is not None:
        _plot(result, t0, plot, actions)
        if not as_json:
            console.print(f"plot written to {plot}")
    raise typer.Exit(code=0 if result.passed else 1)


def _as_dict(result: LivenessResult, t0: float, dropped: int) -> dict[str, object]:
    return {
        "passed": result.passed,
        "reasons": [str(r) for r in result.reasons],
        "messages": [r.message for r in result.reasons],
        "action_times_s": {str(a): round(t - t0, 3) for a, t in result.action_times.items()},
        "events": [{"t_s": round(e.timestamp - t0, 3), "event": str(e)} for e in result.events],
        "scores": {k: round(v, 4) for k, v in result.scores.items()},
        "decoder_dropped_repeats": dropped,
    }


def _print(result: LivenessResult, t0: float) -> None:
    verdict = "[green]PASSED[/green]" if result.passed else "[red]REFUSED[/red]"
    console.print(f"liveness {verdict}")
    for reason in result.reasons:
        console.print(f"  {reason}: {reason.message}", highlight=False)
    for action, t in result.action_times.items():
        console.print(f"  {action:<10} seen at {t - t0:6.2f} s", highlight=False)
    keys = ("same_face_min_similarity", "planar_residual", "passive_score", "frames_with_face", "frames")
    counts = ("frames_with_face", "frames")
    shown = "  ".join(
        f"{k} {int(result.scores[k])}" if k in counts else f"{k} {result.scores[k]:.3f}"
        for k in keys
        if k in result.scores
    )
    console.print(f"  {shown}", highlight=False)


def _plot(result: LivenessResult, t0: float, path: Path, actions: tuple[Action, ...]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sig = result.signals  # frames without a face carry NaN: gaps in the lines
    t = [s.timestamp - t0 for s in sig]
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(10, 6), sharex=True)
    ax1.plot(t, [s.ear for s in sig], ".-", label="eye aspect ratio")
    ax1.set_ylabel("EAR")
    ax2.plot(t, [s.yaw for s in sig], ".-", label="yaw (+ = own left)")
    ax2.plot(t, [s.pitch for s in sig], ".-", label="pitch (+ = chin up)")
    ax2.set_ylabel("degrees")
    ax2.set_xlabel("seconds from the first frame")
    for action, at in result.action_times.items():
        for ax in (ax1, ax2):
            ax.axvline(at - t0, color="green", linestyle="--")
        ax1.annotate(str(action), (at - t0, ax1.get_ylim()[1]), fontsize=8, rotation=90, va="top")
    for e in result.events:
        if e.kind == "failed":
            for ax in (ax1, ax2):
                ax.axvline(e.timestamp - t0, color="red")
    verdict = "passed" if result.passed else "refused: " + ", ".join(result.reasons)
    fig.suptitle(f"challenge {', '.join(actions)} -> {verdict}")
    ax1.legend(loc="lower right")
    ax2.legend(loc="lower right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)
    plt.close(fig)
