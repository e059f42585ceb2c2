"""Get a real dataset onto disk: download (or take the user's archive), verify, extract safely.

iLIDS-VID and PRID-2011 are public archives; MARS is behind a manual download. When the automatic
download fails (an HTTP error, DNS, a timeout: the iLIDS-VID address every public loader uses
has been reported dead since 2021), the error names the dataset and the URL tried, says where the
archive can be obtained instead, and gives the exact ``archive:`` line to add to the config; a
user's archive is checksum-verified like a download.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import logging
import shutil
import tarfile
import urllib.request
import zipfile
from collections.abc import Iterable, Mapping
from pathlib import Path

from amoc.atomic import temporary_folder
from amoc.errors import DatasetError

log = logging.getLogger(__name__)

CHUNK = 1 << 20
DOWNLOAD_TIMEOUT_S = 60
ARCHIVE_DIR = "data/archives"  # where the README and the errors suggest putting archives
# Where each dataset can be obtained when its URL fails (pointers, not links that may rot).
OBTAIN = {
    "ilidsvid": "from its authors (Wang, Gong, Zhu, Wang; ECCV 2014, Queen Mary University of "
                "London) or a copy you trust, e.g. one kept by a lab that used it; the "
                "checksum in config/paper.yaml identifies the original release",
    "prid2011": "from the PRID 2011 page of TU Graz's Institute of Computer Graphics and Vision "
                "(free registration): https://www.tugraz.at/institute/icg/research/"
                "team-bischof/lrs/downloads/prid11",
    "mars": "from the MARS page of Liang Zheng, "
            "http://zheng-lab.cecs.anu.edu.au/Project/project_mars.html (bbox_train.zip, "
            "bbox_test.zip), with the info files of github.com/liangzheng06/MARS-evaluation",
}


def missing_manual_inputs(datasets: Mapping[str, Mapping], used: Iterable[str],
                          results: str | Path = "results") -> list[str]:
    """One line per used dataset whose hand-downloaded archive (``archive:``) or extracted
    folder (``source: folder``, ``root:``) is missing, naming the path and where to get it.

    A dataset already extracted under ``results/data/<name>/raw`` needs its archive no more.
    """
    lines = []
    for name in sorted(set(used)):
        ds = datasets.get(name, {})
        if ds.get("source") == "folder":
            path, what = ds.get("root", ""), "folder"
        elif ds.get("source") == "download" and ds.get("archive"):
            if (Path(results) / "data" / name / "raw").is_dir():
                continue
            path, what = ds["archive"], "archive"
        else:
            continue
        if not Path(path).exists():
            where = OBTAIN.get(name, "from the dataset's authors")
            lines.append(f"dataset {name!r}: the {what} {path} does not exist; get it {where}, "
                         f"then put it there (or change `datasets: {name}: "
                         f"{'root' if what == 'folder' else 'archive'}:`)")
    return lines


def check_manual_inputs(datasets: Mapping[str, Mapping], used: Iterable[str],
                        results: str | Path = "results") -> None:
    """Fail at DAG build, before any job runs, when a manual download is missing.

    Raises:
        DatasetError: listing every missing archive and folder at once.
    """
    lines = missing_manual_inputs(datasets, used, results)
    if lines:
        raise DatasetError("manual downloads missing (no job was started):\n  "
                           + "\n  ".join(lines))


def file_digest(path: Path, algorithm: str = "sha256") -> str:
    """Stream the file; datasets are GBs."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def download_failed(dataset: str, url: str, name: str, err: Exception) -> DatasetError:
    """The error for a failed download: what was tried, where else to get it, what to add."""
    where = OBTAIN.get(dataset, "from the dataset's authors or a copy you trust")
    archive = f"{ARCHIVE_DIR}/{name}"
    return DatasetError(
        f"dataset {dataset!r}: could not download {url} ({err}). Obtain the archive {where}, "
        f"put it at {archive} and add this line under `datasets: {dataset}:` in your config "
        f"(its checksum is still verified):\n    archive: {archive}\n"
        "Or extract it yourself and use `source: folder` with `root:`."
    )


def download(dataset: str, url: str, dest: Path) -> None:
    """Download `url` to `dest` (via a temp file, so an interrupted download leaves nothing).

    Raises:
        DatasetError: any HTTP, DNS, connection or timeout failure (see ``download_failed``).
    """
    tmp = dest.with_name(dest.name + ".part")
    try:
        with (urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as resp,
              open(tmp, "wb") as out):
            shutil.copyfileobj(resp, out, CHUNK)
    except (OSError, http.client.HTTPException, ValueError) as err:  # URLError is an OSError
        tmp.unlink(missing_ok=True)
        raise download_failed(dataset, url, dest.name, err) from err
    tmp.replace(dest)


def verify(archive: Path, checksum: str | None) -> str:
    """Refuse an archive whose checksum (`md5:<hex>` or `sha256:<hex>`) differs.

    With no checksum configured the archive's sha256 is logged, so the user can pin it.
    """
    if not archive.is_file():
        raise DatasetError(
            f"dataset archive {archive} does not exist: download it and put it at that path, or "
            "set `archive:` for this dataset in your config to where it is."
        )
    if archive.stat().st_size == 0:
        raise DatasetError(
            f"dataset archive {archive} is empty (an interrupted download?): delete it and "
            "download it again."
        )
    algorithm, _, expected = (checksum or "sha256:").partition(":")
    if algorithm not in {"md5", "sha256"}:
        raise DatasetError(f"checksum {checksum!r} must look like md5:<hex> or sha256:<hex>")
    actual = file_digest(archive, algorithm)
    if expected and actual != expected.lower():
        raise DatasetError(
            f"checksum mismatch for {archive}: expected {algorithm} {expected}, got {actual}. The "
            "file is truncated or not the expected release: delete it and download it again."
        )
    if not expected:
        log.warning("no checksum configured for %s; sha256:%s (add it to the config)", archive, actual)
    return actual


def _safe_members(names: list[str], archive: Path) -> None:
    for name in names:
        parts = Path(name).parts
        if Path(name).is_absolute() or ".." in parts:
            raise DatasetError(f"archive {archive} has an unsafe member path {name!r}; refusing")


def _check_tar_end(tf: tarfile.TarFile) -> None:
    """tarfile ends the member list silently at a header cut short; a whole tar ends in zeros."""
    tf.fileobj.seek(tf.offset)
    if tf.fileobj.read(tarfile.BLOCKSIZE) != bytes(tarfile.BLOCKSIZE):
        raise tarfile.ReadError(f"no end-of-archive marker after {len(tf.getmembers())} members")


def extract(archive: Path, out_dir: Path) -> None:
    """Extract a .zip/.tar(.gz) into `out_dir` atomically (temp dir + rename)."""
    tmp = temporary_folder(out_dir.parent, ".extract.")
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as zf:
                _safe_members(zf.namelist(), archive)
                zf.extractall(tmp)
        elif tarfile.is_tarfile(archive):
            with tarfile.open(archive) as tf:
                _safe_members(tf.getnames(), archive)
                _check_tar_end(tf)
                tf.extractall(tmp, filter="data")
        else:
            raise DatasetError(
                f"archive {archive} is neither a zip nor a tar archive: truncated or corrupt "
                "download? Delete it and download it again."
            )
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError) as err:
        shutil.rmtree(tmp, ignore_errors=True)
        raise DatasetError(f"archive {archive} is truncated or corrupt ({err}); download it again") from err
    except DatasetError:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    tmp.replace(out_dir)


def prepare(dataset: str, out_dir: Path, url: str = "", archive: str = "",
            checksum: str | None = None) -> Path:
    """Make `out_dir` hold the extracted dataset, from the user's archive or a download."""
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    if archive:
        path = Path(archive)
    elif url:
        path = out_dir.parent / (Path(url.split("?")[0]).name or f"{dataset}.archive")
        if not path.is_file():
            download(dataset, url, path)
    else:
        raise DatasetError(
            f"dataset {dataset!r}: no `url` or `archive` in the config. Put the archive on disk "
            "and set `archive:`, or extract it and use `source: folder` with `root:`."
        )
    verify(path, checksum)
    extract(path, out_dir)
    return out_dir


def main(argv: list[str] | None = None) -> int:
    """CLI used by the workflow's `fetch` rule."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--url", default="")
    parser.add_argument("--archive", default="")
    parser.add_argument("--checksum", default="", help="md5:<hex> or sha256:<hex>")
    args = parser.parse_args(argv)
    prepare(args.dataset, args.out, args.url, args.archive, args.checksum or None)
    return 0


if __name__ == "__main__":
    from amoc.cli import run_command

    raise SystemExit(run_command(main))
