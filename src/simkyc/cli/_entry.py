"""How every `simkyc` command ends and what it prints besides its own output.

- Exit codes (README): 0 success, 1 a negative decision or finding, 2 unusable input or a usage error,
  3 an internal error. Refusals and usage errors are one line on stderr (`error: ...`), never a
  traceback; `--verbose` (or SIMKYC_VERBOSE=1) shows tracebacks of internal errors.
- Third-party noise stays out unless `--verbose`: native libraries write to file descriptor 2 directly
  (LiteRT's "INFO: Created TensorFlow Lite XNNPACK delegate for CPU.", FFmpeg's "[mov,mp4,... @ 0x..]"
  lines via OpenCV, OpenCV's "[ WARN:0@..." lines, absl's "W0000 ..." lines, ONNX Runtime warnings), so
  fd 2 is piped through a filter thread that drops those lines and forwards everything else; Python
  warnings and library INFO logs are silenced the same way.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import re
import sys
import threading
import traceback
import warnings
from typing import Any

import typer
from typer._click import core as click_core
from typer._click import exceptions as click_exc

from simkyc.errors import SimkycError

__all__ = ["NOISE", "SimkycTyper", "is_verbose", "run", "set_verbose"]

NOISE = re.compile(
    rb"^(INFO: "  # TFLite / LiteRT minimal logging
    rb"|\[[^\]\n]+ @ 0x[0-9a-f]+\] "  # FFmpeg av_log
    rb"|\[ ?(?:WARN|INFO|DEBUG|ERROR):\d+@"  # OpenCV's logger
    rb"|[WI]\d{4} \d\d:\d\d:\d\d"  # absl (MediaPipe, LiteRT)
    rb"|WARNING: All log messages before absl::InitializeLog"
    rb"|\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+ \[[WI]:onnxruntime"  # ONNX Runtime warnings
    rb")"
)

_state: dict[str, Any] = {"verbose": False, "filter": None}


def is_verbose() -> bool:
    return bool(_state["verbose"]) or os.environ.get("SIMKYC_VERBOSE") == "1"


class _StderrFilter:
    """fd 2 -> pipe -> a thread that forwards every line not matching NOISE to the real stderr."""

    def __init__(self) -> None:
        sys.stderr.flush()
        self._real = os.dup(2)
        read_end, write_end = os.pipe()
        os.dup2(write_end, 2)
        os.close(write_end)
        self._thread = threading.Thread(
            target=self._pump, args=(read_end,), name="stderr-filter", daemon=True
        )
        self._thread.start()

    def _pump(self, read_end: int) -> None:
        with os.fdopen(read_end, "rb") as src:
            for line in src:
                if not NOISE.match(line):
                    os.write(self._real, line)

    def close(self) -> None:
        with contextlib.suppress(ValueError):
            sys.stderr.flush()
        os.dup2(self._real, 2)  # drops the pipe's last write end: the pump sees EOF and drains
        self._thread.join(timeout=2)
        os.close(self._real)


def set_verbose(verbose: bool) -> None:
    """Called by the root callback: logging, warnings and the fd-2 filter for this process."""
    _state["verbose"] = verbose
    if is_verbose():
        logging.basicConfig(level=logging.INFO)
        return
    warnings.simplefilter("ignore")
    logging.getLogger().setLevel(logging.WARNING)
    os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # AV_LOG_QUIET, read when cv2 opens a file
    # Only for the real console script: in-process test runners swap sys.stderr and own fd 2.
    real_console = sys.stderr is sys.__stderr__ and os.environ.get("SIMKYC_NO_STDERR_FILTER") != "1"
    if _state["filter"] is None and real_console:
        try:
            _state["filter"] = _StderrFilter()
        except OSError:
            return
        atexit.register(_close_filter)


def _close_filter() -> None:
    flt = _state.pop("filter", None)
    _state["filter"] = None
    if flt is not None:
        flt.close()


def _one_line(text: str) -> str:
    return " ".join(text.split())


def run(command: click_core.Command, argv: list[str] | None = None, *, prog_name: str = "simkyc") -> int:
    """Run the CLI and return its exit code, turning every refusal into one line on stderr."""
    try:
        rv = command.main(args=argv, prog_name=prog_name, standalone_mode=False)
    except click_exc.NoArgsIsHelpError as exc:
        typer.echo(exc.ctx.get_help() if exc.ctx is not None else exc.format_message())
        return 2
    except click_exc.UsageError as exc:
        where = f" (see '{exc.ctx.command_path} --help')" if exc.ctx is not None else ""
        typer.echo(f"error: {_one_line(exc.format_message())}{where}", err=True)
        return 2
    except click_exc.ClickException as exc:
        typer.echo(f"error: {_one_line(exc.format_message())}", err=True)
        return exc.exit_code
    except typer.Abort:
        typer.echo("aborted", err=True)
        return 130
    except SimkycError as exc:  # a refusal not caught by its command
        typer.echo(f"error: {exc.reason}: {_one_line(exc.message)}", err=True)
        return 2
    except Exception as exc:
        if is_verbose():
            traceback.print_exc()
        else:
            typer.echo(
                f"error: internal error: {type(exc).__name__}: {_one_line(str(exc))} (--verbose for details)",
                err=True,
            )
        return 3
    return rv if isinstance(rv, int) else 0


class SimkycTyper(typer.Typer):
    """The root app: `simkyc ...` goes through `run`, so every exit is one of the documented codes."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        code = run(typer.main.get_command(self))
        with contextlib.suppress(BrokenPipeError, ValueError):
            sys.stdout.flush()
        _close_filter()
        sys.exit(code)
