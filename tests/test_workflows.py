"""The GitHub workflows: CI runs the README's test command, the book publishes itself; actionlint passes."""
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = ROOT / ".github" / "workflows"


def actionlint() -> str:
    # requirements.txt pins the package that ships the binary into the virtualenv's bin/
    here = Path(sys.executable).parent / "actionlint"
    found = str(here) if here.exists() else shutil.which("actionlint")
    assert found, "actionlint is missing: `make test` installs it from requirements.txt"
    return found


def steps(name: str) -> list[dict]:
    jobs = yaml.safe_load((WORKFLOWS / name).read_text())["jobs"]
    return [s for job in jobs.values() for s in job.get("steps", [])]


def test_actionlint_passes_on_every_workflow():
    files = sorted(WORKFLOWS.glob("*.yml"))
    assert {p.name for p in files} >= {"ci.yml", "pages.yml"}
    result = subprocess.run([actionlint(), "-no-color", *map(str, files)], check=False, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_would_catch_a_broken_workflow(tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text("on: push\njobs:\n  t:\n    runs-on: ubuntu-24.04\n    steps:\n"
                   "      - run: echo ${{ github.nonexistent_context }}\n")
    result = subprocess.run([actionlint(), "-no-color", str(bad)], check=False, capture_output=True, text=True)
    assert result.returncode != 0


def test_ci_runs_the_readme_test_command():
    runs = [s["run"].strip() for s in steps("ci.yml") if "run" in s]
    assert runs == ["make test"]
    assert "make test" in (ROOT / "README.md").read_text()


def test_the_book_is_built_with_cached_data_and_execution_then_deployed():
    all_steps = steps("pages.yml")
    runs = [s["run"].strip() for s in all_steps if "run" in s]
    assert "make book" in runs
    cached = [s["with"]["path"] for s in all_steps if s.get("uses", "").startswith("actions/cache@")]
    assert "_build/.jupyter_cache" in cached and ".datasets" in cached
    assert any("CNNBOOK_DATA=$GITHUB_WORKSPACE/.datasets" in r for r in runs)
    uses = [s.get("uses", "") for s in all_steps]
    assert any(u.startswith("actions/upload-pages-artifact@") for u in uses)
    assert any(u.startswith("actions/deploy-pages@") for u in uses)
