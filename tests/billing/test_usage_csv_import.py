"""Usage CSV imports end to end through the services and the Celery task: the check on upload
(exact counts and row errors), the import in committed batches through ingest (exact counts,
duplicates on a second import, nothing valid lost, invalid rows skipped and listed), partners
confined to their own clients, resuming after a failure with the counts of one clean run, a
second runner standing down, Celery's eager mode and a real worker process."""

from __future__ import annotations

import datetime
from decimal import Decimal
from pathlib import Path
from unittest import mock

import pytest
from django.conf import settings as django_settings
from django.utils import timezone
from django_tenants.utils import schema_context

from billing import ingest as ingest_module
from billing.errors import BillingError
from billing.models import UsageEvent
from billing.models_invoicing import UsageImport
from billing.services import usage_imports as service
from billing.services.usage_imports import (
    staged_file,
    usage_import_discard,
    usage_import_run,
    usage_import_stage,
    usage_import_start,
)
from billing.tasks_usage import import_usage
from billing.usage_csv import read_file_rows
from core.actors import Actor
from core.models import AuditEntry
from msp_program.celery import app
from tests.committed import committed
from tests.tenancy import test_worker as worker_support

from .usage_support import CONSOLE_HEADER, HEADER, make_world, upload, valid_rows

pytestmark = pytest.mark.django_db

ACTOR = Actor.system("tests")
WHEN = "2026-01-15T10:00:00Z"


@pytest.fixture(autouse=True)
def stage_dir(settings, tmp_path):
    settings.USAGE_IMPORT_DIR = tmp_path / "usage-imports"
    return settings.USAGE_IMPORT_DIR


@pytest.fixture
def world(vendor_a):
    return make_world(vendor_a)


def staged_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.rglob("*") if p.is_file()) if directory.exists() else []


def events(tv) -> list[tuple]:
    with schema_context(tv.schema):
        return list(
            UsageEvent.objects.order_by("event_id").values_list(
                "event_id", "partner_id", "client_id", "meter_id", "quantity"
            )
        )


def counts(usage_import: UsageImport) -> dict:
    usage_import.refresh_from_db()
    return {
        "status": usage_import.status,
        "total_rows": usage_import.total_rows,
        "processed_rows": usage_import.processed_rows,
        "accepted": usage_import.accepted,
        "duplicates": usage_import.duplicates,
        "rejected": usage_import.rejected,
    }


MIXED = (
    HEADER
    + f"e-1,ACME,api_calls,10,{WHEN},\n"
    + f"e-2,GLOBEX,storage_gb,12.5,{WHEN},\n"
    + f"e-3,ACME,api_calls,abc,{WHEN},\n"  # row 4: not a number
    + f"e-4,ACME,api_calls,-1,{WHEN},\n"  # row 5: negative
    + "e-5,ACME,api_calls,1,2999-01-01T00:00:00Z,\n"  # row 6: in the future
    + f"e-6,NOBODY,api_calls,1,{WHEN},\n"  # row 7: unknown client
    + f"e-7,ACME,no_meter,1,{WHEN},\n"  # row 8: unknown meter
    + f'e-8,ACME,devices,1,{WHEN},"{{""device_id"": ""d-1""}}"\n'
    + f"e-1,ACME,api_calls,99,{WHEN},\n"  # row 10: repeats e-1: a duplicate, not stored
    + "e-9,ACME\n"  # row 11: too few values
)


def test_upload_check_then_import_counts_exactly_and_stores_every_valid_row(
    world, stage_dir, django_capture_on_commit_callbacks
):
    with schema_context(world.tv.schema):
        usage_import = usage_import_stage(
            upload=upload(MIXED, "march.csv"), partner=world.alpha, actor=ACTOR
        )
        # The check: nothing stored yet; the counts and every row error with its row.
        assert counts(usage_import) == {
            "status": "previewed",
            "total_rows": 10,
            "processed_rows": 0,
            "accepted": 0,
            "duplicates": 0,
            "rejected": 6,
        }
        assert [(e["row"], [x["field"] for x in e["errors"]]) for e in usage_import.errors] == [
            (4, ["quantity"]),
            (5, ["quantity"]),
            (6, ["timestamp"]),
            (7, ["client"]),
            (8, ["meter"]),
            (11, [""]),
        ]
        assert usage_import.errors[3]["errors"][0]["message"] == "No client 'NOBODY'."
        assert usage_import.filename == "march.csv"
        assert usage_import.uploaded_by_label == "tests"
        assert UsageEvent.objects.count() == 0
        path = staged_file(usage_import)
        assert staged_files(stage_dir) == [path]
        assert path.parent.name == world.tv.schema

        with (
            mock.patch.object(import_usage, "delay") as delay,
            django_capture_on_commit_callbacks(execute=True),
        ):
            usage_import_start(usage_import=usage_import, actor=ACTOR)
        delay.assert_called_once_with(usage_import.pk)
        assert counts(usage_import)["status"] == "queued"
        with django_capture_on_commit_callbacks(execute=True):  # the staged file goes after it
            result = import_usage.apply(args=[usage_import.pk]).get()
        assert result == {
            "status": "done",
            "processed_rows": 10,
            "accepted": 3,
            "duplicates": 1,
            "rejected": 6,
        }
        assert counts(usage_import) == {
            "status": "done",
            "total_rows": 10,
            "processed_rows": 10,
            "accepted": 3,
            "duplicates": 1,
            "rejected": 6,
        }
        assert [e["row"] for e in usage_import.errors] == [4, 5, 6, 7, 8, 11]
        assert usage_import.started_at is not None and usage_import.finished_at is not None
        assert usage_import.progress == 100
        actions = list(
            AuditEntry.objects.filter(object_id=str(usage_import.pk))
            .order_by("id")
            .values_list("action", flat=True)
        )
        assert actions == ["usage_import.uploaded", "usage_import.started", "usage_import.finished"]
    assert events(world.tv) == [
        ("e-1", world.alpha.pk, world.acme.pk, world.calls.pk, Decimal("10.000000")),
        ("e-2", world.alpha.pk, world.globex.pk, world.storage.pk, Decimal("12.500000")),
        ("e-8", world.alpha.pk, world.acme.pk, world.devices.pk, Decimal("1.000000")),
    ]
    assert staged_files(stage_dir) == []  # the staged file goes when the import is done


def test_importing_the_same_file_again_counts_duplicates_not_new_events(world):
    body = HEADER + valid_rows(1500, when=WHEN)
    with schema_context(world.tv.schema):
        first = usage_import_stage(upload=upload(body), partner=world.alpha, actor=ACTOR)
        usage_import_start(usage_import=first, actor=ACTOR)
        import_usage.apply(args=[first.pk])
        second = usage_import_stage(upload=upload(body), partner=world.alpha, actor=ACTOR)
        assert counts(second)["rejected"] == 0  # a duplicate is not an error
        usage_import_start(usage_import=second, actor=ACTOR)
        import_usage.apply(args=[second.pk])
        assert counts(first) == {
            "status": "done",
            "total_rows": 1500,
            "processed_rows": 1500,
            "accepted": 1500,
            "duplicates": 0,
            "rejected": 0,
        }
        assert counts(second) == {
            "status": "done",
            "total_rows": 1500,
            "processed_rows": 1500,
            "accepted": 0,
            "duplicates": 1500,
            "rejected": 0,
        }
        assert UsageEvent.objects.count() == 1500
        expected_sum = sum(n % 7 + 1 for n in range(1500))
        assert sum(UsageEvent.objects.values_list("quantity", flat=True)) == expected_sum


def test_a_partner_cannot_import_into_another_partners_clients(world):
    body = (
        HEADER
        + f"a-1,BETA-ONLY,api_calls,5,{WHEN},\n"  # Beta's client
        + f"a-2,ACME,api_calls,5,{WHEN},\n"  # Alpha's ACME, not Beta's
    )
    with schema_context(world.tv.schema):
        usage_import = usage_import_stage(upload=upload(body), partner=world.alpha, actor=ACTOR)
        assert usage_import.errors == [
            {
                "row": 2,
                "errors": [
                    {"field": "client", "code": "not_found", "message": "No client 'BETA-ONLY'."}
                ],
            }
        ]
        usage_import_start(usage_import=usage_import, actor=ACTOR)
        import_usage.apply(args=[usage_import.pk])
        assert (counts(usage_import)["accepted"], counts(usage_import)["rejected"]) == (1, 1)
        assert [e["row"] for e in usage_import.errors] == [2]
    assert events(world.tv) == [
        ("a-2", world.alpha.pk, world.acme.pk, world.calls.pk, Decimal("5.000000"))
    ]


def test_a_partner_file_with_a_partner_column_is_refused(world, stage_dir):
    body = CONSOLE_HEADER + f"x,P-BETA,ACME,api_calls,1,{WHEN},\n"
    with schema_context(world.tv.schema), pytest.raises(BillingError) as caught:
        usage_import_stage(upload=upload(body), partner=world.alpha, actor=ACTOR)
    assert str(caught.value) == (
        "The header row must be event_id,client,meter,quantity,timestamp[,properties] "
        "(unknown partner)."
    )
    with schema_context(world.tv.schema):
        assert UsageImport.objects.count() == 0
    assert staged_files(stage_dir) == []


def test_a_console_file_names_each_rows_partner(world):
    body = (
        CONSOLE_HEADER
        + f"c-1,P-ALPHA,ACME,api_calls,1,{WHEN},\n"
        + f"c-2,{world.beta.pk},ACME,api_calls,2,{WHEN},\n"
        + f"c-3,,ACME,api_calls,3,{WHEN},\n"
        + f"c-4,P-ALPHA,BETA-ONLY,api_calls,4,{WHEN},\n"
    )
    with schema_context(world.tv.schema):
        usage_import = usage_import_stage(upload=upload(body), partner=None, actor=ACTOR)
        assert [(e["row"], e["errors"][0]["message"]) for e in usage_import.errors] == [
            (
                4,
                "partner is required: the partner's id or external_id (client ids are unique "
                "per partner only).",
            ),
            (5, "No client 'BETA-ONLY' of partner 'P-ALPHA'."),
        ]
        usage_import_start(usage_import=usage_import, actor=ACTOR)
        import_usage.apply(args=[usage_import.pk])
        assert counts(usage_import)["accepted"] == 2
        assert usage_import.errors[0]["errors"][0]["message"].startswith("partner is required")
    assert events(world.tv) == [
        ("c-1", world.alpha.pk, world.acme.pk, world.calls.pk, Decimal("1.000000")),
        ("c-2", world.beta.pk, world.beta_acme.pk, world.calls.pk, Decimal("2.000000")),
    ]


def test_batches_of_1000_move_the_counters_one_batch_at_a_time(world, monkeypatch):
    body = HEADER + valid_rows(2500, when=WHEN)
    seen = []
    real = ingest_module.ingest_batch

    def spy(items, *, caller_partner_id):
        row = UsageImport.objects.values_list("processed_rows", "accepted").get()
        seen.append((len(items), *row))
        return real(items, caller_partner_id=caller_partner_id)

    monkeypatch.setattr(service, "ingest_batch", spy)
    with schema_context(world.tv.schema):
        usage_import = usage_import_stage(upload=upload(body), partner=world.alpha, actor=ACTOR)
        usage_import_start(usage_import=usage_import, actor=ACTOR)
        usage_import_run(usage_import=usage_import)
        assert counts(usage_import)["accepted"] == 2500
    assert seen == [(1000, 0, 0), (1000, 1000, 1000), (500, 2000, 2000)]


def test_a_failed_run_resumes_after_its_last_batch_with_the_counts_of_one_clean_run(
    world, monkeypatch
):
    body = HEADER + valid_rows(2500, when=WHEN) + f"bad,ACME,api_calls,x,{WHEN},\n"
    real = ingest_module.ingest_batch
    calls = []

    def flaky(items, *, caller_partner_id):
        calls.append(len(items))
        if len(calls) == 2:
            raise RuntimeError("the database went away")
        return real(items, caller_partner_id=caller_partner_id)

    with schema_context(world.tv.schema):
        usage_import = usage_import_stage(upload=upload(body), partner=world.alpha, actor=ACTOR)
        usage_import_start(usage_import=usage_import, actor=ACTOR)
        monkeypatch.setattr(service, "ingest_batch", flaky)
        usage_import_run(usage_import=usage_import)
        # The first batch is stored and counted; the second rolled back, events and counters.
        assert counts(usage_import) == {
            "status": "failed",
            "total_rows": 2501,
            "processed_rows": 1000,
            "accepted": 1000,
            "duplicates": 0,
            "rejected": 0,
        }
        assert usage_import.failure.startswith("The import stopped because of an unexpected")
        assert UsageEvent.objects.count() == 1000

        usage_import_start(usage_import=usage_import, actor=ACTOR)  # retry
        usage_import_run(usage_import=usage_import)
        assert counts(usage_import) == {
            "status": "done",
            "total_rows": 2501,
            "processed_rows": 2501,
            "accepted": 2500,
            "duplicates": 0,
            "rejected": 1,
        }
        assert [e["row"] for e in usage_import.errors] == [2502]
        assert UsageEvent.objects.count() == 2500
        assert calls == [1000, 1000, 1000, 501]  # batch 2 once more, never batch 1
        assert "usage_import.retried" in AuditEntry.objects.values_list("action", flat=True)


def test_a_second_runner_stands_down_when_the_counters_moved_under_it(world):
    body = HEADER + valid_rows(1200, when=WHEN)
    with schema_context(world.tv.schema):
        usage_import = usage_import_stage(upload=upload(body), partner=world.alpha, actor=ACTOR)
        usage_import_start(usage_import=usage_import, actor=ACTOR)
        # Another runner (a redelivered task) is one batch ahead of this one.
        UsageImport.objects.filter(pk=usage_import.pk).update(
            status="running", processed_rows=1000, accepted=1000
        )
        rows = list(read_file_rows(staged_file(usage_import), with_partner=False))
        with (
            mock.patch.object(service, "ingest_batch") as ingest,
            pytest.raises(service._Superseded),
        ):
            service._import_batch(usage_import, rows[:1000], 0, [], world.alpha.pk)
        assert ingest.call_count == 0
        assert counts(usage_import)["processed_rows"] == 1000


def test_a_big_file_is_checked_by_the_task_with_progress_then_imported(
    world, settings, monkeypatch, django_capture_on_commit_callbacks
):
    settings.USAGE_IMPORT_INLINE_CHECK_BYTES = 4096
    monkeypatch.setattr(service, "CHECK_PROGRESS_ROWS", 1000)
    body = (
        HEADER
        + valid_rows(1500, when=WHEN)
        + "\n\n"  # blank lines: the first estimate of the rows is too high, never too low
        + f"bad,NOBODY,api_calls,1,{WHEN},\n"
        + valid_rows(1000, start=1500, when=WHEN)
    )
    with schema_context(world.tv.schema):
        with (
            mock.patch.object(import_usage, "delay") as delay,
            django_capture_on_commit_callbacks(execute=True),
        ):
            usage_import = usage_import_stage(upload=upload(body), partner=world.alpha, actor=ACTOR)
        delay.assert_called_once_with(usage_import.pk)
        assert service.is_checking(usage_import)
        assert counts(usage_import) == {
            "status": "queued",
            "total_rows": 2503,  # lines after the header
            "processed_rows": 0,
            "accepted": 0,
            "duplicates": 0,
            "rejected": 0,
        }
        assert UsageEvent.objects.count() == 0

        with pytest.raises(BillingError, match="still being checked"):
            usage_import_start(usage_import=usage_import, actor=ACTOR)

        seen = []
        real_check = service.check_file

        def recording(path, **kwargs):
            write = kwargs.pop("on_progress")

            def on_progress(summary):
                write(summary)
                seen.append(
                    UsageImport.objects.values_list("status", "processed_rows", "rejected").get()
                )

            return real_check(path, on_progress=on_progress, **kwargs)

        with mock.patch.object(service, "check_file", side_effect=recording):
            import_usage.apply(args=[usage_import.pk])
        # The counters move every 1,000 rows checked (not after the last 501).
        assert seen == [("running", 1000, 0), ("running", 2000, 1), ("running", 2000, 1)]
        assert counts(usage_import) == {
            "status": "previewed",
            "total_rows": 2501,
            "processed_rows": 0,
            "accepted": 0,
            "duplicates": 0,
            "rejected": 1,
        }
        assert usage_import.errors == [
            {
                "row": 1504,
                "errors": [
                    {"field": "client", "code": "not_found", "message": "No client 'NOBODY'."}
                ],
            }
        ]
        assert not service.is_checking(usage_import)
        assert UsageEvent.objects.count() == 0  # a check writes nothing

        with mock.patch.object(import_usage, "delay"):
            usage_import_start(usage_import=usage_import, actor=ACTOR)
        import_usage.apply(args=[usage_import.pk])
        assert counts(usage_import) == {
            "status": "done",
            "total_rows": 2501,
            "processed_rows": 2501,
            "accepted": 2500,
            "duplicates": 0,
            "rejected": 1,
        }
        actions = list(
            AuditEntry.objects.filter(object_id=str(usage_import.pk))
            .order_by("id")
            .values_list("action", flat=True)
        )
        assert actions == [
            "usage_import.uploaded",
            "usage_import.checked",
            "usage_import.started",
            "usage_import.finished",
        ]


def test_a_check_that_failed_can_run_again(world, settings, monkeypatch):
    settings.USAGE_IMPORT_INLINE_CHECK_BYTES = 1024
    body = HEADER + valid_rows(200, when=WHEN)
    with schema_context(world.tv.schema):
        usage_import = usage_import_stage(upload=upload(body), partner=world.alpha, actor=ACTOR)
        with mock.patch.object(service, "check_file", side_effect=RuntimeError("boom")):
            import_usage.apply(args=[usage_import.pk])
        usage_import.refresh_from_db()
        assert (usage_import.status, usage_import.failure) == (
            "failed",
            "The check stopped because of an unexpected error; try again.",
        )
        usage_import = usage_import_start(usage_import=usage_import, actor=ACTOR)
        assert service.is_checking(usage_import)
        import_usage.apply(args=[usage_import.pk])
        assert counts(usage_import)["status"] == "previewed"
        assert (usage_import.total_rows, usage_import.rejected) == (200, 0)


def test_only_the_first_50_row_errors_are_kept_and_every_one_is_counted(world):
    body = HEADER + "".join(f"e{n},NOBODY,api_calls,1,{WHEN},\n" for n in range(120))
    body += valid_rows(3, when=WHEN)
    with schema_context(world.tv.schema):
        usage_import = usage_import_stage(upload=upload(body), partner=world.alpha, actor=ACTOR)
        assert (usage_import.total_rows, usage_import.rejected) == (123, 120)
        assert [e["row"] for e in usage_import.errors] == list(range(2, 52))
        usage_import_start(usage_import=usage_import, actor=ACTOR)
        import_usage.apply(args=[usage_import.pk])
        assert counts(usage_import)["rejected"] == 120
        assert counts(usage_import)["accepted"] == 3
        assert len(usage_import.errors) == 50


@pytest.mark.parametrize(
    "content, message",
    [
        ("", "The file is empty."),
        (HEADER, "The file has a header row but no usage rows."),
        ("a,b\n1,2\n", "The header row must be event_id,client,meter,quantity,timestamp"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "This is not a CSV file."),
    ],
)
def test_unusable_uploads_leave_nothing_behind(world, stage_dir, content, message):
    with schema_context(world.tv.schema):
        with pytest.raises(BillingError) as caught:
            usage_import_stage(upload=upload(content), partner=world.alpha, actor=ACTOR)
        assert str(caught.value).startswith(message)
        assert caught.value.field == "file"
        assert UsageImport.objects.count() == 0
        assert AuditEntry.objects.filter(action__startswith="usage_import").count() == 0
    assert staged_files(stage_dir) == []


def test_a_file_over_the_size_limit_is_refused(world, settings, stage_dir):
    settings.USAGE_IMPORT_MAX_BYTES = 2048
    body = HEADER + valid_rows(100, when=WHEN)
    assert len(body) > 2048
    with schema_context(world.tv.schema):
        with pytest.raises(BillingError) as caught:
            usage_import_stage(upload=upload(body), partner=world.alpha, actor=ACTOR)
        assert str(caught.value) == "The file is larger than 2 KB; split it into smaller files."
        # Also when the upload does not say its size: the writing stops at the limit.
        unsized = upload(body)
        unsized.size = None
        with pytest.raises(BillingError):
            usage_import_stage(upload=unsized, partner=world.alpha, actor=ACTOR)
        assert UsageImport.objects.count() == 0
    assert staged_files(stage_dir) == []


def test_start_refusals_and_discard(world, stage_dir):
    with schema_context(world.tv.schema):
        invalid = usage_import_stage(
            upload=upload(HEADER + f"x,NOBODY,api_calls,1,{WHEN},\n"),
            partner=world.alpha,
            actor=ACTOR,
        )
        with pytest.raises(BillingError, match="No row is valid"):
            usage_import_start(usage_import=invalid, actor=ACTOR)
        assert counts(invalid)["status"] == "previewed"
        usage_import_discard(usage_import=invalid, actor=ACTOR)
        assert not UsageImport.objects.filter(pk=invalid.pk).exists()
        assert AuditEntry.objects.filter(
            action="usage_import.discarded", object_id=str(invalid.pk)
        ).exists()

        good = usage_import_stage(
            upload=upload(HEADER + valid_rows(2, when=WHEN)), partner=world.alpha, actor=ACTOR
        )
        usage_import_start(usage_import=good, actor=ACTOR)
        with pytest.raises(BillingError, match="already running"):
            usage_import_start(usage_import=good, actor=ACTOR)
        with pytest.raises(BillingError, match="Only an upload that was not imported"):
            usage_import_discard(usage_import=good, actor=ACTOR)
        import_usage.apply(args=[good.pk])
        with pytest.raises(BillingError, match="This import is done"):
            usage_import_start(usage_import=good, actor=ACTOR)


def test_discarding_removes_the_staged_file_after_commit(
    world, stage_dir, django_capture_on_commit_callbacks
):
    with schema_context(world.tv.schema):
        usage_import = usage_import_stage(
            upload=upload(HEADER + valid_rows(2, when=WHEN)), partner=world.alpha, actor=ACTOR
        )
        assert len(staged_files(stage_dir)) == 1
        with django_capture_on_commit_callbacks(execute=True):
            usage_import_discard(usage_import=usage_import, actor=ACTOR)
    assert staged_files(stage_dir) == []


def test_checked_uploads_left_for_two_days_are_discarded(world, stage_dir):
    with schema_context(world.tv.schema):
        old = usage_import_stage(
            upload=upload(HEADER + valid_rows(2, when=WHEN)), partner=world.alpha, actor=ACTOR
        )
        UsageImport.objects.filter(pk=old.pk).update(
            created_at=timezone.now() - datetime.timedelta(days=2, minutes=1)
        )
        old_path = staged_file(old)
        usage_import_stage(
            upload=upload(HEADER + valid_rows(2, when=WHEN)), partner=world.alpha, actor=ACTOR
        )
        old.refresh_from_db()
        assert (old.status, old.staged_path) == ("failed", "")
        assert old.failure.startswith("Not imported within two days")
        assert not old_path.exists()
        with pytest.raises(BillingError, match="The uploaded file is gone"):
            usage_import_start(usage_import=old, actor=ACTOR)


def test_a_file_gone_from_the_shared_volume_fails_the_import_readably(world):
    with schema_context(world.tv.schema):
        usage_import = usage_import_stage(
            upload=upload(HEADER + valid_rows(2, when=WHEN)), partner=world.alpha, actor=ACTOR
        )
        usage_import_start(usage_import=usage_import, actor=ACTOR)
        staged_file(usage_import).unlink()
        import_usage.apply(args=[usage_import.pk])
        usage_import.refresh_from_db()
        assert (usage_import.status, usage_import.failure) == (
            "failed",
            "The uploaded file is gone; upload it again.",
        )
        assert UsageEvent.objects.count() == 0


@pytest.fixture
def celery_eager():
    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = previous


def test_start_queues_the_task_after_commit_and_celery_eager_mode_runs_it(
    world, celery_eager, django_capture_on_commit_callbacks
):
    with schema_context(world.tv.schema):
        usage_import = usage_import_stage(
            upload=upload(HEADER + valid_rows(1200, when=WHEN)), partner=world.alpha, actor=ACTOR
        )
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            usage_import_start(usage_import=usage_import, actor=ACTOR)
        assert counts(usage_import)["status"] == "queued"  # nothing is sent before the commit
        callbacks[0]()  # the commit: Celery (eager) runs the task here, in this schema
        assert counts(usage_import) == {
            "status": "done",
            "total_rows": 1200,
            "processed_rows": 1200,
            "accepted": 1200,
            "duplicates": 0,
            "rejected": 0,
        }
        assert UsageEvent.objects.filter(partner=world.alpha).count() == 1200


def test_a_broker_that_is_down_fails_the_import_so_it_can_be_retried(
    world, django_capture_on_commit_callbacks
):
    with schema_context(world.tv.schema):
        usage_import = usage_import_stage(
            upload=upload(HEADER + valid_rows(2, when=WHEN)), partner=world.alpha, actor=ACTOR
        )
        with (
            mock.patch.object(import_usage, "delay", side_effect=OSError("no broker")),
            django_capture_on_commit_callbacks(execute=True),
        ):
            usage_import_start(usage_import=usage_import, actor=ACTOR)
        usage_import.refresh_from_db()
        assert usage_import.status == "failed"
        assert usage_import.failure == "The import could not be queued. Try again in a moment."
        assert service.can_start(usage_import)


# ---- a real worker process ----------------------------------------------------------------------

worker = worker_support.worker


@pytest.mark.worker
def test_a_real_worker_imports_a_queued_file(worker, vendor_a):
    """Committed rows (the worker has its own connections), the default staging directory (the
    worker process has the same settings), and cleanup of everything afterwards."""
    schema = vendor_a.schema
    stage_root = Path(django_settings.MEDIA_ROOT) / "usage-imports"

    def setup():
        with (
            schema_context(schema),
            mock.patch.object(service, "_stage_root", return_value=stage_root),
        ):
            w = make_world(vendor_a)
            usage_import = usage_import_stage(
                upload=upload(HEADER + valid_rows(2100, when=WHEN) + "bad,ACME\n"),
                partner=w.alpha,
                actor=ACTOR,
            )
            with mock.patch.object(service, "_dispatch"):  # the test sends the task itself
                usage_import_start(usage_import=usage_import, actor=ACTOR)
            return w, usage_import.pk

    def cleanup(w, pk):
        with schema_context(schema):
            UsageEvent.objects.filter(partner__in=[w.alpha, w.beta]).delete()
            usage_import = UsageImport.objects.filter(pk=pk).first()
            if usage_import is not None:
                path = staged_file(usage_import)
                if path is not None:
                    path.unlink(missing_ok=True)
                usage_import.delete()
            AuditEntry.objects.filter(object_id=str(pk), action__startswith="usage_import").delete()
            for client in (w.acme, w.globex, w.beta_acme, w.beta_only):
                client.delete()
            for meter in (w.storage, w.calls, w.devices):
                meter.delete()
            for partner in (w.alpha, w.beta):
                track = partner.track
                partner.delete()
                program = track.program
                track.delete()
                program.delete()

    w, pk = committed(setup)
    try:
        with schema_context(schema):
            result = import_usage.delay(pk).get(timeout=60)
        assert result == {
            "status": "done",
            "processed_rows": 2101,
            "accepted": 2100,
            "duplicates": 0,
            "rejected": 1,
        }
        with schema_context(schema):
            assert UsageEvent.objects.filter(partner=w.alpha).count() == 2100
    finally:
        committed(cleanup, w, pk)
