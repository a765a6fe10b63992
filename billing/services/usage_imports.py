"""Usage CSV imports: stage and check an upload, start the import, and run it (in a Celery task).

1. `usage_import_stage` writes the upload under settings.USAGE_IMPORT_DIR (on MEDIA_ROOT, which
   every web and worker container shares) and checks every row exactly as ingest will (nothing
   is written): the row count, the number of rows with errors (`rejected`) and the first row
   errors. A file up to USAGE_IMPORT_INLINE_CHECK_BYTES is checked in the request and its
   `UsageImport` is *previewed* at once; a bigger one is queued and checked by the task, with
   progress, and becomes *previewed* when the check is done. A file that cannot be used at all
   (too big, not CSV, not UTF-8, a wrong header, no rows) is refused in the request with a
   readable message and leaves nothing behind.
2. `usage_import_start` queues the import of a previewed file; the task is sent after the commit.
3. `usage_import_run` (the task `billing.import_usage`) feeds the rows to
   `billing.ingest.ingest_batch` in batches of 1,000 — the same checks, the same idempotency by
   event_id and the same late-usage handling as the API. Each batch commits its events together
   with the import's counters, so the counters always say exactly which rows are done: a run
   killed half-way (or failed) and started again resumes after the last committed batch, and the
   counts end as those of one clean run. A second runner of the same import (a redelivered task)
   notices that the counters moved under it and stops.

The two phases share the statuses queued/running/failed: `started_at` is set when someone starts
the *import* (usage_import_start), so a queued or running import without it is still being
checked (`is_checking`). During the check `total_rows` is an upper bound from the file's line
count (for the progress bar) and `processed_rows` counts the rows checked; when it ends,
`total_rows` is exact and `processed_rows` is back to 0.

Invalid rows are skipped and counted (`rejected`); the first `MAX_ROW_ERRORS` are kept to show.
Importing the same file again counts its events as duplicates, never stores them twice.
"""

from __future__ import annotations

import contextlib
import datetime
import logging
import secrets
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from billing.errors import BillingError
from billing.ingest import IngestResult, ingest_batch
from billing.models_invoicing import UsageImport, UsageImportStatus
from billing.usage_csv import (
    MAX_ROW_ERRORS,
    CheckSummary,
    check_file,
    chunked,
    csv_errors,
    has_rows,
    read_file_rows,
    row_count_bound,
)
from core.actors import Actor
from core.services.audit import audit_record
from partners.models import Partner

logger = logging.getLogger(__name__)

BATCH_SIZE = 1000
# A checked upload nobody imported is discarded after this long.
PREVIEW_MAX_AGE = datetime.timedelta(days=2)
DEFAULT_MAX_BYTES = 50 * 1024 * 1024
DEFAULT_INLINE_CHECK_BYTES = 2 * 1024 * 1024
# During a background check, the counters are written every this many rows.
CHECK_PROGRESS_ROWS = 5000
S = UsageImportStatus
COUNTS = ("total_rows", "processed_rows", "accepted", "duplicates", "rejected")


def max_upload_bytes() -> int:
    return int(getattr(settings, "USAGE_IMPORT_MAX_BYTES", DEFAULT_MAX_BYTES))


def inline_check_bytes() -> int:
    return int(getattr(settings, "USAGE_IMPORT_INLINE_CHECK_BYTES", DEFAULT_INLINE_CHECK_BYTES))


def is_checking(usage_import: UsageImport) -> bool:
    """Queued or running, but for the check of the file, not its import."""
    return usage_import.status in (S.QUEUED, S.RUNNING) and usage_import.started_at is None


def too_big_message() -> str:
    return f"The file is larger than {size_label(max_upload_bytes())}; split it into smaller files."


def size_label(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):g} MB"
    if size >= 1024:
        return f"{size / 1024:g} KB"
    return f"{size} bytes"


# ---- where uploads wait -------------------------------------------------------------------------


def _stage_root() -> Path:
    configured = getattr(settings, "USAGE_IMPORT_DIR", None)
    return Path(configured) if configured else Path(settings.MEDIA_ROOT) / "usage-imports"


def staged_file(usage_import: UsageImport) -> Path | None:
    """The staged upload of an import (None when there is none). `staged_path` is relative to
    USAGE_IMPORT_DIR: <schema>/<random token>.csv; anything else is refused."""
    name = usage_import.staged_path
    if not name:
        return None
    parts = name.split("/")
    if len(parts) != 2 or not all(
        part and all(c.isalnum() or c in "-_." for c in part) and not part.startswith(".")
        for part in parts
    ):
        return None
    return _stage_root() / parts[0] / parts[1]


def _new_stage_path() -> tuple[str, Path]:
    schema = connection.schema_name
    directory = _stage_root() / schema
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    name = f"{schema}/{secrets.token_urlsafe(24)}.csv"
    return name, _stage_root() / name


def _remove(path: Path | None) -> None:
    if path is not None:
        with contextlib.suppress(OSError):
            path.unlink(missing_ok=True)


def _with_partner(usage_import: UsageImport) -> bool:
    """Console uploads name each row's partner; a partner's upload names its own clients."""
    return usage_import.partner_id is None


# ---- stage and check ----------------------------------------------------------------------------


def usage_import_stage(
    *, upload: UploadedFile, partner: Partner | None, actor: Actor
) -> UsageImport:
    """Keep the upload and check it: every row in the request for a small file, the header and
    the first row for a big one (whose rows the task checks). `partner`: the uploading partner
    (its rows name its own clients), None for a console upload (rows name their partner)."""
    if partner is not None and partner.is_read_only:
        raise BillingError(f"{partner.name} is {partner.get_status_display().lower()}.")
    if upload.size is not None and upload.size > max_upload_bytes():
        raise BillingError(too_big_message(), field="file")
    if upload.size == 0:
        raise BillingError("The file is empty.", field="file")
    _purge_stale()
    name, path = _new_stage_path()
    with_partner = partner is None
    try:
        written = 0
        with path.open("wb") as out:
            path.chmod(0o600)
            for chunk in upload.chunks():
                written += len(chunk)
                if written > max_upload_bytes():
                    raise BillingError(too_big_message(), field="file")
                out.write(chunk)
        if not has_rows(path, with_partner=with_partner):
            raise BillingError("The file has a header row but no usage rows.", field="file")
        fields: dict[str, Any]
        if written <= inline_check_bytes():
            summary = check_file(
                path,
                with_partner=with_partner,
                caller_partner_id=partner.pk if partner is not None else None,
            )
            fields = {
                "status": S.PREVIEWED,
                "total_rows": summary.total_rows,
                "rejected": summary.invalid_rows,
                "errors": summary.errors or [],
            }
        else:
            fields = {"status": S.QUEUED, "total_rows": row_count_bound(path)}
        with transaction.atomic():
            usage_import = UsageImport.objects.create(
                partner=partner,
                uploaded_by_label=actor.label[:254],
                filename=(upload.name or "usage.csv")[:255],
                staged_path=name,
                **fields,
            )
            audit_record(
                actor=actor,
                action="usage_import.uploaded",
                instance=usage_import,
                after={
                    "filename": usage_import.filename,
                    "partner_id": usage_import.partner_id,
                    "bytes": written,
                    "checked": usage_import.status == S.PREVIEWED,
                    "total_rows": usage_import.total_rows,
                    "rows_with_errors": usage_import.rejected,
                },
            )
            if usage_import.status == S.QUEUED:
                pk = usage_import.pk
                transaction.on_commit(lambda: _dispatch(pk))
    except BaseException:
        _remove(path)
        raise
    return usage_import


def _purge_stale() -> None:
    """Checked uploads nobody imported in PREVIEW_MAX_AGE: their files go, the imports say so."""
    cutoff = timezone.now() - PREVIEW_MAX_AGE
    stale = list(UsageImport.objects.filter(status=S.PREVIEWED, created_at__lt=cutoff)[:100])
    for usage_import in stale:
        _remove(staged_file(usage_import))
    if stale:
        UsageImport.objects.filter(pk__in=[u.pk for u in stale], status=S.PREVIEWED).update(
            status=S.FAILED,
            staged_path="",
            failure="Not imported within two days of the upload; the file was discarded. "
            "Upload it again to import it.",
            finished_at=timezone.now(),
        )


# ---- start, discard -----------------------------------------------------------------------------


def can_start(usage_import: UsageImport) -> bool:
    if usage_import.status == S.PREVIEWED:
        return usage_import.total_rows > usage_import.rejected
    return usage_import.status == S.FAILED and bool(usage_import.staged_path)


def usage_import_start(*, usage_import: UsageImport, actor: Actor) -> UsageImport:
    """Queue the import of a checked file, or retry a failed one: a failed import resumes after
    its last committed batch, a failed check starts again. The task is sent after the commit."""
    with transaction.atomic():
        locked = UsageImport.objects.select_for_update().get(pk=usage_import.pk)
        if locked.status in (S.QUEUED, S.RUNNING):
            raise BillingError(
                "This file is still being checked."
                if is_checking(locked)
                else "This import is already running."
            )
        if locked.status == S.DONE:
            raise BillingError("This import is done; upload the file again to import it again.")
        if locked.status == S.PREVIEWED:
            if locked.total_rows <= locked.rejected:
                raise BillingError("No row is valid, so there is nothing to import.")
            # The check's figures make way for the import's own.
            locked.processed_rows = locked.accepted = locked.duplicates = locked.rejected = 0
            locked.errors = []
            locked.started_at = timezone.now()
            action = "usage_import.started"
        else:  # failed
            path = staged_file(locked)
            if path is None or not path.exists():
                raise BillingError("The uploaded file is gone; upload it again.")
            action = "usage_import.retried"
        locked.status = S.QUEUED
        locked.failure = ""
        locked.finished_at = None
        locked.save()
        audit_record(
            actor=actor,
            action=action,
            instance=locked,
            after={"filename": locked.filename, "processed_rows": locked.processed_rows},
        )
        pk = locked.pk
        transaction.on_commit(lambda: _dispatch(pk))
    return locked


def _dispatch(pk: int) -> None:
    from billing.tasks_usage import import_usage

    try:
        import_usage.delay(pk)
    except Exception:  # the broker is down: say so, the user can retry
        logger.exception("Could not queue usage import %s", pk)
        UsageImport.objects.filter(pk=pk, status=S.QUEUED).update(
            status=S.FAILED,
            failure="The import could not be queued. Try again in a moment.",
            finished_at=timezone.now(),
        )


def usage_import_discard(*, usage_import: UsageImport, actor: Actor) -> None:
    """Drop a checked upload that was not imported (nothing of it was stored)."""
    with transaction.atomic():
        locked = UsageImport.objects.select_for_update().get(pk=usage_import.pk)
        if locked.status != S.PREVIEWED:
            raise BillingError("Only an upload that was not imported can be discarded.")
        path = staged_file(locked)
        audit_record(
            actor=actor,
            action="usage_import.discarded",
            instance=locked,
            before={"filename": locked.filename, "total_rows": locked.total_rows},
        )
        locked.delete()
        transaction.on_commit(lambda: _remove(path))


# ---- the import itself --------------------------------------------------------------------------


class _Superseded(Exception):
    """Another run of the same import moved its counters: this one stops."""


def usage_import_run(*, usage_import: UsageImport) -> UsageImport:
    """The task's work: check a big file, or import the rows not imported yet, one committed
    batch at a time."""
    with transaction.atomic():
        locked = UsageImport.objects.select_for_update().filter(pk=usage_import.pk).first()
        if locked is None or locked.status not in (S.QUEUED, S.RUNNING):
            return locked or usage_import
        checking = is_checking(locked)
        if checking:  # (again, after a crash: a check writes nothing, so it starts over)
            locked.processed_rows = locked.rejected = 0
            locked.errors = []
        locked.status = S.RUNNING
        locked.save(update_fields=["status", "processed_rows", "rejected", "errors"])
    try:
        if checking:
            _check_rows(locked)
        else:
            _import_rows(locked)
    except _Superseded:
        pass
    except BillingError as exc:
        _fail(locked, str(exc))
    except Exception:
        logger.exception("Usage import %s failed", locked.pk)
        _fail(
            locked,
            "The check stopped because of an unexpected error; try again."
            if checking
            else "The import stopped because of an unexpected error. The rows counted as "
            "processed are stored; retry to import the rest.",
        )
    locked.refresh_from_db()
    return locked


def _check_rows(usage_import: UsageImport) -> None:
    path = staged_file(usage_import)
    if path is None or not path.exists():
        raise BillingError("The uploaded file is gone; upload it again.")
    bound = usage_import.total_rows
    written = {"rows": 0}

    def progress(summary: CheckSummary) -> None:
        if summary.total_rows - written["rows"] < CHECK_PROGRESS_ROWS:
            return
        written["rows"] = summary.total_rows
        moved = UsageImport.objects.filter(pk=usage_import.pk, status=S.RUNNING).update(
            processed_rows=min(summary.total_rows, bound),
            rejected=summary.invalid_rows,
            errors=summary.errors,
        )
        if not moved:
            raise _Superseded

    summary = check_file(
        path,
        with_partner=_with_partner(usage_import),
        caller_partner_id=usage_import.partner_id,
        on_progress=progress,
    )
    with transaction.atomic():
        updated = UsageImport.objects.filter(
            pk=usage_import.pk, status=S.RUNNING, started_at__isnull=True
        ).update(
            status=S.PREVIEWED,
            total_rows=summary.total_rows,
            processed_rows=0,
            rejected=summary.invalid_rows,
            errors=summary.errors,
        )
        if updated:
            audit_record(
                actor=Actor.system("usage import"),
                action="usage_import.checked",
                instance=usage_import,
                after={
                    "total_rows": summary.total_rows,
                    "rows_with_errors": summary.invalid_rows,
                },
            )


def _import_rows(usage_import: UsageImport) -> None:
    path = staged_file(usage_import)
    if path is None or not path.exists():
        raise BillingError("The uploaded file is gone; upload it again.")
    caller = usage_import.partner_id
    done = usage_import.processed_rows
    errors: list[dict[str, Any]] = list(usage_import.errors or [])
    seen = 0
    rows = read_file_rows(path, with_partner=_with_partner(usage_import))
    with contextlib.closing(rows):
        for batch in chunked(rows, BATCH_SIZE):
            seen += len(batch)
            if seen <= done:
                continue  # committed by an earlier run
            if seen - len(batch) < done:
                batch = batch[len(batch) - (seen - done) :]
            if seen > usage_import.total_rows:
                raise BillingError("The file has changed since it was checked; upload it again.")
            _import_batch(usage_import, batch, done, errors, caller)
            done = seen
    with transaction.atomic():
        locked = UsageImport.objects.select_for_update().get(pk=usage_import.pk)
        if locked.status != S.RUNNING or locked.processed_rows != done:
            raise _Superseded
        if done != locked.total_rows:
            raise BillingError("The file has changed since it was checked; upload it again.")
        path_to_remove = staged_file(locked)
        locked.status = S.DONE
        locked.finished_at = timezone.now()
        locked.staged_path = ""
        locked.save(update_fields=["status", "finished_at", "staged_path"])
        audit_record(
            actor=Actor.system("usage import"),
            action="usage_import.finished",
            instance=locked,
            after={name: getattr(locked, name) for name in ("filename", *COUNTS)},
        )
        transaction.on_commit(lambda: _remove(path_to_remove))


def _import_batch(
    usage_import: UsageImport,
    batch: list,
    done: int,
    errors: list[dict[str, Any]],
    caller_partner_id: int | None,
) -> None:
    """One batch and the counters, in one transaction."""
    sent = [row for row in batch if row.item is not None]
    with transaction.atomic():
        locked = (
            UsageImport.objects.select_for_update()
            .only("pk", "status", "processed_rows")
            .get(pk=usage_import.pk)
        )
        if locked.status != S.RUNNING or locked.processed_rows != done:
            raise _Superseded
        result = (
            ingest_batch([row.item for row in sent], caller_partner_id=caller_partner_id)
            if sent
            else IngestResult()
        )
        row_errors = {row.line: list(row.errors) for row in batch if row.item is None}
        for rejected in result.rejected:
            row_errors[sent[rejected["index"]].line] = csv_errors(rejected["errors"])
        for line in sorted(row_errors):
            if len(errors) >= MAX_ROW_ERRORS:
                break
            errors.append({"row": line, "errors": row_errors[line]})
        UsageImport.objects.filter(pk=usage_import.pk).update(
            processed_rows=F("processed_rows") + len(batch),
            accepted=F("accepted") + result.accepted,
            duplicates=F("duplicates") + result.duplicates,
            rejected=F("rejected") + len(row_errors),
            errors=errors,
        )


def _fail(usage_import: UsageImport, message: str) -> None:
    UsageImport.objects.filter(pk=usage_import.pk, status__in=[S.QUEUED, S.RUNNING]).update(
        status=S.FAILED, failure=message[:2000], finished_at=timezone.now()
    )
