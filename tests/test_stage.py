"""tools.stage: the per-stage time table printed at the end of `make test` and `.ci/run`."""
from tools import stage


def test_table_totals_every_stage_and_the_work_without_installs():
    stages = [
        {"name": "install-venv", "seconds": 120.0, "status": 0},
        {"name": "test-lib", "seconds": 60.4, "status": 0},
        {"name": "test-site", "seconds": 30.0, "status": 2},
    ]
    lines = stage.table(stages).splitlines()
    assert lines[1].split() == ["install-venv", "120", "57.0%", "ok"]
    assert lines[3].split() == ["test-site", "30", "14.3%", "FAILED", "(2)"]
    assert lines[-2].split() == ["total", "210"]
    assert lines[-1].split() == ["without", "installs", "90"]


def test_run_records_the_stage_and_passes_its_status_on(tmp_path):
    record = tmp_path / "stages.json"
    assert stage.main(["start", "--file", str(record)]) == 0
    assert stage.main(["run", "ok", "--file", str(record), "--", "true"]) == 0
    assert stage.main(["run", "bad", "--file", str(record), "--", "false"]) == 1
    names = [(s["name"], s["status"]) for s in stage._load(record)]
    assert names == [("ok", 0), ("bad", 1)]
    assert "without installs" not in stage.table(stage._load(record))
