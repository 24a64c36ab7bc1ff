"""`capa show` for people: it fits an 80-column terminal and tells the timeline in sentences."""

import re

from models.payloads import Event
from models.sentences import sentence
from tests.cli.conftest import Capa

LONG = (
    "Burrs of up to 0.3 mm on the sealing edge of housings from line 3, found at final inspection, station 4, "
    "during the second shift; the customer's drawing allows none on that edge"
)


def timeline(out: str) -> list[tuple[int, str]]:
    """The timeline's rows as printed: each entry's number and its text, wrapped lines joined again."""
    lines = out.splitlines()
    header = next(i for i, line in enumerate(lines) if re.match(r"^\s*#\s+AT\s+WHAT\s*$", line))
    column = lines[header].index("WHAT")
    rows: list[tuple[int, list[str]]] = []
    for line in lines[header + 2 :]:
        number, text = line[:column].split(maxsplit=1)[:1], line[column:].strip()
        if number:
            rows.append((int(number[0]), [text]))
        elif text:
            rows[-1][1].append(text)
    return [(seq, " ".join(parts)) for seq, parts in rows]


async def test_show_fits_80_columns_and_reads_as_sentences(capa: Capa) -> None:
    """At 80 columns no line is longer, long text wraps at spaces, and each entry is its sentence."""
    record_id = await capa.raise_record(owner="olivia")
    await capa.ok(
        "contain", record_id, "--summary", LONG, "--disposition", "quarantine", "--quantity", "40", user="olivia"
    )
    await capa.ok(
        "root-cause", record_id, "--method", "fishbone", "--cause", LONG, "--category", "machine", user="olivia"
    )
    await capa.ok(
        "plan",
        record_id,
        "--action",
        f"olivia:10d:{LONG}",
        "--action",
        "oscar:20d:Track tool life in the MES",
        user="olivia",
    )
    await capa.ok("complete-action", record_id, "A2", "--evidence", "Tool replaced, WO-5531", user="oscar")

    run = await capa("show", record_id, user="olivia", env={"COLUMNS": "80"})
    assert run.code == 0, run.err
    lines = run.out.splitlines()
    assert all(len(line) <= 80 for line in lines), "\n".join(line for line in lines if len(line) > 80)
    # Words are wrapped whole: every word of the long text is on some line.
    words = {word for line in lines for word in line.split()}
    assert set(LONG.split()) <= words
    events = [Event.model_validate(event) for event in (await capa.show(record_id))["events"]]
    assert timeline(run.out) == [(event.seq, sentence(event)) for event in events]
    assert (5, "A2 completed by oscar, on time: Tool replaced, WO-5531") in timeline(run.out)
    assert "{" not in run.out
