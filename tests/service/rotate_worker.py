"""Worker process of the rotation crash test: `simkyc keys rotate` on DB_URL with the key file KEY_FILE.

Usage: rotate_worker.py DB_URL KEY_FILE READY_FILE
"""

from __future__ import annotations

import sys
from pathlib import Path

from simkyc.store import open_database
from simkyc.store.crypto import load_keyring
from simkyc.store.rotation import rotate_keys


def main() -> None:
    url, key_file, ready = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    db = open_database(url, load_keyring(env_json=None, key_file=key_file), run_migrations=False)
    ready.touch()
    rotate_keys(db, grace_seconds=0.2)


if __name__ == "__main__":
    main()
