"""haco.sweep.console: one line per trial event; a smoke study's console fits a screen
and still shows a failed trial's whole error."""

import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from omegaconf import OmegaConf

from haco.sweep.console import LiveLine, StudyProgress, clock


class FakeTrial(SimpleNamespace):
    def __str__(self):
        return self.name


def trial(name, epochs=2, error_file=None):
    spec = SimpleNamespace(config=OmegaConf.create({"train": {"epochs": epochs}}))
    return FakeTrial(name=name, config={"job": SimpleNamespace(spec=spec)},
                     error_file=error_file)


def test_events_become_lines_with_counts_best_and_eta(tmp_path, capsys):
    lines = []
    progress = StudyProgress(3, verbose=1, out=lines.append)
    a, b, c = trial("CE loss s0"), trial("VCB s0"), trial("L1 loss s0")
    (tmp_path / "error.txt").write_text("Failure # 1 (occurred at 2026-12-02)\n"
                                        "ray::ImplicitFunc.train() (pid=1)\n  File x, line 1\n"
                                        "    raise Boom\nBoom: x\n")
    c.error_file = str(tmp_path / "error.txt")
    progress.on_trial_start(0, [], a)
    progress.on_trial_result(0, [], a, {"epoch": 1, "val/f1": 0.2})
    progress.on_trial_result(0, [], a, {"epoch": 2, "val/f1": 0.25})  # on the finished line
    progress.on_trial_complete(0, [], a)
    progress.on_trial_start(0, [], b)
    progress.on_trial_result(0, [], b, {"epoch": 2, "val/f1": 0.3})
    progress.on_trial_complete(0, [], b)
    progress.on_trial_start(0, [], c)
    progress.on_trial_error(0, [], c)
    events = [line.split("] ", 1)[1] for line in lines]
    assert events[0] == "started  CE loss s0"
    assert events[1] == "epoch 1/2 CE loss s0  val/f1 0.200"
    assert events[2].startswith("finished CE loss s0  val/f1 0.250 (")
    assert "1 done · 0 running · 2 queued · best CE loss s0 0.250 · ETA" in events[2]
    assert "best VCB s0 0.300" in events[4]
    assert events[6] == ("FAILED   L1 loss s0: Boom: x  ·  2 done · 0 running · 0 queued · "
                         "1 failed · best VCB s0 0.300")
    assert "    raise Boom\nBoom: x" in capsys.readouterr().err  # the whole error


def test_verbose_0_prints_only_failures():
    lines = []
    progress = StudyProgress(1, verbose=0, out=lines.append)
    progress.on_trial_start(0, [], trial("CE loss s0"))
    progress.on_trial_complete(0, [], trial("CE loss s0"))
    assert lines == []
    progress.on_trial_error(0, [], trial("CE loss s0"))
    assert len(lines) == 1 and "FAILED" in lines[0]


def test_a_search_reports_its_objective_and_mode():
    lines = []
    progress = StudyProgress(2, metric="val/loss", mode="min", out=lines.append)
    for name, value in (("trial 001 s0", 0.5), ("trial 002 s0", 0.4)):
        progress.on_trial_result(0, [], trial(name), {"epoch": 2, "val/loss": value})
        progress.on_trial_complete(0, [], trial(name))
    assert "best trial 002 s0 0.400" in lines[-1]


def test_clock():
    assert (clock(5), clock(75), clock(3725)) == ("0:05", "1:15", "1:02:05")


def test_a_failed_trial_shows_its_whole_error(study, capfd):
    from haco.sweep import launch

    cfg, args = study("losses", "sweep.rows=[CE loss,L1 loss]", "sweep.max_failures=0")
    cfg.study.cells[1].overrides.append("train.max_grad_norm=1e-12")  # L1: diverges at once
    assert launch(cfg, args) == 1
    out, err = capfd.readouterr()
    failed = out[out.index("FAILED   L1 loss s0: "):].splitlines()[0]
    assert "DivergenceError" in failed
    assert "haco/train/loop.py" in err and "DivergenceError" in err  # the whole error
    assert "finished CE loss s0" in out


@pytest.mark.slow  # a whole study in a subprocess
def test_a_smoke_loss_study_prints_under_100_lines(sweep_data, tmp_path):
    script = Path(__file__).parents[2] / "sweeps" / "losses.py"
    done = subprocess.run(
        [sys.executable, str(script), "profile=smoke", f"data.root={sweep_data}",
         f"mlflow.tracking_uri=sqlite:///{tmp_path}/mlflow.db",
         f"sweep.storage_path={tmp_path}/runs"],
        check=False, capture_output=True, text=True, timeout=900)
    console = (done.stdout + done.stderr).replace("\r", "\n")
    lines = [line for line in console.splitlines() if "img/s]" not in line]  # progress bars
    assert done.returncode == 0, console[-3000:]
    assert len(lines) < 100, "\n".join(lines)
    assert "results of losses" in console and "finished VCB loss (Ours) s0" in console


def test_the_status_line_shows_running_trials_epochs_and_the_plan_s_eta():
    progress = StudyProgress(3, out=lambda line: None, estimated_wall=600)
    a = trial("CE loss s0", epochs=4)
    progress.on_trial_start(0, [], a)
    status = progress.status()
    assert "0 done · running CE loss s0 starting · 2 queued" in status
    assert "ETA 9:5" in status or "ETA 10:00" in status  # the plan's, before any trial ended
    progress.on_trial_result(0, [], a, {"epoch": 2, "val/f1": 0.41})
    assert "running CE loss s0 epoch 2/4 val/f1 0.410" in progress.status()


class FakeTerminal:
    def __init__(self):
        self.text = ""

    def write(self, text):
        self.text += text

    def flush(self):
        pass

    def isatty(self):
        return True

    def screen(self):
        """What a terminal shows: each \\r\\x1b[K clears the current row."""
        rows = [""]
        for part in self.text.split("\r\x1b[K"):
            lines = part.split("\n")
            rows[-1] = lines[0]  # the row was cleared: what follows replaces it
            rows.extend(lines[1:])
        return rows


def test_a_live_line_stays_under_the_event_lines_and_is_cleared_at_the_end():
    term = FakeTerminal()
    live = LiveLine(term, every=3600)  # the ticker never fires during the test
    progress = StudyProgress(2, live=live)
    a = trial("CE loss s0")
    progress.on_trial_start(0, [], a)
    assert term.screen()[-2].endswith("started  CE loss s0")
    assert "running CE loss s0 starting" in term.screen()[-1]  # the live line, redrawn
    progress.on_trial_complete(0, [], a)
    assert term.screen()[-2].split("] ", 1)[1].startswith("finished CE loss s0")
    assert term.screen()[-1].split("] ", 1)[1].startswith("1 done · 1 queued")
    progress.close()
    assert term.screen()[-1] == ""  # the results print on a clean row
    live.draw()  # a late tick draws nothing
    assert term.screen()[-1] == ""


def test_a_live_line_only_in_a_terminal_at_verbosity_1():
    term = FakeTerminal()
    assert LiveLine.wanted(1, term)
    assert not LiveLine.wanted(0, term) and not LiveLine.wanted(2, term)
    assert not LiveLine.wanted(1, SimpleNamespace(isatty=lambda: False))


def test_the_progress_pickles_with_its_live_line():  # Ray Tune pickles its callbacks
    import pickle

    progress = StudyProgress(2, live=LiveLine(FakeTerminal(), every=3600))
    copy = pickle.loads(pickle.dumps(progress))
    assert copy.total == 2 and copy.live.every == 3600
    progress.close()
