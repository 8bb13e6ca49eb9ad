"""haco.outbox: writes kept while the store does not answer, sent in order once it does,
never twice; a trial gives up only after the outage limit."""

import pytest
import requests
from mlflow.entities import Metric

from haco.outbox import JOURNAL, Outbox, TrackingOutage


class FlakyStore:
    """A client whose server can be down (refused), or take a call and lose the answer."""

    def __init__(self):
        self.calls, self.points = [], []
        self.down, self.lose_answer = False, False

    def _answer(self, name, apply):
        if self.down:
            raise requests.ConnectionError("[Errno 111] Connection refused")
        apply()
        self.calls.append(name)
        if self.lose_answer:
            self.lose_answer = False
            raise requests.ReadTimeout("Read timed out. (read timeout=20)")

    def log_batch(self, run_id, metrics=(), params=(), tags=()):
        self._answer("log_batch", lambda: self.points.extend(metrics))

    def set_tag(self, run_id, key, value):
        self._answer(f"set_tag {key}={value}", lambda: None)

    def get_metric_history(self, run_id, key):
        if self.down:
            raise requests.ConnectionError("[Errno 111] Connection refused")
        return [m for m in self.points if m.key == key]

    def get_run(self, run_id):
        if self.down:
            raise requests.ConnectionError("[Errno 111] Connection refused")
        return f"run {run_id}"

    def search_runs(self, *args):
        raise ValueError("INVALID_PARAMETER_VALUE: bad filter")


def point(step, value=0.5):
    return Metric("val/f1", value, 1_000 + step, step)


@pytest.fixture
def store():
    return FlakyStore()


def outbox(store, tmp_path, outage=60.0):
    return Outbox(store, tmp_path, outage, retry_seconds=0.01)


def test_writes_go_straight_through_while_the_server_answers(store, tmp_path):
    box = outbox(store, tmp_path)
    box.log_batch("r", metrics=[point(0)])
    box.set_tag("r", "a", "1")
    assert store.calls == ["log_batch", "set_tag a=1"] and box.sent == 2
    assert not (tmp_path / JOURNAL).exists()  # nothing kept


def test_an_outage_keeps_the_writes_on_disk_and_sends_them_in_order(store, tmp_path):
    box = outbox(store, tmp_path)
    store.down = True
    box.log_batch("r", metrics=[point(0)])   # training goes on: no exception
    box.set_tag("r", "epoch", "1")
    box.log_batch("r", metrics=[point(1)])
    assert store.calls == [] and len((tmp_path / JOURNAL).read_text().splitlines()) == 3
    store.down = False
    box.set_tag("r", "epoch", "2")
    assert store.calls == ["log_batch", "set_tag epoch=1", "log_batch", "set_tag epoch=2"]
    assert [m.step for m in store.points] == [0, 1]
    assert not (tmp_path / JOURNAL).exists()


def test_a_retried_trial_sends_what_the_last_attempt_kept(store, tmp_path):
    store.down = True
    outbox(store, tmp_path).log_batch("r", metrics=[point(0)])
    store.down = False
    again = outbox(store, tmp_path)  # a new process: the journal is read back
    again.drain()
    assert [m.step for m in store.points] == [0]


def test_a_batch_whose_answer_was_lost_is_not_logged_twice(store, tmp_path):
    box = outbox(store, tmp_path)
    store.lose_answer = True
    box.log_batch("r", metrics=[point(0)])  # applied, but the client saw a timeout
    box.log_batch("r", metrics=[point(1)])
    assert [m.step for m in store.points] == [0, 1]  # step 0 once


def test_a_refused_batch_is_sent_again(store, tmp_path):
    box = outbox(store, tmp_path)
    store.down = True
    box.log_batch("r", metrics=[point(0)])
    store.down = False
    box.drain()
    assert [m.step for m in store.points] == [0]


def test_reads_wait_for_the_server_and_send_the_journal_first(store, tmp_path):
    box = outbox(store, tmp_path)
    store.down = True
    box.set_tag("r", "a", "1")
    store.down = False
    assert box.get_run("r") == "run r" and store.calls == ["set_tag a=1"]


def test_the_trial_fails_only_after_the_outage_limit(store, tmp_path):
    box = outbox(store, tmp_path, outage=0.05)
    store.down = True
    box.log_batch("r", metrics=[point(0)])  # within the limit: kept
    with pytest.raises(TrackingOutage, match="mlflow.outage_seconds=0.05.*kept in"):
        box.drain()
    assert (tmp_path / JOURNAL).exists()  # for the retry


def test_a_refusal_that_is_not_an_outage_is_raised_at_once(store, tmp_path):
    with pytest.raises(ValueError, match="INVALID_PARAMETER_VALUE"):
        outbox(store, tmp_path).search_runs("x")


def test_the_journal_is_bounded(store, tmp_path):
    box = Outbox(store, tmp_path, 60.0, max_pending=2, retry_seconds=0.01)
    store.down = True
    box.set_tag("r", "a", "1")
    box.set_tag("r", "b", "2")
    with pytest.raises(TrackingOutage, match="2 tracking writes are waiting"):
        box.set_tag("r", "c", "3")
