"""Tests of the Colab side of ``course build``: the setup cell, the badges and the README's course map.

Everything comes from one place, ``[tool.ganlib.colab]`` in pyproject.toml. The setup cell is run in a
subprocess as on a laptop (it must install nothing); tests/course/test_colab_install.py runs it in a simulated
Colab session, with each source it can install from.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from ganlib.course.notebooks import (
    BADGE_SVG, ColabSettings, build, colab_settings, main_build, setup_cell_source, sync_course_map, with_colab,
)

REPO = Path(__file__).resolve().parents[2]
SOLUTIONS = sorted((REPO / "solutions").glob("*.ipynb"))
COLAB = colab_settings(REPO)
BADGE = re.compile(r"\[!\[Open in Colab\]\(" + re.escape(BADGE_SVG) + r"\)\]\(([^)]+)\)")


def _notebooks():
    for path in SOLUTIONS:
        yield path, nbformat.read(path, as_version=4)
        student = REPO / "notebooks" / path.name
        yield student, nbformat.read(student, as_version=4)


# --------------------------------------------------------------------------- the real course


def test_pinned_place_is_read():
    assert COLAB is not None, "pyproject.toml needs a [tool.ganlib.colab] table"
    assert COLAB.repository.startswith("https://github.com/") and COLAB.ref
    assert COLAB.requirement == f"ganlib @ git+https://github.com/{COLAB.slug}@{COLAB.ref}"


def test_setup_cell_is_identical_everywhere_and_comes_from_pyproject():
    expected = setup_cell_source(COLAB)
    # the shipped placeholder repository does not exist: the cell must not try it
    assert (COLAB.requirement in expected) != COLAB.is_placeholder and COLAB.drive_runs in expected
    for path, nb in _notebooks():
        cell = nb.cells[1]
        assert cell.cell_type == "code" and cell.source == expected, f"{path}: cell 1 is not the setup cell"
        assert "parameters" in nb.cells[2].metadata.get("tags", []), f"{path}: cell 2 must stay the parameters cell"


def test_title_badge_opens_the_student_notebook_at_the_pinned_ref():
    for path, nb in _notebooks():
        urls = BADGE.findall(nb.cells[0].source)
        assert urls == [f"https://colab.research.google.com/github/{COLAB.slug}/blob/{COLAB.ref}/notebooks/{path.name}"], path
        assert nb.cells[0].source.splitlines()[0].startswith("# ")  # the title stays first
        assert (REPO / "notebooks" / path.name).is_file()


def test_readme_course_map_has_one_badge_per_notebook():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    start, end = readme.index("<!-- course-map:start -->"), readme.index("<!-- course-map:end -->")
    table = readme[start:end]
    urls = BADGE.findall(table)
    assert len(urls) == len(SOLUTIONS)
    for path in SOLUTIONS:
        number = re.match(r"\d+[a-z]?", path.name).group(0)  # "06", or "08a" for a notebook in parts
        row = next(line for line in table.splitlines() if line.startswith(f"| {number} |"))
        assert BADGE.findall(row) == [COLAB.notebook_url(path.name)]
        assert f"](notebooks/{path.name})" in row
    assert len(BADGE.findall(readme)) == len(SOLUTIONS)  # no stray badges outside the map


SPY = """
import os, subprocess, sys
calls = []
def spy(*args, **kwargs):
    calls.append([str(a) for a in (args[0] if args else kwargs.get("args"))])
    return subprocess.CompletedProcess(args, 0)
for name in ("run", "call", "check_call", "check_output", "Popen"):
    setattr(subprocess, name, spy)
os.system = lambda command: calls.append(["os.system", command]) or 0
"""


def _run_setup(prelude: str, tmp: Path | None = None) -> dict:
    """Execute the setup cell in a fresh interpreter after ``prelude`` (with TMPDIR at ``tmp``); return what it did."""
    program = "\n".join([SPY, prelude, f"exec(compile({setup_cell_source(COLAB)!r}, 'setup', 'exec'))", textwrap.dedent("""
        import json
        print(json.dumps({"in_colab": IN_COLAB, "calls": calls, "mounted": mounted if "mounted" in dir() else None,
                          "runs": os.environ.get("GANLIB_RUNS"), "colab_loaded": "google.colab" in sys.modules}))
    """)])
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=60,
                            env={"PATH": "/usr/bin:/bin", **({"TMPDIR": str(tmp)} if tmp else {})})
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_setup_cell_installs_nothing_outside_colab(tmp_path):
    done = _run_setup("", tmp_path)
    assert done == {"in_colab": False, "calls": [], "mounted": None, "runs": None, "colab_loaded": False}
    assert list(tmp_path.iterdir()) == []  # not even the constraints file is written


@pytest.mark.parametrize("colab", [ColabSettings("https://github.com/REPLACE-WITH-OWNER/gan-course", "v0.1.0"),
                                   ColabSettings("https://github.com/someone/gan-course", "v1.2", "/content/x/runs")])
def test_setup_cell_is_plain_python_that_never_upgrades_on_its_own(colab):
    source = setup_cell_source(colab)  # a str.format template: every literal brace is doubled
    compile(source, "setup", "exec")
    assert "{{" not in source and "}}" not in source and colab.drive_runs in source
    assert "--upgrade" not in source and " -U" not in source and "--force-reinstall" not in source
    assert '"--constraint", pins' in source  # Colab's packages are pinned; tests/course/test_colab_replay.py checks it


# --------------------------------------------------------------------------- a course in a temporary folder

PYPROJECT = '[project]\nname = "x"\n\n[tool.ganlib.colab]\nrepository = "https://github.com/someone/gan-course"\nref = "{ref}"\n'
README = """# Course

<!-- course-map:start -->

| # | notebook | topic |
|---|---|---|
| 01 | [`01_a`](notebooks/01_a.ipynb) | first \\| with a pipe |
| 02 | `02_b` | second |
| 03 | `03_planned` | not written yet |

<!-- course-map:end -->

Text after the map.
"""


def _notebook(title: str) -> nbformat.NotebookNode:
    nb = new_notebook(cells=[
        new_markdown_cell(f"# {title}\n\nWhat you will do."),
        new_code_cell('# old setup\nimport sys\n\nIN_COLAB = "google.colab" in sys.modules'),
        new_code_cell('PROFILE = "auto"', metadata={"tags": ["parameters"]}),
    ])
    for i, cell in enumerate(nb.cells):
        cell.id = f"cell-{i}"
    return nb


def _course(tmp_path: Path, ref: str = "v1.0") -> Path:
    (tmp_path / "solutions").mkdir()
    for name in ("01_a", "02_b"):
        nbformat.write(_notebook(f"{name[:2]} · {name}"), tmp_path / "solutions" / f"{name}.ipynb")
    (tmp_path / "pyproject.toml").write_text(PYPROJECT.format(ref=ref))
    (tmp_path / "README.md").write_text(README)
    return tmp_path


def test_build_writes_setup_cell_badges_and_map(tmp_path):
    root = _course(tmp_path)
    colab = colab_settings(root)
    written = build(root)
    assert {Path(p).name for p in written} == {"01_a.ipynb", "02_b.ipynb", "README.md"}
    for folder in ("solutions", "notebooks"):
        nb = nbformat.read(root / folder / "02_b.ipynb", as_version=4)
        assert nb.cells[1].source == setup_cell_source(colab)
        assert nb.cells[0].source == (f"# 02 · 02_b\n\n{colab.badge('02_b.ipynb')}\n\nWhat you will do.")
        assert "github/someone/gan-course/blob/v1.0/notebooks/02_b.ipynb" in nb.cells[0].source
    readme = (root / "README.md").read_text()
    assert f"| 02 | [`02_b`](notebooks/02_b.ipynb) {colab.badge('02_b.ipynb')} | second |" in readme
    assert "| first \\| with a pipe |" in readme  # other cells untouched, escaped pipes too
    assert "| 03 | `03_planned` | not written yet |" in readme  # a planned row keeps no badge
    assert readme.endswith("Text after the map.\n")
    assert build(root, check=True) == []
    assert main_build(root, check=True) == 0


def test_build_is_idempotent(tmp_path):
    root = _course(tmp_path)
    build(root)
    before = {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}
    written = build(root)
    assert {Path(p).parent.name for p in written} == {"notebooks"}  # solutions and README already up to date
    assert {p: p.read_bytes() for p in root.rglob("*") if p.is_file()} == before


def test_check_fails_when_the_pinned_ref_changes(tmp_path, capsys):
    root = _course(tmp_path)
    build(root)
    (root / "pyproject.toml").write_text(PYPROJECT.format(ref="v2.0"))
    problems = build(root, check=True)
    assert any("solutions/01_a.ipynb: the Colab setup cell or badge" in p for p in problems)
    assert any("notebooks/02_b.ipynb differs" in p for p in problems)
    assert any("README.md: the course map's Colab badges" in p for p in problems)
    assert main_build(root, check=True) == 1
    assert "out of date" in capsys.readouterr().err
    build(root)
    assert build(root, check=True) == []
    assert "blob/v2.0/notebooks/01_a.ipynb" in (root / "README.md").read_text()


def test_check_fails_on_a_hand_edited_setup_cell_or_badge(tmp_path):
    root = _course(tmp_path)
    build(root)
    path = root / "solutions" / "01_a.ipynb"
    nb = nbformat.read(path, as_version=4)
    nb.cells[1].source += "\n!pip install something"
    nbformat.write(nb, path)
    assert any("01_a.ipynb: the Colab setup cell" in p for p in build(root, check=True))
    build(root)
    readme = root / "README.md"
    readme.write_text(readme.read_text().replace("blob/v1.0/notebooks/02_b", "blob/main/notebooks/02_b"))
    assert any("README.md" in p for p in build(root, check=True))


def test_a_notebook_without_a_map_row_is_reported(tmp_path, capsys):
    root = _course(tmp_path)
    nbformat.write(_notebook("04 · new"), root / "solutions" / "04_new.ipynb")
    build(root)
    assert "course map has no row for 04_new.ipynb" in capsys.readouterr().err
    assert any("no row for 04_new.ipynb" in p for p in build(root, check=True))


def test_sync_course_map_without_markers_changes_nothing():
    colab = ColabSettings("https://github.com/a/b", "v1")
    text = "| 01 | x |\n"
    assert sync_course_map(text, ["01_x.ipynb"], colab) == (text, [
        "README.md has no course map between <!-- course-map:start --> and <!-- course-map:end -->"])


def test_with_colab_replaces_an_old_badge_and_leaves_the_input_alone():
    colab = ColabSettings("https://github.com/a/b.git", "abc123")
    nb = _notebook("01 · x")
    nb.cells[0].source = "# 01 · x\n[![Open in Colab](" + BADGE_SVG + ")](https://old)\n\nBody"
    before = nbformat.from_dict(nb)
    fixed = with_colab(nb, "01_x.ipynb", colab)
    assert nb == before
    assert fixed.cells[0].source == f"# 01 · x\n\n{colab.badge('01_x.ipynb')}\n\nBody"
    assert colab.slug == "a/b"
    assert with_colab(fixed, "01_x.ipynb", colab) == fixed


@pytest.mark.parametrize("cells,match", [
    ([new_code_cell("x = 1"), new_code_cell("IN_COLAB = False")], "cell 0 must be the markdown title"),
    ([new_markdown_cell("# T"), new_code_cell("PROFILE = 1")], "cell 1 must be the setup cell"),
])
def test_with_colab_rejects_notebooks_without_title_or_setup_cell(cells, match):
    with pytest.raises(ValueError, match=match):
        with_colab(new_notebook(cells=cells), "01_x.ipynb", ColabSettings("https://github.com/a/b", "v1"))


@pytest.mark.parametrize("table,match", [
    ('repository = "https://gitlab.com/a/b"\nref = "v1"', "repository must look like"),
    ('repository = "https://github.com/a/b"\nref = "v1; rm -rf /"', "ref must be"),
    ('repository = "https://github.com/a/b"', "ref must be"),
])
def test_colab_settings_are_validated(tmp_path, table, match):
    (tmp_path / "pyproject.toml").write_text(f"[tool.ganlib.colab]\n{table}\n")
    with pytest.raises(ValueError, match=match):
        colab_settings(tmp_path)


def test_no_colab_table_means_no_colab_cells(tmp_path):
    assert colab_settings(tmp_path) is None  # no pyproject.toml
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n')
    assert colab_settings(tmp_path) is None
