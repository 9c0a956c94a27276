"""The command line: one clear line for bad input, naming the parameter or path and the fix."""

import pytest

from conftest import make_notebook
from densepred.cli import main


@pytest.fixture
def nb(tree):
    return make_notebook(tree / "notebooks" / "demo" / "01_a.ipynb", "print(x)", 'profile = "smoke"\nx = 1\nseeds = [0]')


def _error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("densepred: error:")
    return err


def test_bad_yaml_value_names_the_parameter_in_one_line(nb, capsys):
    """Old code: a 47-line traceback that never named the parameter."""
    assert main(["run", str(nb), "--profile", "smoke", "-p", "seeds", "[0, 1"]) == 1
    err = _error(capsys)
    assert len(err.splitlines()) == 1
    assert err.startswith("densepred: error: -p seeds '[0, 1': not a YAML value (") and "expected" in err


def test_unknown_parameter_lists_the_notebooks_parameters(nb, capsys):
    assert main(["run", str(nb), "--profile", "smoke", "-p", "sedes", "[0]"]) == 1
    assert _error(capsys) == "densepred: error: -p sedes: not a parameter of demo/01_a. Its parameters: x, seeds."


@pytest.mark.parametrize("value", ["cpu", "../../../../tmp/x"])
def test_profile_cannot_be_set_with_p(nb, tree, capsys, value):
    """Old code: -p profile ../../../../tmp/x wrote outside the project; -p profile cpu overwrote cpu results."""
    assert main(["run", str(nb), "--profile", "smoke", "-p", "profile", value]) == 1
    assert "use --profile NAME" in _error(capsys)
    assert not (tree / "outputs").exists() and not (tree / "results").exists()


def test_invalid_profile_name_is_refused(nb, capsys):
    assert main(["run", str(nb), "--profile", "../gpu"]) == 1
    assert "Invalid profile name '../gpu'" in _error(capsys)


def test_run_requires_a_profile(nb, capsys):
    """Old code: a plain ``densepred run NB`` ran at cpu and replaced the committed page in book/."""
    with pytest.raises(SystemExit):
        main(["run", str(nb)])
    assert "--profile" in capsys.readouterr().err


def test_gpus_and_jobs_are_checked(tree, capsys):
    with pytest.raises(SystemExit):
        main(["book", "build", "--gpus", "0,x"])
    assert "expected GPU indices" in capsys.readouterr().err
    make_notebook(tree / "notebooks" / "demo" / "01_a.ipynb", "print(x)")
    assert main(["book", "build", "--profile", "smoke", "--no-html", "--jobs", "3", "--gpus", "0,1"]) == 1
    assert "one GPU per job" in _error(capsys)


def test_unknown_notebook_filter_lists_notebooks(tree, capsys):
    make_notebook(tree / "notebooks" / "demo" / "01_a.ipynb", "print(x)")
    assert main(["book", "build", "--profile", "smoke", "--no-html", "--notebook", "demo/02_b"]) == 1
    assert _error(capsys) == "densepred: error: Unknown notebook demo/02_b; notebooks: demo/01_a."


def test_profile_slurm_block_is_a_setting_not_a_parameter(tree):
    from densepred.book import SlurmOptions
    from densepred.profiles import load_profile

    (tree / "notebooks" / "profiles" / "cluster.yaml").write_text(
        "profile: cluster\nseeds: [0]\nslurm: {partition: a100, time: 90, gpus_per_job: 2}\n")
    assert "slurm" not in load_profile("cluster")
    got = SlurmOptions(time_min=30).resolved("cluster")
    assert got["slurm_partition"] == "a100" and got["timeout_min"] == 30 and got["gpus_per_node"] == 2
