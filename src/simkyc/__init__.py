"""simkyc: real-name phone-number registration with face verification.

Nothing heavy happens at import: models, databases and indexes are built by
`simkyc.bootstrap` when the shell (CLI, API, tests) asks for them.
"""

__version__ = "0.1.0"
