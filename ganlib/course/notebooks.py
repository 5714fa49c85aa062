"""Course tooling: student notebooks built from the solutions, and exercises loaded for grading.

``solutions/`` is the source of truth. ``build`` turns each solution notebook into its student
version in ``notebooks/``:

- in a cell tagged ``exercise``, the lines between ``### BEGIN SOLUTION`` and ``### END SOLUTION``
  become ``raise NotImplementedError(...)`` naming the exercise, at the same indentation;
- lines between ``### BEGIN HIDDEN`` and ``### END HIDDEN``, and whole cells tagged
  ``solution-only``, are removed;
- outputs and execution counts are cleared, except in golden cells marked ``# NBVAL_CHECK_OUTPUT``.

The output is a pure function of the solution file, so ``build --check`` can fail CI whenever the
committed student notebooks drift from the solutions.

Where ``pyproject.toml`` has a ``[tool.ganlib.colab]`` table (the repository's URL and the ref that
Colab installs), ``build`` also writes, from that one place, the Colab setup cell (cell 1) and an
"Open in Colab" badge under the title of every solution notebook, and the badges of the README's
course map; ``build --check`` fails when any of them drift.

Nothing else in ganlib imports this module; only the CLI and the tests do.
"""

from __future__ import annotations

import re
import sys
import types
from dataclasses import dataclass
from pathlib import Path

import nbformat

__all__ = [
    "BEGIN_SOLUTION", "END_SOLUTION", "Exercise", "student_notebook", "build", "main_build",
    "exercise_cells", "load_exercises", "ColabSettings", "colab_settings", "setup_cell_source",
    "with_colab", "sync_course_map", "set_colab_source",
]

BEGIN_SOLUTION, END_SOLUTION = "### BEGIN SOLUTION", "### END SOLUTION"
BEGIN_HIDDEN, END_HIDDEN = "### BEGIN HIDDEN", "### END HIDDEN"
GOLDEN = "# NBVAL_CHECK_OUTPUT"
EXERCISE_TAG, SOLUTION_ONLY_TAG = "exercise", "solution-only"
_DEF = re.compile(r"^\s*def\s+(\w+)\s*\(")


@dataclass(frozen=True)
class Exercise:
    """One exercise found in a solution notebook: its number and the function the student writes."""

    number: int  # 1-based, in notebook order
    function: str  # the function whose body the student writes


def _tags(cell) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def _strip_hidden(lines: list[str], where: str) -> list[str]:
    out, hidden = [], False
    for line in lines:
        marker = line.strip()
        if marker == BEGIN_HIDDEN:
            if hidden:
                raise ValueError(f"{where}: nested {BEGIN_HIDDEN}")
            hidden = True
        elif marker == END_HIDDEN:
            if not hidden:
                raise ValueError(f"{where}: {END_HIDDEN} without {BEGIN_HIDDEN}")
            hidden = False
        elif not hidden:
            out.append(line)
    if hidden:
        raise ValueError(f"{where}: {BEGIN_HIDDEN} is never closed")
    return out


def _blank_solutions(lines: list[str], where: str, notebook: str, counter: list[int]) -> tuple[list[str], list[Exercise]]:
    out, exercises, function, inside = [], [], None, False
    for line in lines:
        marker = line.strip()
        if marker == BEGIN_SOLUTION:
            if inside:
                raise ValueError(f"{where}: nested {BEGIN_SOLUTION}")
            if function is None:
                raise ValueError(f"{where}: {BEGIN_SOLUTION} must sit inside a function (def ...)")
            inside = True
            counter[0] += 1
            exercises.append(Exercise(counter[0], function))
            indent = line[: len(line) - len(line.lstrip())]
            out.append(f'{indent}raise NotImplementedError("Exercise {notebook}.{counter[0]} ({function}): '
                       f'replace this line with your code")')
        elif marker == END_SOLUTION:
            if not inside:
                raise ValueError(f"{where}: {END_SOLUTION} without {BEGIN_SOLUTION}")
            inside = False
        elif not inside:
            match = _DEF.match(line)
            if match:
                function = match.group(1)
            out.append(line)
    if inside:
        raise ValueError(f"{where}: {BEGIN_SOLUTION} is never closed")
    return out, exercises


def student_notebook(solution: nbformat.NotebookNode, name: str = "notebook") -> tuple[nbformat.NotebookNode, list[Exercise]]:
    """Return the student version of a solution notebook and the exercises it contains.

    Args:
        solution: the solution notebook (not modified).
        name: used in error messages and exercise labels; a leading number such as ``01`` in it
            becomes the notebook number of the labels (``Exercise 1.2``).

    Raises:
        ValueError: unbalanced markers, or a solution region outside a function or outside a cell
            tagged ``exercise``.
    """
    number = re.match(r"0*(\d+[a-z]?)", name)  # "08a_..." -> "8a": Exercise 8a.1
    label = number.group(1) if number else name
    student = nbformat.from_dict(solution)
    cells, exercises, counter = [], [], [0]
    for index, cell in enumerate(student.cells):
        if SOLUTION_ONLY_TAG in _tags(cell):
            continue
        where = f"{name}, cell {index}"
        lines = _strip_hidden(cell.source.splitlines(), where)
        if cell.cell_type == "code":
            if EXERCISE_TAG in _tags(cell):
                lines, found = _blank_solutions(lines, where, label, counter)
                exercises += found
            elif any(line.strip() in (BEGIN_SOLUTION, END_SOLUTION) for line in lines):
                raise ValueError(f"{where}: solution markers in a cell not tagged '{EXERCISE_TAG}'")
            if GOLDEN not in cell.source:
                cell.outputs = []
                cell.execution_count = None
        cell.source = "\n".join(lines)
        cells.append(cell)
    student.cells = cells
    student.metadata.pop("widgets", None)
    return student, exercises


# ---------------------------------------------------------------------------------------------
# Colab: the setup cell and the "Open in Colab" badges, from [tool.ganlib.colab] in pyproject.toml
# ---------------------------------------------------------------------------------------------

PLACEHOLDER_OWNER = "REPLACE-WITH-OWNER"  # in the shipped pyproject.toml until maintainers set the real URL
BADGE_SVG = "https://colab.research.google.com/assets/colab-badge.svg"
MAP_START, MAP_END = "<!-- course-map:start -->", "<!-- course-map:end -->"
_GITHUB = re.compile(r"^https://github\.com/([\w.-]+)/([\w.-]+?)(?:\.git)?/?$")

# Cell 1 of every notebook. It must stay plain Python (no %pip), so a test can execute it outside
# Colab and see that it installs nothing, and in a simulated Colab and see what it installs.
SETUP_TEMPLATE = """\
# Setup. In Colab it mounts Google Drive (checkpoints survive a disconnect; USE_DRIVE = False skips it) and installs
# ganlib from: the course folder on Drive (COURSE_DIR), the course's repository, a wheel in COURSE_DIR. Else nothing.
# Colab's packages keep their versions (a pip constraints file pins them all); pip's messages show below the cell.
import glob, importlib.metadata as md, os, subprocess, sys, tempfile

IN_COLAB = "google.colab" in sys.modules
USE_DRIVE = True
COURSE_DIR = "/content/drive/MyDrive/gan-course"  # a checkout or copy of the course, or its zip unzipped
if IN_COLAB:
    if USE_DRIVE:
        from google.colab import drive
        drive.mount("/content/drive")
        os.environ["GANLIB_RUNS"] = "{drive_runs}"  # config.run_dir's folder
    sources = [COURSE_DIR] * os.path.isfile(f"{{COURSE_DIR}}/pyproject.toml") + {repository_sources}
    sources += sorted(glob.glob(f"{{COURSE_DIR}}/**/ganlib-*.whl", recursive=True))[-1:]  # the newest wheel
    Stop = type("SetupStopped", (Exception,), {{"_render_traceback_": lambda self: []}})  # stops, no traceback
    norm = lambda name: (name or "").lower().replace("_", "-").replace(".", "-")  # noqa: E731 (pip's spelling)
    versions = lambda: {{norm(d.metadata["Name"]): d.version for d in reversed(list(md.distributions()))}}  # noqa: E731
    before, pins = versions(), os.path.join(tempfile.mkdtemp(), "colab-packages.txt")
    with open(pins, "w") as f:  # the first copy on sys.path of each installed distribution: the one imported
        f.writelines(f"{{n}}=={{v}}\\n" for n, v in before.items() if n not in ("", "ganlib"))

    def install(*options):  # the first source pip installs, or None; pip's messages are printed
        for source in sources:
            done = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                                   "--root-user-action=ignore", *options, source], capture_output=True, text=True)
            print(done.stdout, end="")
            print(done.stderr, end="", file=sys.stderr)
            if done.returncode == 0:
                return source

    installed_from = install("--constraint", pins)
    if sources and not installed_from:  # ganlib needs other versions of some of Colab's packages
        print("Installing ganlib with the versions of Colab's packages that it needs instead.")
        installed_from = install()
    if not installed_from:
        print("ganlib could not be installed. Three ways, then run this cell again: (1) copy the course folder (with "
              "pyproject.toml) to COURSE_DIR on Drive; (2) unzip the instructor's zip (python -m ganlib course pack) "
              "into My Drive, so that COURSE_DIR holds its wheels/ folder; (3) ask for the course's public repository "
              "(python -m ganlib course build --repository URL --ref REF). Ways 1 and 2 need USE_DRIVE = True.")
        raise Stop()
    after, owners = versions(), md.packages_distributions()  # owners: {{module: [distributions]}}
    changed = sorted(n for n in before if after.get(n) != before[n])
    stale = sorted({{norm(d) for m in list(sys.modules) for d in owners.get(m.partition(".")[0], [])}} & set(changed))
    if changed:
        print("pip changed Colab's packages:", ", ".join(f"{{n}} {{before[n]}} -> {{after.get(n, '-')}}" for n in changed))
    if stale:  # this session imported the old version: only a new session imports the new one
        print(f"Restart the session (Runtime > Restart session), then run this cell again: {{', '.join(stale)}} "
              "changed after this session had imported it.")
        raise Stop()"""


@dataclass(frozen=True)
class ColabSettings:
    """Where Colab installs the course from: ``[tool.ganlib.colab]`` in pyproject.toml."""

    repository: str  # https://github.com/OWNER/REPO
    ref: str  # the tag or commit that Colab installs and the badges open
    drive_runs: str = "/content/drive/MyDrive/gan-course/runs"  # GANLIB_RUNS in Colab

    @property
    def slug(self) -> str:
        """``OWNER/REPO``."""
        owner, repo = _GITHUB.match(self.repository).groups()
        return f"{owner}/{repo}"

    @property
    def requirement(self) -> str:
        """The pip requirement that installs ganlib at the pinned ref."""
        return f"ganlib @ git+https://github.com/{self.slug}@{self.ref}"

    @property
    def is_placeholder(self) -> bool:
        """True while the repository is the shipped placeholder, which does not exist."""
        return PLACEHOLDER_OWNER in self.repository

    def notebook_url(self, filename: str) -> str:
        """Colab's URL of the student notebook ``notebooks/filename`` at the pinned ref."""
        return f"https://colab.research.google.com/github/{self.slug}/blob/{self.ref}/notebooks/{filename}"

    def badge(self, filename: str) -> str:
        """The markdown "Open in Colab" badge of ``notebooks/filename``."""
        return f"[![Open in Colab]({BADGE_SVG})]({self.notebook_url(filename)})"


def colab_settings(root: str | Path = ".") -> ColabSettings | None:
    """Read ``[tool.ganlib.colab]`` from ``root/pyproject.toml``; None when there is no such table.

    Raises:
        ValueError: ``repository`` is not a ``https://github.com/OWNER/REPO`` URL, or ``ref`` is
            missing or not a plain git ref.
    """
    path = Path(root) / "pyproject.toml"
    if not path.is_file():
        return None
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    table = tomllib.loads(path.read_text(encoding="utf-8")).get("tool", {}).get("ganlib", {}).get("colab")
    if table is None:
        return None
    repository, ref = str(table.get("repository", "")), str(table.get("ref", ""))
    if not _GITHUB.match(repository):
        raise ValueError(f"{path}: [tool.ganlib.colab] repository must look like https://github.com/OWNER/REPO, "
                         f"got {repository!r}")
    if not re.fullmatch(r"[\w./-]+", ref) or ".." in ref:
        raise ValueError(f"{path}: [tool.ganlib.colab] ref must be a tag, branch or commit, got {ref!r}")
    drive_runs = str(table.get("drive_runs", ColabSettings.drive_runs))
    return ColabSettings(repository, ref, drive_runs)


def setup_cell_source(colab: ColabSettings) -> str:
    """The source of cell 1, the same in every notebook. The repository is one of its sources only once
    ``[tool.ganlib.colab]`` names a real one (not the shipped placeholder)."""
    sources = "[]  # no public repository yet" if colab.is_placeholder else repr([colab.requirement])
    return SETUP_TEMPLATE.format(repository_sources=sources, drive_runs=colab.drive_runs)


def _with_badge(markdown: str, badge: str) -> str:
    """The title line, the badge, then the rest; an older badge anywhere in the cell is dropped."""
    lines = [line for line in markdown.splitlines() if BADGE_SVG not in line]
    rest = lines[1:]
    while rest and not rest[0].strip():
        rest.pop(0)
    return "\n".join([lines[0], "", badge] + (["", *rest] if rest else []))


def with_colab(solution: nbformat.NotebookNode, filename: str, colab: ColabSettings) -> nbformat.NotebookNode:
    """A copy of ``solution`` whose cell 1 is the setup cell and whose title cell carries the badge.

    Args:
        solution: a solution notebook (not modified): cell 0 a markdown title ``# NN · Title``,
            cell 1 a code cell defining ``IN_COLAB``.
        filename: the notebook's file name (``NN_name.ipynb``), which the badge opens.
        colab: where Colab installs from.

    Raises:
        ValueError: cell 0 or cell 1 is not what the course's notebook conventions say.
    """
    nb = nbformat.from_dict(solution)
    if len(nb.cells) < 2 or nb.cells[0].cell_type != "markdown" or not nb.cells[0].source.startswith("# "):
        raise ValueError(f"{filename}: cell 0 must be the markdown title cell, starting with '# '")
    if nb.cells[1].cell_type != "code" or "IN_COLAB" not in nb.cells[1].source:
        raise ValueError(f"{filename}: cell 1 must be the setup cell (a code cell that defines IN_COLAB)")
    nb.cells[0].source = _with_badge(nb.cells[0].source, colab.badge(filename))
    nb.cells[1].source = setup_cell_source(colab)
    return nb


def _split_row(line: str) -> list[str]:
    return re.split(r"(?<!\\)\|", line)  # a table row's cells; an escaped \| stays inside its cell


def sync_course_map(readme: str, filenames: list[str], colab: ColabSettings) -> tuple[str, list[str]]:
    """Put a link and a Colab badge in the notebook column of the README's course map.

    Only the table between ``<!-- course-map:start -->`` and ``<!-- course-map:end -->`` is read,
    and in it only the second cell of each row whose first cell is the number of a notebook in
    ``filenames``; rows of planned notebooks (no file yet) and every other cell stay as they are.

    Returns:
        The new README text and a list of problems (missing markers, a notebook without a row).
    """
    if MAP_START not in readme or MAP_END not in readme:
        return readme, [f"README.md has no course map between {MAP_START} and {MAP_END}"]
    head, rest = readme.split(MAP_START, 1)
    table, tail = rest.split(MAP_END, 1)
    by_number = {re.match(r"\d+[a-z]?", name).group(): name for name in filenames if re.match(r"\d+", name)}
    lines, seen = table.split("\n"), set()
    for i, line in enumerate(lines):
        cells = _split_row(line)
        number = cells[1].strip() if len(cells) > 3 else None
        if number in by_number:
            name = by_number[number]
            cells[2] = f" [`{Path(name).stem}`](notebooks/{name}) {colab.badge(name)} "
            lines[i] = "|".join(cells)
            seen.add(number)
    problems = [f"README.md course map has no row for {by_number[n]}" for n in sorted(set(by_number) - seen)]
    return head + MAP_START + "\n".join(lines) + MAP_END + tail, problems


def _render(nb: nbformat.NotebookNode) -> str:
    return nbformat.writes(nb, version=4) + "\n"


def build(root: str | Path = ".", check: bool = False) -> list[str]:
    """Build ``notebooks/`` from ``solutions/`` under ``root``, and the Colab cells and badges.

    With a ``[tool.ganlib.colab]`` table in ``root/pyproject.toml``, each solution notebook first
    gets the setup cell and the title badge (:func:`with_colab`; the file is rewritten only when
    they change) and the README's course map its badges (:func:`sync_course_map`).

    Args:
        root: the course repository.
        check: compare instead of writing.

    Returns:
        With ``check``, a list of problems (empty when everything matches); otherwise the list of
        files written.
    """
    root = Path(root)
    src, dst = root / "solutions", root / "notebooks"
    solutions = sorted(src.glob("*.ipynb"))
    if not solutions:
        raise ValueError(f"no solution notebooks found in {src}; run from the course repository root or pass --root")
    colab = colab_settings(root)
    problems, written = [], []
    for path in solutions:
        nb = nbformat.read(path, as_version=4)
        if colab is not None:
            fixed = with_colab(nb, path.name, colab)
            if [c.source for c in fixed.cells[:2]] != [c.source for c in nb.cells[:2]]:
                if check:
                    problems.append(f"{path}: the Colab setup cell or badge differs from [tool.ganlib.colab]")
                else:
                    nbformat.write(fixed, path)
                    written.append(str(path))
            nb = fixed
        student, _ = student_notebook(nb, path.stem)
        text = _render(student)
        target = dst / path.name
        if check:
            if not target.exists():
                problems.append(f"{target} is missing")
            elif target.read_text(encoding="utf-8") != text:
                problems.append(f"{target} differs from the build of {path}")
        else:
            dst.mkdir(exist_ok=True)
            target.write_text(text, encoding="utf-8")
            written.append(str(target))
    extra = {p.name for p in dst.glob("*.ipynb")} - {p.name for p in solutions}
    problems += [f"{dst / name} has no solution in {src}" for name in sorted(extra)]
    readme = root / "README.md"
    if colab is not None and readme.is_file():
        before = readme.read_text(encoding="utf-8")
        after, map_problems = sync_course_map(before, [p.name for p in solutions], colab)
        problems += map_problems
        if after != before:
            if check:
                problems.append(f"{readme}: the course map's Colab badges differ from [tool.ganlib.colab]")
            else:
                readme.write_text(after, encoding="utf-8")
                written.append(str(readme))
    if not check:
        for problem in problems:
            print(f"warning: {problem}", file=sys.stderr)
        if colab is not None and PLACEHOLDER_OWNER in colab.repository:
            print(f"note: [tool.ganlib.colab] repository is still the placeholder {colab.repository}; "
                  "set the public URL in pyproject.toml and rerun the build", file=sys.stderr)
    return problems if check else written


def set_colab_source(root: str | Path, repository: str, ref: str) -> None:
    """Set ``repository`` and ``ref`` in ``[tool.ganlib.colab]`` of ``root/pyproject.toml``, keeping the rest of the file.

    Raises:
        ValueError: a URL that is not ``https://github.com/OWNER/REPO``, a ref that is not a plain git ref, or a
            pyproject.toml without the table; the file is then left as it was.
    """
    if not _GITHUB.match(repository):
        raise ValueError(f"--repository must look like https://github.com/OWNER/REPO, got {repository!r}; "
                         "nothing was changed")
    if not re.fullmatch(r"[\w./-]+", ref) or ".." in ref:
        raise ValueError(f"--ref must be a tag, branch or commit (e.g. v0.1.0), got {ref!r}; nothing was changed")
    path = Path(root) / "pyproject.toml"
    text = path.read_text(encoding="utf-8") if path.is_file() else ""
    header = re.search(r"^\[tool\.ganlib\.colab\]\s*$", text, flags=re.M)
    if header is None:
        raise ValueError(f"{path} has no [tool.ganlib.colab] table; add one (see the README's instructor guide)")
    end = re.search(r"^\[", text[header.end():], flags=re.M)
    stop = header.end() + (end.start() if end else len(text) - header.end())
    table = text[header.end():stop]
    for key, value in (("repository", repository), ("ref", ref)):
        line = f'{key} = "{value}"'
        table, found = re.subn(rf"^{key}\s*=.*$", line, table, count=1, flags=re.M)
        if not found:
            table = f"\n{line}" + table
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text[:header.end()] + table + text[stop:], encoding="utf-8")
    tmp.replace(path)


def main_build(root: Path, check: bool = False, repository: str | None = None, ref: str | None = None) -> int:
    """The ``python -m ganlib course build [--check] [--repository URL --ref REF]`` command."""
    if repository is not None or ref is not None:
        if repository is None or ref is None:
            raise ValueError("--repository and --ref go together: the repository Colab installs from and the tag "
                             "or commit it opens")
        if check:
            raise ValueError("--check compares and changes nothing; run the build with --repository and --ref first")
        set_colab_source(root, repository, ref)
        print(f"[tool.ganlib.colab] now installs {colab_settings(root).requirement}")
    result = build(root, check=check)
    if check:
        if result:
            print("the course is out of date:", *result, sep="\n  ", file=sys.stderr)
            print("run `python -m ganlib course build` and commit solutions/, notebooks/ and README.md", file=sys.stderr)
            return 1
        print("notebooks/ matches solutions/")
        return 0
    print("wrote", *result, sep="\n  ")
    return 0


# ---------------------------------------------------------------------------------------------
# Loading a notebook's exercises, for grading
# ---------------------------------------------------------------------------------------------


def exercise_cells(path: str | Path) -> list[str]:
    """The source of every cell tagged ``exercise`` in a notebook, IPython magics removed."""
    nb = nbformat.read(Path(path), as_version=4)
    sources = []
    for cell in nb.cells:
        if cell.cell_type == "code" and EXERCISE_TAG in _tags(cell):
            lines = [ln for ln in cell.source.splitlines() if not ln.lstrip().startswith(("%", "!"))]
            sources.append("\n".join(lines))
    return sources


def load_exercises(path: str | Path) -> types.ModuleType:
    """Execute a notebook's exercise cells in a fresh module and return it.

    Exercise cells are self-contained (they import what they use), so this runs a student's
    functions without running the rest of the notebook. Errors propagate: a submission whose
    cells do not even define their functions fails loudly.
    """
    path = Path(path)
    module = types.ModuleType("exercises_" + re.sub(r"\W", "_", path.stem))
    module.__file__ = str(path)
    for index, source in enumerate(exercise_cells(path)):
        exec(compile(source, f"{path.name}[exercise {index + 1}]", "exec"), module.__dict__)
    return module
