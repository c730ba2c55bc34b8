"""Fixtures of the browser tests, defined in webkit.py (a uniquely named module the tests import from)."""

from webkit import browser_tools, clips, server, shots

__all__ = ["browser_tools", "clips", "server", "shots"]
