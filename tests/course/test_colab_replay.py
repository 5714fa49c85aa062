"""The setup cell replayed with the real pip against the package versions of Colab's GPU runtime: installing
ganlib must leave every package Colab has as it was.

``tests/support/data/colab-pip-freeze.gpu.txt`` is Colab's own list (googlecolab/backend-info). A virtual environment
gets Colab's versions of the packages a notebook touches (IPython, ipykernel, the ipywidgets trio, numpy, scipy,
matplotlib, tqdm, pip ...), their dependencies pinned to Colab's versions too, for this Python (Colab's is 3.13);
where this environment's torch needs a newer package than Colab has (torch 2.14: setuptools>=77.0.3), the replay
takes this environment's version of it. torch and torchvision are not installed again: their files (and their dependencies', dist-info folders included) are symlinked from this
environment into a folder outside the venv that a ``.pth`` file puts on its path, so pip sees them installed; being
outside the venv's prefix, pip would never uninstall them through the links. Then the real setup cell runs in an
IPython shell of that venv, with ``google.colab`` stood in by a module whose ``drive.mount`` does nothing and
``COURSE_DIR`` at a stand-in Drive course folder (pyproject.toml, README.md and ganlib/ of this repository), and
``pip freeze --all`` before and after must agree on every package that was there before.

Needs the package index (or pip's cache): skips, saying so, when pip cannot download. About two minutes, most of
it pip; the venv is built once per session.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

from ganlib.course.notebooks import colab_settings, setup_cell_source

REPO = Path(__file__).resolve().parents[2]
FREEZE = REPO / "tests" / "support" / "data" / "colab-pip-freeze.gpu.txt"
# What a notebook touches, installed at Colab's versions; their dependencies follow the same pins.
NOTEBOOK_PACKAGES = ["pip", "setuptools", "ipython", "ipykernel", "traitlets", "ipywidgets", "widgetsnbextension",
                     "jupyterlab-widgets", "numpy", "scipy", "matplotlib", "pillow", "tqdm"]
FROM_THIS_ENV = ["torch", "torchvision"]  # Colab's are CUDA builds for Python 3.13: shown from this environment
TORCH_STACK = re.compile(r"^(torch|torchvision|torchaudio|triton|nvidia-.*|cuda-.*)$")
COURSE_DIR_LINE = 'COURSE_DIR = "/content/drive/MyDrive/gan-course"'


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _colab_versions() -> dict[str, str]:
    """{name: version} of Colab's pip freeze (packages installed from a URL left out)."""
    pairs = (line.strip().split("==", 1) for line in FREEZE.read_text().splitlines()
             if "==" in line and not line.startswith("#"))
    return {_norm(name): version for name, version in pairs}


def test_every_dependency_of_ganlib_admits_the_version_colab_has():
    colab = _colab_versions()
    needed = [Requirement(r) for r in tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]]
    assert {_norm(r.name) for r in needed} >= {"torch", "numpy", "ipywidgets", "tqdm"}
    for r in needed:
        if _norm(r.name) in colab:  # torch-fidelity is not in Colab: pip adds it
            version = colab[_norm(r.name)].split("+")[0]  # 2.11.0+cu128 -> 2.11.0
            assert r.specifier.contains(version, prereleases=True), f"{r} excludes Colab's {r.name} {version}"


def _env() -> dict[str, str]:
    """This environment's variables, less those that point Python elsewhere: with VIRTUAL_ENV set, IPython puts
    that venv's site-packages first on sys.path."""
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}


def _pip(python: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run([str(python), "-m", "pip", "--disable-pip-version-check", *args], capture_output=True,
                          text=True, timeout=600, env=_env())
    if check:
        assert done.returncode == 0, f"pip {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done


def _closure(names: list[str]) -> tuple[set[str], list[Requirement]]:
    """Distributions of this environment that ``names`` need, themselves included, and their requirements."""
    seen, todo, requirements = set(), [(name, "") for name in names], []
    while todo:  # (distribution, extra): torch needs cuda-toolkit[cublas,cudart,...]
        name, extra = todo.pop()
        if (_norm(name), extra) in seen:
            continue
        seen.add((_norm(name), extra))
        dist = importlib.metadata.distribution(name)
        needs = [r for r in map(Requirement, dist.requires or []) if r.marker is None or r.marker.evaluate({"extra": extra})]
        needs = [r for r in needs if extra == "" or "extra" in str(r.marker)]  # an extra's own requirements
        requirements += needs
        todo += [(r.name, e) for r in needs for e in ("", *r.extras)]
    return {name for name, _ in seen}, requirements


def _show_from_this_env(overlay: Path, names: set[str]) -> None:
    """Symlink the top-level files and folders of the distributions ``names`` of this environment into ``overlay``."""
    overlay.mkdir()
    for name in sorted(names):
        dist = importlib.metadata.distribution(name)
        for top in sorted({f.parts[0] for f in dist.files or []} - {"..", "__pycache__"}):
            if not (overlay / top).exists():
                (overlay / top).symlink_to(Path(dist.locate_file(top)).resolve())


def _freeze(python: Path) -> dict[str, str]:
    lines = _pip(python, "freeze", "--all").stdout.splitlines()
    return {_norm(re.split(r"==| @ ", line)[0]): line for line in lines if line and not line.startswith("#")}


@pytest.fixture(scope="session")
def colab_venv(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """The python of a venv holding Colab's versions of the notebook packages and this environment's torch, and
    {name: version} of the packages whose versions are this environment's (this torch needs them newer)."""
    root = tmp_path_factory.mktemp("colab-replay")
    colab = _colab_versions()
    probe = _pip(Path(sys.executable), "download", "--no-deps", "--dest", str(root / "probe"),
                 f"tqdm=={colab['tqdm']}", check=False)
    if probe.returncode != 0:
        pytest.skip(f"the package index is unreachable (pip download tqdm=={colab['tqdm']} failed): "
                    f"{probe.stderr.strip().splitlines()[-1:]}")
    torch_stack, torch_needs = _closure(FROM_THIS_ENV)
    pins = {n: v for n, v in colab.items() if not TORCH_STACK.match(n)}  # Colab's, less its torch stack
    for r in torch_needs:  # where this torch needs a newer package than Colab's torch did, this environment's
        name = _norm(r.name)
        if name in pins and not r.specifier.contains(pins[name], prereleases=True):
            pins[name] = importlib.metadata.version(r.name)
    constraints = root / "colab-constraints.txt"
    constraints.write_text("".join(f"{n}=={v}\n" for n, v in pins.items()))
    subprocess.run([sys.executable, "-m", "venv", str(root / "venv")], check=True, capture_output=True, timeout=300,
                   env=_env())
    python = root / "venv" / "bin" / "python"
    _pip(python, "install", "--quiet", "--constraint", str(constraints), *NOTEBOOK_PACKAGES)
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True, env=_env()).stdout.strip()
    has = set(_freeze(python))
    _show_from_this_env(root / "overlay", torch_stack - has)
    Path(site, "torch-from-the-test-environment.pth").write_text(f"{root / 'overlay'}\n")
    return python, {n: v for n, v in pins.items() if v != colab[n]}


REPLAY = """
import json, sys, types
google, colab, drive = (types.ModuleType(n) for n in ("google", "google.colab", "google.colab.drive"))
drive.mount, google.colab, colab.drive = (lambda path: None), colab, drive
sys.modules.update({{"google": google, "google.colab": colab, "google.colab.drive": drive}})
import IPython, ipykernel, ipywidgets, numpy, traitlets  # imported in a Colab kernel before cell 1 runs
from IPython.core.interactiveshell import InteractiveShell
shell = InteractiveShell.instance()
result = shell.run_cell({source!r} + "\\nAFTER_THE_SETUP = True")
print("@@" + json.dumps({{"error": repr(result.error_in_exec) if result.error_in_exec else None,
                          "after": shell.user_ns.get("AFTER_THE_SETUP", False)}}))
"""


def _course_on_drive(drive: Path) -> Path:
    """The stand-in Drive course folder: what `pip install COURSE_DIR` reads of this repository."""
    drive.mkdir(parents=True)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, drive / name)
    shutil.copytree(REPO / "ganlib", drive / "ganlib", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return drive


@pytest.mark.slow
def test_the_setup_cell_installs_ganlib_and_keeps_every_package_colab_has(colab_venv, tmp_path):
    colab_python, newer = colab_venv
    # a newer torch than Colab's may need newer helpers (torch 2.14: setuptools>=77.0.3, Colab has 75.2.0), not these
    assert not set(newer) & set(NOTEBOOK_PACKAGES) - {"setuptools"}, newer
    colab = {**_colab_versions(), **newer}
    before = _freeze(colab_python)
    for name in NOTEBOOK_PACKAGES:  # the replay holds Colab's versions
        assert before[name] == f"{before[name].split('==')[0]}=={colab[name]}", before[name]
    assert "ganlib" not in before and before["torch"].startswith("torch==")

    drive = _course_on_drive(tmp_path / "drive" / "gan-course")
    source = setup_cell_source(colab_settings(REPO))
    assert COURSE_DIR_LINE in source
    program = REPLAY.format(source=source.replace(COURSE_DIR_LINE, f"COURSE_DIR = {str(drive)!r}"))
    done = subprocess.run([str(colab_python), "-c", program], capture_output=True, text=True, timeout=900,
                          cwd=tmp_path, env=_env())
    assert done.returncode == 0, done.stderr
    printed, marker = done.stdout.rsplit("@@", 1)
    result = json.loads(marker)
    assert result == {"error": None, "after": True}, printed + done.stderr
    assert "pip changed" not in printed and "Restart" not in printed and "ERROR" not in done.stderr

    after = _freeze(colab_python)
    changed = {name: (line, after.get(name, "removed")) for name, line in before.items() if after.get(name) != line}
    assert changed == {}, f"the setup cell changed Colab's packages: {changed}\n{printed}{done.stderr}"
    added = set(after) - set(before)
    assert added == {"ganlib", "torch-fidelity"}, added  # ganlib, and the one package it needs that Colab lacks

    # and ganlib works with Colab's ipywidgets: the slider figure of notebooks 01 and 03
    check = subprocess.run([str(colab_python), "-c", (
        "import ipywidgets, matplotlib; matplotlib.use('Agg'); import matplotlib.pyplot as plt\n"
        "from ganlib import viz\n"
        "box = viz.slider_figure(lambda t: plt.figure(), t=ipywidgets.FloatSlider(value=0.5, min=0, max=1))\n"
        "box.children[0].children[0].value = 0.25\n"
        "print(ipywidgets.__version__, type(box).__name__, len(box.children[1].value) > 0)")],
        capture_output=True, text=True, timeout=300, cwd=tmp_path, env=_env())
    assert check.returncode == 0, check.stderr
    assert check.stdout.split() == [colab["ipywidgets"], "VBox", "True"]
