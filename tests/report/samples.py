"""Records to report on: a closed record with signatures, evidence files and a hash-chained timeline, as the
workflow keeps them, built from JSON values the way a record's state reaches a front end."""

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

from models.payloads import CapaState

RAISED_AT = datetime(2026, 2, 2, 8, 15, 0, tzinfo=UTC)
GENERATED_AT = datetime(2026, 3, 2, 9, 30, 5, tzinfo=UTC)
NAMES = {
    "otto": "Otto Berger",
    "olivia": "Olivia Novak",
    "oscar": "Oscar Lindqvist",
    "mike": "Mike Brennan",
    "maria": "Maria Keller",
    "ada": "Ada Lovelace",
}


def _at(days: float) -> str:
    return (RAISED_AT + timedelta(days=days)).isoformat()


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def signature(signer: str, meaning: str, days: float) -> dict[str, Any]:
    return {
        "signer": signer,
        "full_name": NAMES[signer],
        "meaning": meaning,
        "signed_at": _at(days),
        "content_sha256": sha(f"{signer} {meaning}"),
    }


def file_ref(name: str, to: str, media_type: str, size: int, *, days: float, by: str = "olivia") -> dict[str, Any]:
    return {
        "name": name,
        "size": size,
        "media_type": media_type,
        "sha256": sha(name),
        "to": to,
        "uploaded_by": by,
        "uploaded_at": _at(days),
    }


def _clock(holder: str, due_days: float) -> dict[str, Any]:
    return {"holder": holder, "due_at": _at(due_days), "original_due_at": _at(due_days), "armed_at": _at(1)}


def closed_record(
    *, actions: int = 2, entries: int = 0, title: str = "Burr on housing edge", chained: bool = True
) -> CapaState:
    """A record taken from raise to closed: containment, five-whys root cause, ``actions`` actions completed, a
    signed verification and a signed effective review, files on containment, A1 and verification. ``entries``
    pads the timeline with reminders to at least that many entries."""
    verify_sig = signature("mike", "verified: actions implemented", 20)
    review_sig = signature("maria", "approved: effective, record closed", 28.25)
    timeline: list[tuple[float, str, str, dict[str, Any]]] = [
        (
            0,
            "raised",
            "otto",
            {
                "title": title,
                "description": "Line 3 housings show a burr on the top edge; found at final inspection.",
                "severity": "major",
                "source": "inspection",
                "owner": "olivia",
                "product": "H-200",
                "lot": "L-4711",
                "quantity": 120,
            },
        ),
        (
            0.1,
            "containment_submitted",
            "olivia",
            {"summary": "Lot L-4711 quarantined, 120 pcs", "disposition": "quarantine", "quantity": 120},
        ),
        (
            2,
            "root_cause_submitted",
            "olivia",
            {
                "method": "five-whys",
                "cause": "Deburring tool used beyond its change interval",
                "whys": ["Burr on edge", "Deburring tool worn", "No tool-life counter on station 3"],
                "category": "machine",
                "escape_point": "Final inspection only samples 1 in 20",
                "cycle": 1,
            },
        ),
    ]
    plan = [
        {
            "owner": "oscar" if i % 2 else "olivia",
            "due_at": _at(15),
            "description": f"Action {i}: replace deburring tool and add a tool-life counter to station {i}",
            "kind": "corrective" if i % 3 else "preventive",
        }
        for i in range(1, actions + 1)
    ]
    ids = [f"A{i}" for i in range(1, actions + 1)]
    timeline.append((3, "plan_submitted", "olivia", {"actions": plan, "action_ids": ids}))
    while len(timeline) + actions + 4 < entries:
        n = len(timeline)
        timeline.append(
            (
                3 + n * 0.01,
                "reminder_sent",
                "system",
                {
                    "target": ids[n % actions],
                    "holder": plan[n % actions]["owner"],
                    "due_at": _at(15),
                    "scheduled_at": _at(3 + n * 0.01),
                    "recipients": [plan[n % actions]["owner"]],
                },
            )
        )
    for i, action_id in enumerate(ids, start=1):
        timeline.append(
            (
                10 + i * 0.01,
                "action_completed",
                plan[i - 1]["owner"],
                {"action_id": action_id, "evidence": f"Tool replaced, work order WO-55{i:02d}", "on_time": True},
            )
        )
    timeline += [
        (
            20,
            "verified",
            "mike",
            {"result": "pass", "evidence": "50 housings checked, no burr", "signature": verify_sig},
        ),
        (20, "effectiveness_due", "system", {"review_due_at": _at(28)}),
        (
            28.25,
            "effectiveness_reviewed",
            "maria",
            {"result": "effective", "evidence": "No burr in 3 lots since", "signature": review_sig},
        ),
        (28.25, "closed", "system", {"cycles": 1}),
    ]
    events = []
    previous = "0" * 64
    for seq, (days, kind, actor, details) in enumerate(timeline, start=1):
        event: dict[str, Any] = {"seq": seq, "at": _at(days), "kind": kind, "actor": actor, "details": details}
        if chained:
            previous = event["hash"] = sha(f"{previous}{seq}{kind}")
        events.append(event)
    state: dict[str, Any] = {
        "id": "NC-2026-0042",
        "title": title,
        "description": timeline[0][3]["description"],
        "severity": "major",
        "source": "inspection",
        "product": "H-200",
        "lot": "L-4711",
        "quantity": 120,
        "raised_by": "otto",
        "raised_at": _at(0),
        "owner": "olivia",
        "stage": "closed",
        "awaiting_plan": False,
        "closed_at": _at(28.25),
        "containment": {
            "summary": "Lot L-4711 quarantined, 120 pcs",
            "disposition": "quarantine",
            "quantity": 120,
            "by": "olivia",
            "at": _at(0.1),
        },
        "root_causes": [{**timeline[2][3], "by": "olivia", "at": _at(2), "similar_checked": None}],
        "actions": [
            {
                "id": action_id,
                "cycle": 1,
                "round": 1,
                "kind": plan[i]["kind"],
                "owner": plan[i]["owner"],
                "description": plan[i]["description"],
                "status": "completed",
                "clock": _clock(plan[i]["owner"], 15),
                "evidence": f"Tool replaced, work order WO-55{i + 1:02d}",
                "completed_by": plan[i]["owner"],
                "completed_at": _at(10 + (i + 1) * 0.01),
            }
            for i, action_id in enumerate(ids)
        ],
        "verifications": [
            {
                "round": 1,
                "result": "pass",
                "evidence": "50 housings checked, no burr",
                "by": "mike",
                "at": _at(20),
                "signature": verify_sig,
            }
        ],
        "reviews": [
            {
                "cycle": 1,
                "result": "effective",
                "evidence": "No burr in 3 lots since",
                "by": "maria",
                "at": _at(28.25),
                "signature": review_sig,
            }
        ],
        "files": [
            file_ref("IMG_2231.jpg", "containment", "image/jpeg", 2_483_117, days=0.1),
            file_ref("tool-change-WO-5501.pdf", "A1", "application/pdf", 181_204, days=10, by="olivia"),
            file_ref("inspection-50pcs.csv", "verification", "text/csv", 812, days=20, by="mike"),
        ],
        "events": events,
    }
    if chained:
        state["chain_head"] = previous
    return CapaState.model_validate(state)
