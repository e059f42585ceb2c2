"""Find a dataset's sequence folder under a user-given root; the error says where data must go."""

from __future__ import annotations

import os
from pathlib import Path

from amoc.errors import DatasetError


def find_layout_dir(root: str | os.PathLike, layout: tuple[str, ...], cameras: tuple[str, ...],
                    dataset: str, first_person: str) -> Path:
    """Return `root/<layout>` (or `root/<last part of layout>`) holding one folder per camera.

    Args:
        root: the dataset root as configured (or its parent).
        layout: folders from the root to the camera folders, e.g. ("prid_2011", "multi_shot").
        cameras: camera folder names that must exist.
        dataset: name used in messages.
        first_person: example person folder name for the "put the data here" message.
    """
    root = Path(root).expanduser().resolve()
    for candidate in (root.joinpath(*layout), root / layout[-1]):
        if candidate.is_dir():
            missing = [c for c in cameras if not (candidate / c).is_dir()]
            if missing:
                expected = " and ".join(str(candidate / c) for c in cameras)
                raise DatasetError(f"{candidate}: camera folder(s) {missing} missing; "
                                   f"expected {expected}")
            return candidate
    where = "not found" if not root.exists() else f"has no {'/'.join(layout)} folder"
    raise DatasetError(
        f"{dataset} root {root} {where}; put the data so that "
        f"{root.joinpath(*layout, cameras[0], first_person)} holds the frames"
    )
