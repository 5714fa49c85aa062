"""``python -m ganlib course pack``: one zip an instructor hands out (Google Drive, an LMS, a USB stick).

The zip holds one folder, ``gan-course/``::

    gan-course/START_HERE.md          how to open the notebooks in Colab and in JupyterLab
    gan-course/notebooks/*.ipynb      the student notebooks
    gan-course/wheels/ganlib-*.whl    the course package, built from this checkout
    gan-course/data/README.md         where the datasets come from

Unzipped into "My Drive", it is the default ``COURSE_DIR`` of every notebook's setup cell, which then installs
the wheel: no public repository is needed.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from ganlib.course.notebooks import build

__all__ = ["FOLDER", "START_HERE", "pack", "main_pack"]

FOLDER = "gan-course"  # the folder inside the zip, and the setup cell's default COURSE_DIR on Drive

START_HERE = """\
# Start here: the GAN course

This folder holds the course's notebooks (`notebooks/`) and its Python package, ganlib, as a wheel
(`wheels/{wheel}`). Nothing else is needed.

## In Google Colab

1. Upload this whole folder to your Google Drive, directly under "My Drive", so that it is
   `My Drive/{folder}` (or unzip the zip there).
2. In Drive, open `{folder}/notebooks/01_optimal_discriminator.ipynb` (right click, "Open with",
   "Google Colaboratory"). For the training notebooks choose a GPU: "Runtime", "Change runtime type".
3. Run the first cell. It asks to connect your Drive (allow it), then installs ganlib from
   `wheels/` and keeps training checkpoints in `My Drive/{folder}/runs`, so a disconnect loses nothing.
   If you put the folder elsewhere, set `COURSE_DIR` in that cell to its path under `/content/drive/MyDrive`.

## In JupyterLab on your own computer

With Python 3.10 or newer, in this folder:

```bash
python3 -m venv .venv && . .venv/bin/activate      # Windows: .venv\\Scripts\\activate
pip install wheels/{wheel} jupyterlab ipywidgets
jupyter lab notebooks/
```

The first cell of each notebook does nothing outside Colab. Each notebook runs in minutes on a laptop CPU
(its quick profile) and at full quality on a GPU.
"""


def _wheel(root: Path, folder: Path) -> Path:
    """Build ganlib's wheel from the checkout ``root`` into ``folder`` with pip.

    The build runs on a clean copy of what the package is made of (pyproject.toml, README.md, ganlib/), so no
    stale ``build/`` folder of the checkout can slip old files into the wheel, and without build isolation, so
    nothing is downloaded.
    """
    source = folder / "source"
    shutil.copytree(root / "ganlib", source / "ganlib", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(root / name, source / name)
    result = subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                             "--wheel-dir", str(folder), str(source)], capture_output=True, text=True)
    wheels = sorted(folder.glob("ganlib-*.whl"))
    if result.returncode != 0 or not wheels:
        tail = (result.stderr or result.stdout).strip().splitlines()[-3:]
        raise RuntimeError("could not build ganlib's wheel with pip (it needs setuptools>=70 in this environment: "
                           "pip install \"ganlib[course]\"): " + " / ".join(tail))
    return wheels[-1]


def pack(root: str | Path = ".", out: str | Path | None = None) -> Path:
    """Write the course zip for students and return its path.

    Args:
        root: the course repository (holding pyproject.toml, notebooks/ and solutions/).
        out: the zip to write (default ``ROOT/dist/gan-course.zip``).

    Raises:
        ValueError: the student notebooks are out of date with the solutions (run ``course build``),
            or ``root`` is not the course repository.
        RuntimeError: the wheel could not be built.
    """
    root = Path(root).resolve()
    if not (root / "pyproject.toml").is_file() or not (root / "notebooks").is_dir():
        raise ValueError(f"{root} is not the course repository (no pyproject.toml and notebooks/); pass --root")
    problems = build(root, check=True)
    if problems:
        raise ValueError("the student notebooks are out of date; run `python -m ganlib course build` first: "
                         + "; ".join(problems[:3]))
    out = Path(out) if out is not None else root / "dist" / f"{FOLDER}.zip"
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        wheel = _wheel(root, Path(tmp))
        partial = out.with_name(f".{out.name}.partial")
        with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as z:
            z.writestr(f"{FOLDER}/START_HERE.md", START_HERE.format(folder=FOLDER, wheel=wheel.name))
            for notebook in sorted((root / "notebooks").glob("*.ipynb")):
                z.write(notebook, f"{FOLDER}/notebooks/{notebook.name}")
            z.write(wheel, f"{FOLDER}/wheels/{wheel.name}")
            if (root / "data" / "README.md").is_file():
                z.write(root / "data" / "README.md", f"{FOLDER}/data/README.md")
        partial.replace(out)  # atomic: an interrupted pack leaves no half zip under the real name
    return out


def main_pack(root: Path, out: str | None) -> int:
    """The ``python -m ganlib course pack [--out ZIP]`` command."""
    try:
        path = pack(root, out)
    except RuntimeError as err:  # the wheel did not build: say why in one line
        print(f"error: {err}", file=sys.stderr)
        return 2
    with zipfile.ZipFile(path) as z:
        names = z.namelist()
    notebooks = sum(name.endswith(".ipynb") for name in names)
    print(f"wrote {path} ({path.stat().st_size / 2**20:.1f} MB): {notebooks} student notebooks, "
          f"{next(n.split('/')[-1] for n in names if n.endswith('.whl'))}, START_HERE.md, data/README.md")
    print(f"hand it out; students unzip it into My Drive (Colab) or anywhere (JupyterLab) and read {FOLDER}/START_HERE.md")
    return 0
