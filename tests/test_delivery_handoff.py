"""One waiting task per queue: messages enqueued while it waits share it (``handoff``).

The tasks are django-tasks-db's rows; the test runs each as a worker would (its
function, called with its stored arguments), in order, and counts what was sent.
"""

from datetime import timedelta

import pytest
from django.core import mail
from django.tasks.backends.dummy import DummyBackend
from django.test import override_settings
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from tests.testapp.emails import Hello
from txmail.delivery import handoff, queue
from txmail.delivery.models import Delivery, Status

pytestmark = pytest.mark.django_db(transaction=True)
DB = {"TASK_BACKEND": "db"}


def waiting_tasks() -> list[DBTaskResult]:
    return list(DBTaskResult.objects.filter(status="READY").order_by("enqueued_at"))


def run_task(task: DBTaskResult) -> dict:
    """Run a stored task's function as db_worker would, and mark it done."""
    func = queue.deliver_ready if task.task_path.endswith("deliver_ready") else \
        queue.deliver_queued
    result = func.call(*task.args_kwargs["args"], **task.args_kwargs["kwargs"])
    DBTaskResult.objects.filter(pk=task.pk).update(status="SUCCESSFUL")
    return result


@override_settings(TXMAIL=DB)
def test_messages_enqueued_while_a_task_waits_share_it():
    for n in range(5):
        Hello(name=f"n{n}", to=[f"r{n}@example.com"]).enqueue()
    [task] = waiting_tasks()  # one task for the queue, not five
    assert task.task_path == "txmail.delivery.queue.deliver_ready"
    assert task.args_kwargs["args"] == ["db", "", 0]
    assert run_task(task) == {"sent": 5}
    assert sorted(m.to[0] for m in mail.outbox) == [f"r{n}@example.com" for n in range(5)]
    assert set(Delivery.objects.values_list("status", flat=True)) == {Status.SENT}
    assert waiting_tasks() == []


@override_settings(TXMAIL=DB)
def test_a_message_enqueued_after_the_task_started_gets_a_task_of_its_own():
    Hello(name="first").enqueue()
    assert len(waiting_tasks()) == 1
    # The task has started (its flag cleared) but not read the rows yet.
    handoff.started(("db", "", 0))
    Hello(name="second", to=["bob@example.com"]).enqueue()
    tasks = waiting_tasks()
    assert len(tasks) == 2  # the second one's own, as the first may already have read
    assert run_task(tasks[0]) == {"sent": 2}  # it reads after the second was committed
    assert run_task(tasks[1]) == {}  # nothing left: a cheap no-op
    assert len(mail.outbox) == 2


@override_settings(TXMAIL=DB)
def test_a_priority_has_its_own_waiting_task():
    Hello(name="bulk").enqueue(priority=-50)
    Hello(name="reset").enqueue(priority=10)
    Hello(name="other bulk").enqueue(priority=-50)
    assert sorted(t.args_kwargs["args"][2] for t in waiting_tasks()) == [-50, 10]


@override_settings(TXMAIL=DB)
def test_a_task_that_never_started_is_replaced_by_the_sweep():
    Hello(name="lost").enqueue()
    DBTaskResult.objects.all().delete()  # its task is gone: the flag still says it waits
    Hello(name="stuck", to=["bob@example.com"]).enqueue()
    assert waiting_tasks() == []  # it trusted the flag
    # A claim timeout later the sweep clears the flag and hands the rows off again.
    later = timezone.now() - timedelta(hours=1)
    Delivery.objects.update(next_attempt_at=later)
    handoff.WaitingTask.objects.update(since=later)
    found = queue.sweep()
    assert found["handed_off"] == 2
    [task] = waiting_tasks()
    assert run_task(task) == {"sent": 2}
    assert sorted(m.to[0] for m in mail.outbox) == ["ann@example.com", "bob@example.com"]


class Refusing(DummyBackend):
    """A task backend whose queue is down."""

    def enqueue(self, task, args, kwargs):
        raise ConnectionError("the queue is down")


@override_settings(TXMAIL={"TASK_BACKEND": "down"}, TASKS={
    "default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"},
    "down": {"BACKEND": "tests.test_delivery_handoff.Refusing"}})
def test_a_hand_off_that_fails_clears_the_flag_and_leaves_the_row_for_the_sweep():
    first = Hello(name="refused").enqueue()
    second = Hello(name="refused too").enqueue()
    # Neither trusted a task that was never enqueued: each tried, each is marked.
    assert list(Delivery.objects.filter(pk__in=[first.delivery_id, second.delivery_id])
                .values_list("status", "needs_handoff")) == [(Status.QUEUED, True)] * 2
    assert not handoff.WaitingTask.objects.get().waiting
