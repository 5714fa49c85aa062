"""Tests of ``python -m ganlib course grade``: naming rule, bad input, and one sandboxed batch.

The batch holds made-up submissions of notebook 02, each the solution with its exercise cells
edited: correct, partly wrong, crashing at import, crashing and looping inside functions, looping
at import, allocating without bound, printing 50 MB, one that tries to change files outside
its scratch folder and to load the instructor's solutions, one whose exercises do nothing, and one
whose exercises call ganlib's own answers (in 02 and in 04). It is graded once, by a real
subprocess, in a module fixture (about a minute on two idle cores); the tests read its CSV and JSON.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from ganlib.course import grade as grading
from ganlib.__main__ import main

ROOT = Path(__file__).resolve().parents[2]
SOLUTION = ROOT / "solutions" / "02_vanilla_gan.ipynb"
KNOWN = {"01": "01_optimal_discriminator", "02": "02_vanilla_gan"}
MAX = 24  # points of tests/grading/test_02_vanilla_gan.py
EX1 = 6  # discriminator_loss: points of its tests
EX2 = 7  # generator_losses
EX3 = 11  # alternating_step
MAX_04 = 43  # points of tests/grading/test_04_wgan_gp.py (one student of the batch submits notebook 04 too)


# ---------------------------------------------------------------------------------------------
# The naming rule
# ---------------------------------------------------------------------------------------------


def _touch(*paths: Path) -> None:
    for path in paths:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("{}")


def _found(paths, notebook=None):
    submissions, skipped = grading.find_submissions(paths, KNOWN, notebook)
    return ({(s.student, s.number, s.path.name) for s in submissions},
            {Path(s.path).name: s.error for s in skipped})


def test_student_is_the_subfolder_else_the_rest_of_the_stem_else_the_folder(tmp_path):
    batch = tmp_path / "batch"
    _touch(batch / "alice" / "02_vanilla_gan.ipynb", batch / "alice" / "01_optimal_discriminator.ipynb",
           batch / "02_vanilla_gan-bob.ipynb", batch / "carol_02.ipynb", batch / "02.ipynb",
           batch / ".ipynb_checkpoints" / "02_vanilla_gan-checkpoint.ipynb", batch / "notes.txt")
    found, skipped = _found([batch])
    assert found == {("alice", "02", "02_vanilla_gan.ipynb"), ("alice", "01", "01_optimal_discriminator.ipynb"),
                     ("bob", "02", "02_vanilla_gan-bob.ipynb"), ("carol", "02", "carol_02.ipynb"),
                     ("batch", "02", "02.ipynb")}
    assert skipped == {}


def test_one_students_folder_given_directly(tmp_path):
    _touch(tmp_path / "dave" / "01_optimal_discriminator.ipynb", tmp_path / "dave" / "02_vanilla_gan.ipynb")
    found, _ = _found([tmp_path / "dave"])
    assert found == {("dave", "01", "01_optimal_discriminator.ipynb"), ("dave", "02", "02_vanilla_gan.ipynb")}


def test_unclear_names_are_skipped_with_the_reason(tmp_path):
    _touch(tmp_path / "notes.ipynb", tmp_path / "eve_01_02.ipynb", tmp_path / "frank_07.ipynb",
           tmp_path / "hw02.ipynb", tmp_path / "gina" / "02_vanilla_gan.ipynb", tmp_path / "gina" / "gina_02.ipynb")
    found, skipped = _found([tmp_path, tmp_path / "missing.ipynb"])
    assert found == set()
    assert "cannot tell which notebook" in skipped["notes.ipynb"]
    assert "cannot tell which notebook" in skipped["hw02.ipynb"]  # a number glued to letters is not a notebook number
    assert "ambiguous" in skipped["eve_01_02.ipynb"]
    assert "notebook 07 has no grading tests" in skipped["frank_07.ipynb"]
    assert "has 2 files for notebook 02" in skipped["gina_02.ipynb"] and "02_vanilla_gan.ipynb" in skipped
    assert "not a notebook" in skipped["missing.ipynb"]


def test_notebook_option_applies_to_every_file(tmp_path):
    _touch(tmp_path / "henry.ipynb", tmp_path / "subs" / "ida" / "final.ipynb")
    found, skipped = _found([tmp_path / "henry.ipynb", tmp_path / "subs"], notebook="02")
    assert found == {("henry", "02", "henry.ipynb"), ("ida", "02", "final.ipynb")}
    assert skipped == {}


# ---------------------------------------------------------------------------------------------
# Errors before any grading: one line and exit code 2
# ---------------------------------------------------------------------------------------------


def _grade_in_process(*args: str) -> int:
    return main(["course", "grade", *args, "--root", str(ROOT), "--no-progress"])


def test_no_submissions_found(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert _grade_in_process(str(tmp_path / "empty"), "--out", str(tmp_path / "g.csv")) == 2
    assert capsys.readouterr().err.strip().startswith("error: no gradable notebooks")


def test_unknown_notebook_number(tmp_path, capsys):
    _touch(tmp_path / "x.ipynb")
    assert _grade_in_process(str(tmp_path / "x.ipynb"), "--notebook", "99", "--out", str(tmp_path / "g.csv")) == 2
    assert "error: unknown notebook '99'" in capsys.readouterr().err


def test_output_folder_unwritable(tmp_path, capsys):
    _touch(tmp_path / "02_vanilla_gan.ipynb")
    (tmp_path / "a_file").write_text("")
    assert _grade_in_process(str(tmp_path / "02_vanilla_gan.ipynb"), "--out", str(tmp_path / "a_file" / "g.csv")) == 2
    assert "error: cannot write to the output folder" in capsys.readouterr().err


def test_root_refuses_to_grade_without_a_sandbox(monkeypatch, tmp_path):
    monkeypatch.setattr(grading.sandbox.os, "geteuid", lambda: 0)
    monkeypatch.setattr(grading.sandbox.shutil, "which", lambda name: None)
    monkeypatch.setattr(grading.sandbox, "_unprivileged_user", lambda: None)
    with pytest.raises(ValueError, match="refusing to run submissions as root without a sandbox"):
        grading.choose_sandbox("auto", False, ROOT, grading.Limits())
    sandbox, _ = grading.choose_sandbox("auto", True, ROOT, grading.Limits())  # --unsafe-no-sandbox
    assert sandbox.kind == "none"


# ---------------------------------------------------------------------------------------------
# One batch of made-up submissions, graded by a real subprocess
# ---------------------------------------------------------------------------------------------

# Appended to (or put before) an exercise cell: cell 0 discriminator_loss, 1 generator_losses, 2 alternating_step.
PARTLY_WRONG = '''
def generator_losses(fake_logits):
    saturating = -F.softplus(fake_logits).mean()
    non_saturating = F.softplus(-fake_logits).mean()
    return non_saturating, saturating  # swapped
'''
LOOPS_IN_A_FUNCTION = '''
_solved = generator_losses


def generator_losses(fake_logits):
    while fake_logits.shape == (64, 1):  # forever, on one case of test_generator_losses_match_ganlib
        pass
    return _solved(fake_logits)
'''
RAISES_IN_A_FUNCTION = '''
def alternating_step(G, D, opt_g, opt_d, batches, sample_z, *, k, g_loss):
    return 1 / 0
'''
GREEDY = '''
_hoard = []
while True:
    _hoard.append(bytearray(32 << 20))
'''
LOUD = '''
for _ in range(50):
    print("loud" * 262144)  # 1 MiB a line, 50 MiB in all
'''
MALICIOUS = '''
import os
import pathlib

for _attempt in (lambda: pathlib.Path({canary!r}).write_text("overwritten"),
                 lambda: os.remove({canary!r}),
                 lambda: pathlib.Path({canary!r}).with_name("planted.txt").write_text("planted"),
                 lambda: pathlib.Path({repo_canary!r}).write_text("overwritten"),
                 lambda: os.remove({repo_canary!r})):
    try:
        _attempt()
    except Exception as e:
        print("blocked:", type(e).__name__)


def discriminator_loss(real_logits, fake_logits):
    import ganlib
    from ganlib.course import load_exercises

    answers = pathlib.Path(ganlib.__file__).resolve().parents[1] / "solutions" / "02_vanilla_gan.ipynb"
    return load_exercises(answers).discriminator_loss(real_logits, fake_logits)
'''


# Each exercise answered by calling ganlib's own answer: an alias, an attribute chain, a module alias.
DELEGATING = {
    0: "from ganlib.losses import discriminator_loss as _theirs\n\n\n"
       "def discriminator_loss(real_logits, fake_logits):\n    return _theirs(real_logits, fake_logits)",
    1: "import ganlib\n\n\ndef generator_losses(fake_logits):\n"
       "    return (-ganlib.losses.generator_loss_saturating(fake_logits),\n"
       "            ganlib.losses.generator_loss_nonsaturating(fake_logits))",
    2: "from ganlib.training import gan as _gan\n\n\n"
       "def alternating_step(G, D, opt_g, opt_d, batches, sample_z, *, k, g_loss):\n"
       "    return _gan.train_step(G, D, opt_g, opt_d, batches, sample_z, k=k, g_loss=g_loss)",
}
# Each exercise written so that it runs and does nothing.
NO_OP = {
    0: "def discriminator_loss(real_logits, fake_logits):\n    return torch.zeros(())",
    1: "def generator_losses(fake_logits):\n    return torch.zeros(()), torch.zeros(())",
    2: "def alternating_step(G, D, opt_g, opt_d, batches, sample_z, *, k, g_loss):\n"
       "    return {'d_loss': torch.zeros(()), 'g_loss': torch.zeros(()), 'd_real': torch.zeros(()),"
       " 'd_fake': torch.zeros(())}",
}


# Notebook 04, the case the issue measured (35 of 35 before delegation was checked): its four exercises with a
# ganlib counterpart call it; emd_1d (no counterpart in ganlib) stays the solution's and keeps its points.
DELEGATING_04 = {
    0: "from ganlib import losses as L\n\n\ndef critic_loss(real_scores, fake_scores):\n"
       "    return L.wasserstein_critic_loss(real_scores, fake_scores)",
    1: "import ganlib.losses\n\n\ndef generator_loss_w(fake_scores):\n"
       "    return ganlib.losses.wasserstein_generator_loss(fake_scores)",
    2: "from ganlib.losses import gradient_penalty as _gp\n\n\ndef gradient_penalty(critic, real, fake):\n"
       "    return _gp(critic, real, fake)",
    4: "def clip_weights(module, c):\n    from ganlib.losses import clip_weights_\n    clip_weights_(module, c)",
}


def _submission(path: Path, before: dict[int, str] | None = None, after: dict[int, str] | None = None,
                solution: Path = SOLUTION) -> Path:
    """A solution notebook (02 unless told) with code put before or after some of its exercise cells' source."""
    nb = nbformat.read(solution, as_version=4)
    cells = [c for c in nb.cells if c.cell_type == "code" and "exercise" in c.metadata.get("tags", [])]
    for index, code in (before or {}).items():
        cells[index].source = code + "\n" + cells[index].source
    for index, code in (after or {}).items():
        cells[index].source = cells[index].source + "\n" + code
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


def _digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Grade the batch once; return the subprocess, the CSV rows by student, the JSON, and the canaries."""
    work = tmp_path_factory.mktemp("grade")
    canary = work / "outside" / "canary.txt"
    canary.parent.mkdir()
    canary.write_text("instructor's file")
    repo_canary = ROOT / "runs" / f"grading-canary-{os.getpid()}.txt"  # runs/ is ignored by git
    repo_canary.parent.mkdir(exist_ok=True)
    repo_canary.write_text("instructor's file")

    batch = work / "batch"
    _submission(batch / "correct" / "02_vanilla_gan.ipynb")
    _submission(batch / "02_vanilla_gan-partly.ipynb", after={1: PARTLY_WRONG})
    _submission(batch / "crash_at_import_02.ipynb", before={0: 'raise RuntimeError("boom at import")'})
    _submission(batch / "crash_in_functions" / "02_vanilla_gan.ipynb", after={1: LOOPS_IN_A_FUNCTION, 2: RAISES_IN_A_FUNCTION})
    _submission(batch / "loop_02.ipynb", after={2: "while True:\n    pass"})
    _submission(batch / "greedy_02.ipynb", after={0: GREEDY})
    _submission(batch / "loud_02.ipynb", after={0: LOUD})
    _submission(batch / "malicious" / "02_vanilla_gan.ipynb",
                after={0: MALICIOUS.format(canary=str(canary), repo_canary=str(repo_canary))})
    _submission(batch / "delegating" / "02_vanilla_gan.ipynb", after=DELEGATING)
    _submission(batch / "no_op" / "02_vanilla_gan.ipynb", after=NO_OP)
    _submission(batch / "delegating" / "04_wgan_gp.ipynb", after=DELEGATING_04,
                solution=ROOT / "solutions" / "04_wgan_gp.ipynb")
    (batch / "readme.ipynb").write_text("{}")  # no notebook number: skipped
    inputs = _digest(batch)

    tmp = work / "tmp"  # the grader's scratch folders go here, and must be gone afterwards
    tmp.mkdir()
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TMPDIR": str(tmp)}
    try:
        done = subprocess.run(
            [sys.executable, "-m", "ganlib", "course", "grade", str(batch), "--out", str(work / "out" / "grades.csv"),
             "--timeout", "45", "--test-timeout", "10", "--memory-mb", "1536", "--jobs", "3", "--no-progress",
             "--root", str(ROOT)],
            cwd=work, env=env, capture_output=True, text=True, timeout=600)
        if done.returncode == 2 and "refusing to run submissions as root" in done.stderr:
            pytest.skip(f"no sandbox works here: {done.stderr.strip()}")
        with open(work / "out" / "grades.csv", newline="") as f:
            rows = {row["student"]: row for row in csv.DictReader(f)}
        report = json.loads((work / "out" / "grades.json").read_text())
        yield {"done": done, "rows": rows, "report": report, "canary": canary, "repo_canary": repo_canary.read_text()
               if repo_canary.exists() else None, "inputs_unchanged": _digest(batch) == inputs, "tmp": tmp}
    finally:
        repo_canary.unlink(missing_ok=True)


def _notebook(graded, student: str) -> dict:
    return graded["report"]["students"][student]["notebooks"]["02"]


def _by_exercise(tests: dict, prefix: str) -> dict:
    return {key: t for key, t in tests.items() if key.startswith(prefix)}


def test_batch_writes_one_row_per_student_and_reports_the_skipped_file(graded):
    done = graded["done"]
    assert done.returncode == 1, done.stderr  # 1: graded, but an input was skipped
    assert set(graded["rows"]) == {"correct", "partly", "crash_at_import", "crash_in_functions", "loop", "greedy",
                                   "loud", "malicious", "delegating", "no_op"}
    assert "skipped" in done.stderr and "readme.ipynb" in done.stderr
    assert graded["report"]["skipped"][0]["path"].endswith("readme.ipynb")
    columns = list(next(iter(graded["rows"].values())))
    assert columns[0] == "student" and columns[-2:] == ["total", "max"]
    assert "02::test_generator_losses_gradients" in columns and "04::test_critic_loss_sign_convention" in columns
    assert "graded 11 notebook(s) of 10 student(s)" in done.stdout and "mean total" in done.stdout


def test_correct_submission_gets_full_marks(graded):
    row = graded["rows"]["correct"]
    assert (row["total"], row["max"]) == (str(MAX), str(MAX + MAX_04))  # max: every notebook of the batch
    assert row["02::test_generator_losses_gradients"] == "2"
    assert {t["outcome"] for t in _notebook(graded, "correct")["tests"].values()} == {"passed"}


def test_partly_wrong_submission_loses_one_exercise(graded):
    assert graded["rows"]["partly"]["total"] == str(MAX - EX2)
    tests = _notebook(graded, "partly")["tests"]
    wrong = _by_exercise(tests, "test_generator_losses")
    assert {t["outcome"] for t in wrong.values()} == {"failed"} and all(t["points"] == 0 for t in wrong.values())
    assert "saturating" in wrong["test_generator_losses_hand_values"]["message"]
    assert all(t["outcome"] == "passed" for k, t in tests.items() if k not in wrong)


def test_answers_that_call_ganlibs_own_answers_earn_nothing_and_the_report_says_why(graded):
    tests = _notebook(graded, "delegating")["tests"]
    assert {t["outcome"] for t in tests.values()} == {"failed"} and sum(t["points"] for t in tests.values()) == 0
    called = {"test_discriminator_loss": "ganlib.losses.discriminator_loss",
              "test_generator_losses": "ganlib.losses.generator_loss_",
              "test_alternating_step": "ganlib.training.gan.train_step"}
    for prefix, name in called.items():
        for key, t in _by_exercise(tests, prefix).items():
            assert f"calls {name}" in t["message"], (key, t["message"])
    assert ("discriminator_loss calls ganlib.losses.discriminator_loss, ganlib's version of the function this exercise "
            "asks you to write: an answer that calls it earns nothing") in tests["test_discriminator_loss_is_your_own"]["message"]


def test_notebook_04_answered_by_calling_ganlib_earns_only_its_own_exercise(graded):
    tests = graded["report"]["students"]["delegating"]["notebooks"]["04"]["tests"]
    emd = _by_exercise(tests, "test_emd_1d")
    assert emd and {t["outcome"] for t in emd.values()} == {"passed"}
    delegated = {k: t for k, t in tests.items() if k not in emd}
    assert {t["outcome"] for t in delegated.values()} == {"failed"} and all(t["points"] == 0 for t in delegated.values())
    assert "calls ganlib.losses.gradient_penalty" in tests["test_gradient_penalty_is_your_own"]["message"]
    assert "calls ganlib.losses.clip_weights_" in tests["test_clip_weights_is_your_own"]["message"]
    row = graded["rows"]["delegating"]
    assert float(row["total"]) == sum(t["points"] for t in emd.values()) > 0


def test_no_op_answers_earn_nothing(graded):
    assert graded["rows"]["no_op"]["total"] == "0"
    tests = _notebook(graded, "no_op")["tests"].values()
    assert {t["outcome"] for t in tests} <= {"failed", "error"} and all(t["points"] == 0 for t in tests)


def test_crash_at_import_scores_zero_with_the_message(graded):
    assert graded["rows"]["crash_at_import"]["total"] == "0"
    nb = _notebook(graded, "crash_at_import")
    assert nb["error"] is None  # pytest ran and reported every test as an error
    assert all(t["outcome"] == "error" and "boom at import" in t["message"] for t in nb["tests"].values())


def test_crash_and_loop_inside_functions_lose_only_those_tests(graded):
    assert graded["rows"]["crash_in_functions"]["total"] == str(MAX - 1 - EX3)
    tests = _notebook(graded, "crash_in_functions")["tests"]
    looping = _by_exercise(tests, "test_generator_losses_match_ganlib[shape1]")
    raising = _by_exercise(tests, "test_alternating_step")
    assert len(looping) == 1 and {t["outcome"] for t in looping.values()} == {"timeout"}
    assert "longer than 10 s" in next(iter(looping.values()))["message"]
    assert {t["outcome"] for t in raising.values()} == {"error"}
    assert "ZeroDivisionError" in next(iter(raising.values()))["message"]
    assert all(t["outcome"] == "passed" for k, t in tests.items() if k not in looping and k not in raising)
    assert _notebook(graded, "crash_in_functions")["error"] is None


def test_loop_at_import_times_out_and_the_batch_goes_on(graded):
    assert graded["rows"]["loop"]["total"] == "0"
    nb = _notebook(graded, "loop")
    assert nb["error"]["kind"] == "timeout" and "45 s" in nb["error"]["message"]
    assert {t["outcome"] for t in nb["tests"].values()} == {"not-run"}
    assert 45 <= nb["seconds"] < 60
    assert "submission errors: timeout 1" in graded["done"].stdout


def test_unbounded_allocation_hits_the_memory_limit(graded):
    assert graded["rows"]["greedy"]["total"] == "0"
    tests = _notebook(graded, "greedy")["tests"]
    assert {t["outcome"] for t in tests.values()} == {"memory"}
    assert "MemoryError" in next(iter(tests.values()))["message"]


def test_loud_submission_is_graded_and_its_output_capped(graded):
    assert graded["rows"]["loud"]["total"] == str(MAX)
    nb = _notebook(graded, "loud")
    assert nb["output_bytes"] > 50_000_000 and nb["output_truncated"]
    assert len(graded["done"].stdout) + len(graded["done"].stderr) < 20_000  # the grader is not flooded


def test_submission_cannot_change_files_outside_its_scratch_folder(graded):
    if graded["report"]["sandbox"].startswith("none"):
        pytest.skip("no sandbox (not root, and bubblewrap is not installed): the submission runs as you")
    assert graded["canary"].read_text() == "instructor's file"
    assert not (graded["canary"].parent / "planted.txt").exists()
    assert graded["repo_canary"] == "instructor's file"
    assert graded["inputs_unchanged"], "the submitted files changed"


def test_bubblewrap_hides_the_solutions(graded):
    if not graded["report"]["sandbox"].startswith("bubblewrap"):
        pytest.skip(f"bubblewrap not used here (sandbox: {graded['report']['sandbox']}); install bubblewrap")
    # the malicious submission's discriminator_loss loads the instructor's solution: it finds an empty folder
    # (exercise 3 keeps its points: its tests give the step a correct discriminator_loss)
    assert graded["rows"]["malicious"]["total"] == str(MAX - EX1)
    message = _notebook(graded, "malicious")["tests"]["test_discriminator_loss_hand_values"]["message"]
    assert "No such file" in message or "FileNotFound" in message


def test_scratch_folders_are_removed(graded):
    assert list(graded["tmp"].iterdir()) == []
