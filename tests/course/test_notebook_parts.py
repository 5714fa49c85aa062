"""A notebook may come in lettered parts (08a, 08b): the grader, the build and the runner tell them apart."""

from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from ganlib.course import grade as grading
from ganlib.course import run as runner
from ganlib.course import student_notebook, sync_course_map


@pytest.mark.parametrize("stem,number", [
    ("08a_progressive_growing", "08a"), ("08b_stylegan", "08b"), ("alice-08b", "08b"), ("08b_stylegan-bob", "08b"),
    ("bob_02", "02"), ("02_vanilla_gan", "02"), ("02vanilla", "02"),
])
def test_the_grader_reads_a_lettered_part(stem, number):
    assert grading.notebook_number(stem, {"02", "08a", "08b"}) == number


def test_a_number_without_its_letter_is_not_a_part():
    with pytest.raises(ValueError, match="notebook 08 has no grading tests"):
        grading.notebook_number("08_progressive", {"08a", "08b"})
    assert grading._student_from_stem("08b_stylegan-bob", "08b", "08b_stylegan") == "bob"
    assert grading._TEST_FILE.fullmatch("test_08a_progressive_growing.py").group(1) == "08a"


def test_exercises_of_a_part_are_labelled_with_it():
    code = "def fade(a, b, t):\n    ### BEGIN SOLUTION\n    return a\n    ### END SOLUTION\n"
    cell = new_code_cell(code)
    cell.metadata["tags"] = ["exercise"]
    student, exercises = student_notebook(new_notebook(cells=[cell]), "08a_progressive_growing")
    assert 'Exercise 8a.1 (fade)' in student.cells[0].source


def test_the_course_map_links_each_part(tmp_path):
    readme = ("<!-- course-map:start -->\n| # | notebook | topic |\n|---|---|---|\n| 08a | `08a` | growing |\n"
              "| 08b | `08b` | style |\n<!-- course-map:end -->\n")

    class Colab:
        def badge(self, name):
            return f"[badge {name}]"

    text, problems = sync_course_map(readme, ["08a_progressive_growing.ipynb", "08b_stylegan.ipynb"], Colab())
    assert not problems
    assert "[`08a_progressive_growing`](notebooks/08a_progressive_growing.ipynb)" in text
    assert "[`08b_stylegan`](notebooks/08b_stylegan.ipynb)" in text


def test_the_runner_selects_both_parts_by_number_or_one_by_its_letter(tmp_path):
    solutions = tmp_path / "solutions"
    solutions.mkdir()
    for name in ("07_eval.ipynb", "08a_grow.ipynb", "08b_style.ipynb"):
        nbformat.write(new_notebook(), solutions / name)
    assert [p.name for p in runner.find_notebooks(["08"], tmp_path)] == ["08a_grow.ipynb", "08b_style.ipynb"]
    assert [p.name for p in runner.find_notebooks(["8b"], tmp_path)] == ["08b_style.ipynb"]
    assert [p.name for p in runner.find_notebooks(["7"], tmp_path)] == ["07_eval.ipynb"]
    with pytest.raises(ValueError, match="no notebook numbered 08c"):
        runner.find_notebooks(["08c"], tmp_path)
