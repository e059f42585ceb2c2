"""Checksums that travel with result files, so a flipped byte fails loudly instead of a table.

torch does not check a checkpoint's zip CRCs and a Parquet page can decode to other numbers, so
every checkpoint and result-row file gets a sidecar ``<file>.sha256`` (the hex digest, written
atomically after the file) that its reader verifies before decoding anything.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from amoc.errors import AmocError

SUFFIX = ".sha256"
CHUNK = 1 << 20


class IntegrityError(AmocError):
    """A file does not match its checksum, or has none."""


def checksum_path(path: str | os.PathLike) -> Path:
    """The sidecar that holds `path`'s digest."""
    path = Path(path)
    return path.with_name(path.name + SUFFIX)


def sha256_of(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file's bytes, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def verify_checksum(path: str | os.PathLike, what: str,
                    error: type[AmocError] = IntegrityError) -> None:
    """Refuse a file whose bytes differ from its sidecar digest, or that has no sidecar.

    Raises:
        `error`: naming the file, what is wrong and that it must be deleted and rebuilt.
    """
    path, sidecar = Path(path), checksum_path(path)
    advice = f"delete {path} (and {sidecar.name}) and rerun the job that writes it"
    try:
        expected = sidecar.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        raise error(f"{path}: {what} has no checksum file {sidecar.name} (written by an older "
                    f"version, or its write was interrupted); {advice}") from None
    except (OSError, UnicodeDecodeError) as err:
        raise error(f"{path}: unreadable checksum file {sidecar.name} ({err}); {advice}") from err
    if sha256_of(path) != expected:
        raise error(f"{path}: {what} is corrupt (its SHA-256 differs from {sidecar.name}); "
                    f"{advice}")
