"""Evidence files on a record, the same way for every front end: attach files already kept (``core.files``) to a
step or an action, and find a file a record has.

The record judges the attachment (``models.rules.check_attach_file``); this module adds what a front end leaves
open: which step a file goes to when none is named, and that attaching the same content to the same target again
answers the file already there instead of a refusal.
"""

from client.errors import CapaError, ErrorKind, FieldProblem
from client.records import CapaClient
from core.files import StoredFile
from models import rules
from models.payloads import AttachFileStep, CapaState, FileRef


def default_target(state: CapaState) -> str:
    """What a file goes to when none is named: the step the record is in (its one open action, in stage action)."""
    target = rules.current_file_target(state)
    if target is None:
        why = f"{state.id} is in stage {state.stage.value}: name the step or action the files are for"
        raise CapaError.invalid(FieldProblem("to", why))
    return target


async def attach_files(
    client: CapaClient, record_id: str, actor_name: str, files: list[StoredFile], to: str | None = None
) -> list[FileRef]:
    """Attach each kept file to ``to`` (default: the record's current step); the files as the record lists them."""
    state, _ = await client.show_record(record_id)
    target = to or default_target(state)
    refs: list[FileRef] = []
    for kept in files:
        already = rules.attached(state, kept.sha256, target)
        if already is not None:
            refs.append(already)
            continue
        step = AttachFileStep(name=kept.name, size=kept.size, media_type=kept.media_type, sha256=kept.sha256, to=target)
        outcome = await client.take_step(record_id, actor_name, step)
        ref = next((e.details for e in outcome.entries if isinstance(e.details, FileRef)), None)
        if ref is None:  # a record of the earlier workflow shape, which answers without its entries
            raise CapaError(ErrorKind.WRONG_STAGE, f"{record_id} takes files once it is migrated to the current shape")
        refs.append(ref)
        state.files.append(ref)
    return refs


async def file_of(client: CapaClient, record_id: str, sha256: str) -> FileRef:
    """The file with this SHA-256 attached to the record (its first attachment); NOT_FOUND when it has none."""
    state, _ = await client.show_record(record_id)
    found = next((f for f in state.files if f.sha256 == sha256), None)
    if found is None:
        raise CapaError(ErrorKind.NOT_FOUND, f"{record_id} has no file with SHA-256 {sha256}")
    return found
