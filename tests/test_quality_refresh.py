"""``python -m txmail.quality.refresh`` against a small local caniemail checkout."""

import io
import json
import subprocess
import sys
import tarfile
from pathlib import Path

from txmail.quality import refresh

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "caniemail"
ROOT = Path(__file__).resolve().parent.parent


def test_front_matter_as_jekyll_reads_it():
    text = (FIXTURE / "_features" / "css-display-flex.md").read_text()
    matter = refresh.front_matter(text)
    assert matter["title"] == "display:flex"
    assert matter["keywords"] == "flexbox"
    # Tabs, trailing commas, escaped quotes; version keys stay strings, not dates.
    assert matter["stats"]["gmail"]["android"] == {"2019-02": "y", "2020-11": "a #1"}
    assert matter["notes_by_num"]["1"] == 'Not supported with "non Google" accounts.'


def test_the_snapshot_keeps_the_latest_result_and_the_notes_it_uses():
    files, _licence = refresh.read_checkout(FIXTURE)
    snapshot = refresh.build(files, commit="abc", date="2026-01-02")
    assert list(snapshot["features"]) == ["css-display-flex"]  # not _template
    flex = snapshot["features"]["css-display-flex"]
    assert flex["support"] == {"gmail.desktop-webmail": "y", "gmail.android": "a #1",
                               "outlook.windows": "n"}
    assert flex["notes"] == {"1": 'Not supported with "non Google" accounts.'}
    assert (snapshot["date"], snapshot["commit"]) == ("2026-01-02", "abc")


def test_the_command_writes_the_snapshot_and_the_licence(tmp_path):
    run = subprocess.run(
        [sys.executable, "-m", "txmail.quality.refresh", str(FIXTURE), "--date", "2026-01-02",
         "--output", str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    written = json.loads((tmp_path / "caniemail.json").read_text())
    assert written["features"]["css-display-flex"]["title"] == "display:flex"
    assert "Rémi Parmentier" in (tmp_path / "caniemail-LICENSE.txt").read_text()
    assert "Wrote 1 features" in run.stderr  # caniemail's _template isn't one


def test_the_snapshot_is_package_data():
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert '"quality/data/*"' in pyproject


def test_the_archive_s_commit_is_recorded(tmp_path):
    """GitHub's archive names its commit in the pax header; read offline here."""
    path = tmp_path / "main.tar.gz"
    sha = "6b086a3483a92078ba5226626e13db6f0a95a113"
    with tarfile.open(path, "w:gz", format=tarfile.PAX_FORMAT,
                      pax_headers={"comment": sha}) as archive:
        for source, name in ((FIXTURE / "LICENSE", "caniemail-main/LICENSE"),
                             (FIXTURE / "_features" / "css-display-flex.md",
                              "caniemail-main/_features/css-display-flex.md")):
            data = source.read_bytes()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    files, licence, commit = refresh.read_archive(path.as_uri())
    assert (list(files), commit) == (["css-display-flex"], sha)
    assert "Rémi Parmentier" in licence
