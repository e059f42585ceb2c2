"""amoc.data.fetch: archives built on the fly; every failure must say what is wrong and what to do."""

from __future__ import annotations

import hashlib
import http.client
import io
import os
import socket
import tarfile
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

import cv2
import pytest
from data_fixtures import (
    MARS_QUERY_ROWS,
    MARS_TEST,
    MARS_TRAIN,
    frame_colour,
    make_mars_tree,
    make_prid_tree,
)

from amoc.cli import run_command
from amoc.data.fetch import main, prepare
from amoc.data.readers import read_dataset
from amoc.errors import DatasetError

# A small iLIDS-VID-like tree: relative member path -> bytes (random-ish, so truncation bites).
TREE = {
    f"i-LIDS-VID/sequences/cam{c}/person00{p}/cam{c}_person00{p}_{f:05d}.png":
        hashlib.sha256(f"{c}{p}{f}".encode()).digest() * 64
    for c in (1, 2) for p in (1, 2) for f in (1, 2, 3)
}


def make_tar(path: Path, members: dict[str, bytes], mode: str = "w") -> Path:
    with tarfile.open(path, mode) as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return path


def make_zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def sha256(path: Path) -> str:
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


def assert_nothing_extracted(out: Path) -> None:
    """Neither the output folder nor a leftover temp folder that could pass for it."""
    assert not out.exists()
    assert [p.name for p in out.parent.iterdir() if p.is_dir()] == []


def assert_tree(out: Path) -> None:
    for name, data in TREE.items():
        assert (out / name).read_bytes() == data
    assert sum(1 for p in out.rglob("*") if p.is_file()) == len(TREE)


@pytest.mark.parametrize("kind", ["tar", "tar.gz", "zip"])
def test_good_archive_extracts_to_the_right_layout(tmp_path, kind):
    archive = tmp_path / f"iLIDS-VID.{kind}"
    if kind == "zip":
        make_zip(archive, TREE)
    else:
        make_tar(archive, TREE, "w:gz" if kind == "tar.gz" else "w")
    out = tmp_path / "data" / "ilidsvid" / "raw"
    umask = os.umask(0o022)
    try:
        assert prepare("ilidsvid", out, archive=str(archive), checksum=sha256(archive)) == out
    finally:
        os.umask(umask)
    assert_tree(out)
    assert [p.name for p in out.parent.iterdir()] == ["raw"]  # no temp folder left beside it
    assert out.stat().st_mode & 0o777 == 0o755  # as mkdir makes it, not mkdtemp's 0700


def test_md5_checksum_and_no_checksum_are_accepted(tmp_path):
    archive = make_zip(tmp_path / "a.zip", TREE)
    md5 = "md5:" + hashlib.md5(archive.read_bytes()).hexdigest().upper()  # case-insensitive
    prepare("d", tmp_path / "x" / "raw", archive=str(archive), checksum=md5)
    prepare("d", tmp_path / "y" / "raw", archive=str(archive), checksum=None)
    assert_tree(tmp_path / "x" / "raw")
    assert_tree(tmp_path / "y" / "raw")


def test_wrong_checksum_names_the_file_and_both_checksums(tmp_path):
    archive = make_tar(tmp_path / "iLIDS-VID.tar", TREE)
    expected = "0" * 64
    actual = sha256(archive).removeprefix("sha256:")
    out = tmp_path / "out" / "raw"
    with pytest.raises(DatasetError) as err:
        prepare("ilidsvid", out, archive=str(archive), checksum=f"sha256:{expected}")
    message = str(err.value)
    assert str(archive) in message and expected in message and actual in message
    assert "download it again" in message
    assert_nothing_extracted(out)


def test_malformed_checksum_is_refused(tmp_path):
    archive = make_zip(tmp_path / "a.zip", TREE)
    with pytest.raises(DatasetError, match="md5:<hex> or sha256:<hex>"):
        prepare("d", tmp_path / "out" / "raw", archive=str(archive), checksum="crc32:1234")


@pytest.mark.parametrize("kind", ["tar", "tar.gz", "zip"])
@pytest.mark.parametrize("keep", [0.2, 0.5, 0.7])  # a tar ends in ~25% zero padding
def test_truncated_archive_is_refused_and_leaves_nothing(tmp_path, kind, keep):
    whole = tmp_path / f"whole.{kind}"
    if kind == "zip":
        make_zip(whole, TREE)
    else:
        make_tar(whole, TREE, "w:gz" if kind == "tar.gz" else "w")
    data = whole.read_bytes()
    archive = tmp_path / "src" / f"cut.{kind}"
    archive.parent.mkdir()
    archive.write_bytes(data[: int(len(data) * keep)])
    out = tmp_path / "out" / "raw"
    with pytest.raises(DatasetError, match="truncated or corrupt") as err:
        prepare("d", out, archive=str(archive))  # no checksum: extraction itself must notice
    assert str(archive) in str(err.value)
    assert_nothing_extracted(out)


def test_tar_cut_inside_a_member_header_is_refused(tmp_path):
    """tarfile alone would extract the members before the cut and report success."""
    data = make_tar(tmp_path / "whole.tar", TREE).read_bytes()
    second_header = tarfile.BLOCKSIZE * (1 + -(-len(next(iter(TREE.values()))) // 512))
    archive = tmp_path / "src" / "cut.tar"
    archive.parent.mkdir()
    archive.write_bytes(data[: second_header + 100])
    out = tmp_path / "out" / "raw"
    with pytest.raises(DatasetError, match="truncated or corrupt"):
        prepare("d", out, archive=str(archive))
    assert_nothing_extracted(out)


def test_zero_byte_archive_is_refused(tmp_path):
    archive = tmp_path / "src" / "prid_2011.zip"
    archive.parent.mkdir()
    archive.touch()
    out = tmp_path / "out" / "raw"
    with pytest.raises(DatasetError, match="is empty") as err:
        prepare("prid2011", out, archive=str(archive))
    assert str(archive) in str(err.value) and "download it again" in str(err.value)
    assert_nothing_extracted(out)


@pytest.mark.parametrize("bad", ["../evil.txt", "ok/../../evil.txt", "/tmp/evil.txt"])
@pytest.mark.parametrize("kind", ["tar", "zip"])
def test_unsafe_member_paths_are_refused(tmp_path, bad, kind):
    members = {**TREE, bad: b"pwned"}
    archive = tmp_path / "src" / f"evil.{kind}"
    archive.parent.mkdir()
    (make_zip if kind == "zip" else make_tar)(archive, members)
    out = tmp_path / "out" / "raw"
    with pytest.raises(DatasetError, match="unsafe member path") as err:
        prepare("d", out, archive=str(archive))
    assert bad in str(err.value)
    assert_nothing_extracted(out)
    assert not (tmp_path / "evil.txt").exists() and not (tmp_path / "out" / "evil.txt").exists()


def test_no_url_and_no_archive_says_where_to_put_it(tmp_path):
    with pytest.raises(DatasetError) as err:
        prepare("mars", tmp_path / "out" / "raw")
    message = str(err.value)
    assert "'mars'" in message and "archive:" in message and "root:" in message


def test_missing_archive_names_the_path_to_put_it_at(tmp_path):
    archive = tmp_path / "downloads" / "MARS.zip"
    with pytest.raises(DatasetError, match="does not exist") as err:
        prepare("mars", tmp_path / "out" / "raw", archive=str(archive))
    assert str(archive) in str(err.value) and "put it at that path" in str(err.value)


def _assert_manual_download_message(message: str, url: str) -> None:
    """Names the dataset and the URL, says where else to get it, gives the exact line to add."""
    assert "dataset 'ilidsvid'" in message and url in message
    assert "Queen Mary University of London" in message
    assert "under `datasets: ilidsvid:`" in message
    assert "\n    archive: data/archives/iLIDS-VID.tar\n" in message


@pytest.mark.parametrize("url", [
    "missing-file",  # a file:// URL that does not exist
    "http://127.0.0.1:9/iLIDS-VID.tar",  # a local port nobody listens on: connection refused
])
def test_unreachable_url_asks_for_a_manual_download(tmp_path, url):
    if url == "missing-file":
        url = (tmp_path / "nowhere" / "iLIDS-VID.tar").as_uri()
    out = tmp_path / "out" / "raw"
    with pytest.raises(DatasetError) as err:
        prepare("ilidsvid", out, url=url)
    _assert_manual_download_message(str(err.value), url)
    assert list(out.parent.iterdir()) == []  # no half-downloaded file or .part left


@pytest.mark.parametrize("failure", [
    urllib.error.HTTPError("http://x", 404, "Not Found", {}, None),
    urllib.error.URLError(socket.gaierror(-2, "Name or service not known")),  # DNS
    TimeoutError("timed out"),
    http.client.IncompleteRead(b"partial"),
])
def test_http_dns_and_timeout_failures_give_the_same_guidance(tmp_path, monkeypatch, failure):
    def fail(*args, **kwargs):
        raise failure

    monkeypatch.setattr(urllib.request, "urlopen", fail)
    url = "http://www.eecs.qmul.ac.uk/~xiatian/iLIDS-VID/iLIDS-VID.tar"
    with pytest.raises(DatasetError) as err:
        prepare("ilidsvid", tmp_path / "out" / "raw", url=url)
    _assert_manual_download_message(str(err.value), url)


def test_the_archive_line_from_the_message_is_still_checksum_verified(tmp_path):
    archive = make_tar(tmp_path / "iLIDS-VID.tar", TREE)
    with pytest.raises(DatasetError, match="checksum mismatch"):
        prepare("ilidsvid", tmp_path / "out" / "raw", url="http://127.0.0.1:9/iLIDS-VID.tar",
                archive=str(archive), checksum="md5:" + "0" * 32)


def test_download_then_verify_and_extract(tmp_path):
    (tmp_path / "server").mkdir()
    source = make_tar(tmp_path / "server" / "iLIDS-VID.tar", TREE)
    out = tmp_path / "out" / "raw"
    prepare("ilidsvid", out, url=source.as_uri(), checksum=sha256(source))
    assert_tree(out)
    assert (out.parent / "iLIDS-VID.tar").read_bytes() == source.read_bytes()


def test_cli_reports_user_errors_without_a_traceback(tmp_path, capsys):
    status = run_command(main, ["--dataset", "mars", "--out", str(tmp_path / "out" / "raw")])
    assert status == 2
    assert capsys.readouterr().err.startswith("error: dataset 'mars': no `url` or `archive`")


# --- a fetch into each real layout, then the dataset's reader on what was extracted ---------


def _archive_tree(tree: Path, archive: Path) -> Path:
    """Pack every file under `tree` with paths relative to it (the layout the archive ships)."""
    members = {str(p.relative_to(tree)): p.read_bytes() for p in sorted(tree.rglob("*"))
               if p.is_file()}
    return make_zip(archive, members) if archive.suffix == ".zip" else make_tar(
        archive, members, "w:gz")


def _colour(path: str) -> tuple[int, int, int]:
    bgr = cv2.imread(path)
    return tuple(int(v) for v in bgr[bgr.shape[0] // 2, bgr.shape[1] // 2][::-1])


def test_prid_zip_fetched_then_read(tmp_path):
    make_prid_tree(tmp_path / "src", n_persons=3, frames_per_seq=lambda c, p: 3 + p,
                   extra_cam_b=2)
    archive = _archive_tree(tmp_path / "src", tmp_path / "prid_2011.zip")
    raw = tmp_path / "results" / "data" / "prid2011" / "raw"
    assert main(["--dataset", "prid2011", "--archive", str(archive), "--checksum",
                 sha256(archive), "--out", str(raw)]) == 0
    index = read_dataset("prid2011", raw)
    # persons 1..3 are in both cameras; 4 and 5 (cam_b only) are not indexed by default
    assert sorted(zip(index["camid"], index["pid"], strict=True)) == [
        (0, 1), (0, 2), (0, 3), (1, 1), (1, 2), (1, 3)]
    for row in index.itertuples():
        assert row.n_frames == 3 + row.pid == len(row.frame_paths)
        assert all(Path(p).is_relative_to(raw) for p in row.frame_paths)
        # frames decode to the fixture's colours, in numeric order
        assert [_colour(p) for p in row.frame_paths] == [
            frame_colour(k, row.pid, row.camid) for k in range(1, row.n_frames + 1)]


def test_mars_folder_fetched_then_read(tmp_path):
    make_mars_tree(tmp_path / "src")
    archive = _archive_tree(tmp_path / "src", tmp_path / "MARS.tar.gz")
    raw = tmp_path / "results" / "data" / "mars" / "raw"
    assert main(["--dataset", "mars", "--archive", str(archive), "--out", str(raw)]) == 0
    assert sorted(p.name for p in raw.iterdir()) == ["bbox_test", "bbox_train", "info"]
    index = read_dataset("mars", raw)
    tracks = [("train", *t) for t in MARS_TRAIN] + [("test", *t) for t in MARS_TEST]
    got = sorted(zip(index["subset"], index["pid"], index["camid"] + 1, index["n_frames"],
                     strict=True))
    assert got == sorted(tracks)
    queries = index[index["is_query"]]
    assert sorted(zip(queries["pid"], queries["camid"] + 1, strict=True)) == sorted(
        MARS_TEST[r - 1][:2] for r in MARS_QUERY_ROWS)
    for row in index.itertuples():  # JPEG frames: order by name, content by its G = pid code
        assert [int(Path(p).stem.rsplit("F", 1)[1]) for p in row.frame_paths] == list(
            range(1, row.n_frames + 1))
        assert all(Path(p).is_relative_to(raw / f"bbox_{row.subset}") for p in row.frame_paths)
        assert abs(_colour(row.frame_paths[0])[1] - frame_colour(1, row.pid, 0)[1]) <= 3


def test_missing_manual_downloads_are_listed_with_paths_and_where_to_get_them(tmp_path) -> None:
    from amoc.data.fetch import check_manual_inputs, missing_manual_inputs

    datasets = {
        "ilidsvid": {"source": "download", "url": "http://example.org/i.tar"},
        "prid2011": {"source": "download", "archive": str(tmp_path / "prid_2011.zip")},
        "mars": {"source": "folder", "root": str(tmp_path / "MARS")},
        "unused": {"source": "folder", "root": str(tmp_path / "nowhere")},
    }
    used = ["ilidsvid", "prid2011", "mars"]
    with pytest.raises(DatasetError, match="no job was started") as err:
        check_manual_inputs(datasets, used, tmp_path / "results")
    text = str(err.value)
    assert f"archive {tmp_path / 'prid_2011.zip'} does not exist" in text
    assert "tugraz.at/institute/icg/research/team-bischof/lrs/downloads/prid11" in text
    assert f"folder {tmp_path / 'MARS'} does not exist" in text
    assert "zheng-lab.cecs.anu.edu.au/Project/project_mars.html" in text
    assert "ilidsvid" not in text and "nowhere" not in text
    (tmp_path / "MARS").mkdir()
    (tmp_path / "results/data/prid2011/raw").mkdir(parents=True)  # extracted: archive not needed
    assert missing_manual_inputs(datasets, used, tmp_path / "results") == []


def test_the_paper_preset_names_missing_archives_at_dag_build() -> None:
    import subprocess
    import sys

    from child_env import child_env
    from conftest import REPO_ROOT

    if (REPO_ROOT / "data/archives/prid_2011.zip").exists() and (REPO_ROOT / "data/MARS").exists():
        pytest.skip("this clone has the manual downloads")
    result = subprocess.run([sys.executable, "-m", "snakemake", "-n", "--configfile",
                             "config/paper.yaml"], cwd=REPO_ROOT, env=child_env(),
                            capture_output=True, text=True, timeout=600, check=False)
    console = result.stdout + result.stderr
    assert result.returncode != 0
    assert "manual downloads missing" in console and "prid11" in console
