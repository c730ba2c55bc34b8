"""`python -m simkyc.models.dlib_onnx [--force]`: convert now (at install) and print where the file is."""

from __future__ import annotations

import sys

from simkyc.models.dlib_onnx.convert import convert


def main(argv: list[str]) -> int:
    result = convert(force="--force" in argv)
    state = "converted" if result.converted else "cached"
    print(
        f"{state}: {result.path}\nsha256: {result.sha256}\n"
        f"source: {result.source.path} ({result.source.sha256})"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
