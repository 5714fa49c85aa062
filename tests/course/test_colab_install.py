"""The setup cell in a simulated Colab session: which source installs ganlib, in which order, and what a
student sees when none does.

The simulation: a stand-in ``google.colab`` module whose ``drive.mount`` records the call and only then puts the
course into a temporary "Drive" (a course folder, or the instructor's zip unzipped, or nothing), and
``subprocess.run`` recorded instead of pip (an install "fails" for the sources a test names; with ``conflict``,
every install under the cell's constraints file fails, as when ganlib needs another version of a package Colab has,
and an install without it "upgrades" stand-in packages). The cell runs in an IPython shell in a subprocess, as in a
notebook, with ``COURSE_DIR`` (the cell's documented setting) pointed at the temporary Drive. The zip is the real
output of ``python -m ganlib course pack``. tests/course/test_colab_replay.py runs the cell with the real pip against
Colab's package versions.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest

from ganlib.course import pack as packing
from ganlib.course.notebooks import ColabSettings, colab_settings, main_build, setup_cell_source

REPO = Path(__file__).resolve().parents[2]
PLACEHOLDER = ColabSettings("https://github.com/REPLACE-WITH-OWNER/gan-course", "v0.1.0")
PUBLISHED = ColabSettings("https://github.com/someone/gan-course", "v1.2")
COURSE_DIR_LINE = 'COURSE_DIR = "/content/drive/MyDrive/gan-course"'

SIMULATION = """
import json, os, shutil, subprocess, sys, types
events, pins = [], []
DRIVE, PREPARED, FAILS, CONFLICT, SITE = {drive!r}, {prepared!r}, {fails!r}, {conflict!r}, {site!r}
STAND_INS = {{"Stand_In.Widgets": "stand_in_widgets", "Other_Pkg": "other_pkg"}}  # distribution: module, version 1.0
for dist, module in STAND_INS.items():  # installed packages, as Colab's are
    os.makedirs(f"{{SITE}}/{{dist}}-1.0.dist-info")
    with open(f"{{SITE}}/{{dist}}-1.0.dist-info/METADATA", "w") as f:
        f.write(f"Metadata-Version: 2.1\\nName: {{dist}}\\nVersion: 1.0\\n")
    with open(f"{{SITE}}/{{dist}}-1.0.dist-info/top_level.txt", "w") as f:
        f.write(module + "\\n")
    with open(f"{{SITE}}/{{module}}.py", "w") as f:
        f.write("")
sys.path.insert(0, SITE)
import stand_in_widgets  # the session has imported one of them, as Colab's kernel imports IPython and others

def mount(path):
    events.append(["mount", path])
    if PREPARED:  # the course appears on "Drive" only once it is mounted
        shutil.copytree(PREPARED, DRIVE, dirs_exist_ok=True)

def run(args, **kwargs):
    source = args[-1]
    if args[1:4] != ["-m", "pip", "install"]:
        events.append(["run", *args])
        return subprocess.CompletedProcess(args, 0, "", "")
    constrained = "--constraint" in args
    events.append(["pip" if constrained else "pip without constraints", source])
    if constrained:
        with open(args[args.index("--constraint") + 1]) as f:
            pins.append(f.read().splitlines())
    if source in FAILS or (constrained and CONFLICT):
        return subprocess.CompletedProcess(args, 1, "", "ERROR: ResolutionImpossible for " + source + "\\n")
    for dist in CONFLICT:  # the versions ganlib needs replace the installed ones
        metadata = f"{{SITE}}/{{dist}}-1.0.dist-info/METADATA"
        with open(metadata) as f:
            text = f.read()
        with open(metadata, "w") as f:
            f.write(text.replace("Version: 1.0", "Version: 2.0"))
    return subprocess.CompletedProcess(args, 0, "", "WARNING: pip says something\\n")

google, colab, drive = (types.ModuleType(n) for n in ("google", "google.colab", "google.colab.drive"))
drive.mount, google.colab, colab.drive = mount, colab, drive
sys.modules.update({{"google": google, "google.colab": colab, "google.colab.drive": drive}})
subprocess.run = run

from IPython.core.interactiveshell import InteractiveShell
shell = InteractiveShell.instance()
result = shell.run_cell({source!r} + "\\nAFTER_THE_SETUP = True")
print("@@" + json.dumps({{"events": events, "pins": pins,
                          "error": type(result.error_in_exec).__name__ if result.error_in_exec else None,
                          "after": shell.user_ns.get("AFTER_THE_SETUP", False),
                          "runs": os.environ.get("GANLIB_RUNS")}}))
"""


def _colab(tmp_path: Path, colab: ColabSettings, prepared: Path | None = None, fails: tuple[str, ...] = (),
           use_drive: bool = True, conflict: tuple[str, ...] = ()) -> dict:
    """Run the setup cell of ``colab`` in a simulated Colab; return what it did and printed.

    ``conflict``: stand-in distributions that ganlib needs at another version; installs under the constraints
    file fail, and an install without it moves these from 1.0 to 2.0."""
    drive = tmp_path / "drive" / "gan-course"
    source = setup_cell_source(colab).replace(COURSE_DIR_LINE, f"COURSE_DIR = {str(drive)!r}")
    assert str(drive) in source, "the setup cell must set COURSE_DIR in one line"
    if not use_drive:
        source = source.replace("USE_DRIVE = True", "USE_DRIVE = False")
    program = SIMULATION.format(drive=str(drive), prepared=str(prepared) if prepared else "",
                                fails=[f.replace("COURSE_DIR", str(drive)) for f in fails], source=source,
                                conflict=list(conflict), site=str(tmp_path / "site-packages"))
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    out, marker = done.stdout.rsplit("@@", 1)
    return {**json.loads(marker), "printed": out, "stderr": done.stderr, "drive": drive}


def _course_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "upload"
    folder.mkdir()
    (folder / "pyproject.toml").write_text('[project]\nname = "ganlib"\n')
    return folder


@pytest.fixture(scope="module")
def zipped(tmp_path_factory):
    """The real course zip, from ``python -m ganlib course pack`` (builds ganlib's wheel: some seconds)."""
    out = tmp_path_factory.mktemp("pack") / "gan-course.zip"
    assert packing.main_pack(REPO, str(out)) == 0
    return out


def _unzipped(zip_path: Path, tmp_path: Path) -> Path:
    """The zip unzipped into "My Drive": returns the gan-course folder it holds."""
    target = tmp_path / "mydrive"
    with zipfile.ZipFile(zip_path) as z:
        z.extractall(target)
    return target / packing.FOLDER


def test_a_course_folder_on_drive_installs_after_mounting(tmp_path):
    done = _colab(tmp_path, PLACEHOLDER, prepared=_course_folder(tmp_path))
    assert done["events"] == [["mount", "/content/drive"], ["pip", str(done["drive"])]]
    assert done["error"] is None and done["after"] is True
    assert done["runs"] == PLACEHOLDER.drive_runs and done["printed"] == ""


def test_the_instructors_zip_unzipped_on_drive_installs_its_wheel(tmp_path, zipped):
    done = _colab(tmp_path, PLACEHOLDER, prepared=_unzipped(zipped, tmp_path))
    assert len(done["events"]) == 2 and done["events"][0] == ["mount", "/content/drive"]
    kind, wheel = done["events"][1]
    assert kind == "pip" and wheel.startswith(str(done["drive"] / "wheels" / "ganlib-")) and wheel.endswith(".whl")
    assert done["error"] is None and done["after"] is True


def test_a_published_repository_is_used_when_drive_has_no_course(tmp_path):
    done = _colab(tmp_path, PUBLISHED)
    assert done["events"] == [["mount", "/content/drive"], ["pip", PUBLISHED.requirement]]
    assert done["error"] is None


def test_sources_are_tried_in_order_until_one_installs(tmp_path, zipped):
    both = _unzipped(zipped, tmp_path)
    (both / "pyproject.toml").write_text('[project]\nname = "ganlib"\n')  # a course folder that will not build
    done = _colab(tmp_path, PUBLISHED, prepared=both, fails=("COURSE_DIR", PUBLISHED.requirement))
    installs = [e[1] for e in done["events"] if e[0] == "pip"]
    assert installs[:2] == [str(done["drive"]), PUBLISHED.requirement] and installs[2].endswith(".whl")
    assert done["error"] is None and done["after"] is True


def test_no_source_prints_one_message_without_a_traceback_and_stops(tmp_path):
    done = _colab(tmp_path, PLACEHOLDER)  # placeholder repository, empty Drive
    assert done["events"] == [["mount", "/content/drive"]]  # nothing to install from: pip is not even tried
    assert done["error"] == "SetupStopped" and done["after"] is False  # the rest of the cell does not run
    text = done["printed"] + done["stderr"]
    assert "Traceback" not in text and "Error" not in text
    assert text.strip().count("\n") == 0 and text.startswith("ganlib could not be installed. Three ways")  # one line
    for way in ("(1) copy the course folder", "course pack", "--repository URL --ref REF", "USE_DRIVE = True"):
        assert way in text


def test_without_drive_nothing_is_mounted(tmp_path):
    done = _colab(tmp_path, PUBLISHED, prepared=_course_folder(tmp_path), use_drive=False)
    assert done["events"] == [["pip", PUBLISHED.requirement]]  # the course folder never appeared: no mount
    assert done["runs"] is None


def test_pip_keeps_every_installed_package_at_its_version_and_its_messages_are_shown(tmp_path):
    done = _colab(tmp_path, PLACEHOLDER, prepared=_course_folder(tmp_path))
    assert done["events"] == [["mount", "/content/drive"], ["pip", str(done["drive"])]]  # one install, constrained
    (pins,) = done["pins"]
    # every distribution the kernel can import is pinned (stand-ins under pip's spelling of their names), ganlib not
    import importlib.metadata

    expected = {f"{d.metadata['Name'].lower().replace('_', '-')}=={d.version}"
                for d in importlib.metadata.distributions() if d.metadata["Name"] != "ganlib"}
    assert {p for p in expected if p.split("==")[0] in ("numpy", "torch", "ipywidgets", "tqdm", "pip")} <= set(pins)
    assert {"stand-in-widgets==1.0", "other-pkg==1.0"} <= set(pins)
    assert not [p for p in pins if p.startswith("ganlib==")] and all(p.count("==") == 1 for p in pins)
    assert done["stderr"] == "WARNING: pip says something\n" and done["error"] is None  # pip's output is not hidden
    assert done["printed"] == ""  # nothing changed, nothing to say


def test_when_ganlib_needs_other_versions_it_installs_them_and_names_each_change(tmp_path):
    done = _colab(tmp_path, PLACEHOLDER, prepared=_course_folder(tmp_path), conflict=("Other_Pkg",))
    drive = str(done["drive"])
    assert done["events"][1:] == [["pip", drive], ["pip without constraints", drive]]
    assert "ERROR: ResolutionImpossible for " + drive in done["stderr"]  # pip's reason stays visible
    assert done["printed"].splitlines() == [
        "Installing ganlib with the versions of Colab's packages that it needs instead.",
        "pip changed Colab's packages: other-pkg 1.0 -> 2.0"]
    assert done["error"] is None and done["after"] is True  # other_pkg was never imported: no restart needed


def test_a_changed_package_the_session_had_imported_asks_for_a_restart_and_stops(tmp_path):
    done = _colab(tmp_path, PLACEHOLDER, prepared=_course_folder(tmp_path), conflict=("Stand_In.Widgets", "Other_Pkg"))
    assert done["error"] == "SetupStopped" and done["after"] is False  # the notebook does not go on with a stale module
    lines = done["printed"].strip().splitlines()  # IPython prints an empty line for the stopped cell
    assert lines[1] == "pip changed Colab's packages: other-pkg 1.0 -> 2.0, stand-in-widgets 1.0 -> 2.0"
    assert lines[2] == ("Restart the session (Runtime > Restart session), then run this cell again: stand-in-widgets "
                        "changed after this session had imported it.") and len(lines) == 3
    assert "Traceback" not in done["printed"] + done["stderr"]


def test_the_zip_holds_the_student_notebooks_a_working_wheel_and_the_guides(tmp_path, zipped):
    folder = _unzipped(zipped, tmp_path)
    assert sorted(p.name for p in (folder / "notebooks").iterdir()) == sorted(p.name for p in (REPO / "notebooks").glob("*.ipynb"))
    for name in ("01_optimal_discriminator.ipynb", "09_gans_vaes_diffusion.ipynb"):
        nb = nbformat.read(folder / "notebooks" / name, as_version=4)
        assert "raise NotImplementedError" in "".join(c.source for c in nb.cells)  # student versions
    start = (folder / "START_HERE.md").read_text()
    assert "Google Colab" in start and "JupyterLab" in start and "wheels/ganlib-" in start
    assert (folder / "data" / "README.md").read_text() == (REPO / "data" / "README.md").read_text()
    (wheel,) = (folder / "wheels").glob("ganlib-*.whl")
    with zipfile.ZipFile(wheel) as w:
        names = set(w.namelist())
        metadata = w.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    shipped = {p.relative_to(REPO).as_posix() for p in (REPO / "ganlib").rglob("*") if p.is_file() and "__pycache__" not in p.parts}
    assert shipped <= names, f"files of ganlib missing from the wheel: {sorted(shipped - names)[:5]}"
    assert "ganlib/assets/comparison_mnist32.pt" in names and "Requires-Dist: torch-fidelity" in metadata
    target = tmp_path / "site"  # and pip can install it
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target), str(wheel)],
                   check=True, capture_output=True)
    assert (target / "ganlib" / "models" / "diffusion.py").is_file() and (target / "ganlib" / "assets" / "mnist_5k.npz").is_file()


def test_pack_refuses_out_of_date_notebooks(tmp_path):
    course = tmp_path / "course"
    shutil.copytree(REPO / "solutions", course / "solutions")
    shutil.copytree(REPO / "notebooks", course / "notebooks")
    shutil.copy(REPO / "pyproject.toml", course / "pyproject.toml")
    (course / "notebooks" / "01_optimal_discriminator.ipynb").write_text("{}")
    with pytest.raises(ValueError, match="out of date; run `python -m ganlib course build` first"):
        packing.pack(course, tmp_path / "x.zip")
    assert not (tmp_path / "x.zip").exists()


# ---- course build --repository URL --ref REF ----


def _copy_of_the_course(tmp_path: Path) -> Path:
    course = tmp_path / "course"
    for folder in ("solutions", "notebooks"):
        shutil.copytree(REPO / folder, course / folder)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, course / name)
    return course


def test_build_with_a_repository_sets_it_and_rebuilds_everything(tmp_path):
    course = _copy_of_the_course(tmp_path)
    before = (course / "pyproject.toml").read_text()
    assert main_build(course, repository="https://github.com/someone/gan-course", ref="v1.2") == 0
    after = (course / "pyproject.toml").read_text()
    assert 'repository = "https://github.com/someone/gan-course"' in after and 'ref = "v1.2"' in after
    assert after.replace("someone", "REPLACE-WITH-OWNER").replace('"v1.2"', '"v0.1.0"') == before  # nothing else
    colab = colab_settings(course)
    for folder in ("solutions", "notebooks"):
        nb = nbformat.read(course / folder / "03_dcgan.ipynb", as_version=4)
        assert colab.requirement in nb.cells[1].source and "github/someone/gan-course/blob/v1.2" in nb.cells[0].source
    assert "github/someone/gan-course/blob/v1.2/notebooks/09_gans_vaes_diffusion.ipynb" in (course / "README.md").read_text()
    assert main_build(course, check=True) == 0


@pytest.mark.parametrize("url", ["https://gitlab.com/a/b", "github.com/a/b", "https://github.com/a", "not a url",
                                 "https://github.com/a/b/tree/main"])
def test_build_refuses_a_url_that_is_not_a_github_repository(tmp_path, url, capsys):
    course = _copy_of_the_course(tmp_path)
    before = (course / "pyproject.toml").read_text()
    from ganlib.__main__ import main

    assert main(["course", "build", "--root", str(course), "--repository", url, "--ref", "v1"]) == 2
    assert "must look like https://github.com/OWNER/REPO" in capsys.readouterr().err
    assert (course / "pyproject.toml").read_text() == before


def test_repository_and_ref_go_together(tmp_path):
    with pytest.raises(ValueError, match="go together"):
        main_build(_copy_of_the_course(tmp_path), repository="https://github.com/a/b")
