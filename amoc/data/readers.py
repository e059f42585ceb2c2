"""Registry of dataset readers: `read_dataset(name, root, **opts)` is the one entry point."""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable
from functools import partial

import pandas as pd

from amoc.data.ilidsvid import read_ilidsvid
from amoc.data.mars import read_mars
from amoc.data.prid2011 import read_prid2011
from amoc.errors import ConfigError

READERS: dict[str, Callable[..., pd.DataFrame]] = {
    "ilidsvid": read_ilidsvid,
    "prid2011": read_prid2011,
    "mars": read_mars,
    # The synthwalk generator writes the iLIDS-VID layout.
    "synthwalk": partial(read_ilidsvid, dataset="synthwalk"),
}


def read_dataset(name: str, root: str | os.PathLike, **opts) -> pd.DataFrame:
    """Build the tracklet index of dataset `name`; options go to its reader (e.g. min_frames)."""
    if name not in READERS:
        raise ConfigError(f"unknown dataset {name!r}; valid names: {', '.join(sorted(READERS))}")
    reader = READERS[name]
    try:
        inspect.signature(reader).bind(root, **opts)
    except TypeError as err:
        raise ConfigError(f"invalid option for dataset {name!r}: {err}") from err
    return reader(root, **opts)
