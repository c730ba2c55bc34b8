"""Registration without the web: `simkyc register start|frames|status|review|cancel|report|check`.

    simkyc register start --id-record card.json --phone 13800000001 --outlet BJ-001 --clerk clerk1 --consent
    simkyc register frames REG_ID capture.mp4 --clerk clerk1
    simkyc register presence --id-number ... --name ... --outlet BJ-001 --clerk clerk1   # then frames
    simkyc register report ID_NUMBER --as clerk1 --presence PRESENCE_REG_ID

`start` prints the registration id and the liveness challenge (the actions to perform, in order,
and the deadline); `frames` submits a recording of the customer performing it and prints the
decision with its reason codes. Exit codes: 0 APPROVED, 1 REJECTED / REVIEW / RETRY, 2 refused
input (with `REASON: message` on stderr).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy import select

from simkyc.cli._common import console, fail, refusals_exit_2
from simkyc.errors import NotFoundError, Reason

__all__ = ["register", "register_app"]

register_app = typer.Typer(
    no_args_is_help=True, help="Register a phone number: ID, consent, liveness, decision."
)


def register(app: typer.Typer) -> None:
    app.add_typer(register_app, name="register")


def _staff_ids(
    *, outlet_code: str | None = None, username: str | None = None
) -> tuple[int | None, int | None]:
    from simkyc import bootstrap
    from simkyc.store.schema import outlet, staff_user

    with bootstrap.uow() as uow:
        oid = (
            uow.conn.execute(select(outlet.c.id).where(outlet.c.code == outlet_code)).scalar()
            if outlet_code
            else None
        )
        uid = (
            uow.conn.execute(select(staff_user.c.id).where(staff_user.c.username == username)).scalar()
            if username
            else None
        )
    if outlet_code and oid is None:
        raise NotFoundError(Reason.NOT_FOUND, f"no outlet {outlet_code!r}")
    if username and uid is None:
        raise NotFoundError(Reason.NOT_FOUND, f"no staff user {username!r}")
    return oid, uid


@register_app.command("start")
def start(
    phone: Annotated[str, typer.Option(help="The phone number to bind.")],
    outlet: Annotated[str, typer.Option(help="Outlet code.")],
    clerk: Annotated[str, typer.Option(help="Clerk user name (must belong to the outlet).")],
    id_record: Annotated[
        Path | None, typer.Option("--id-record", help="Chip-reader record JSON (simkyc-chip-record/1).")
    ] = None,
    card_image: Annotated[
        Path | None, typer.Option("--card-image", help="Photo of the ID card front.")
    ] = None,
    card_back: Annotated[Path | None, typer.Option("--card-back", help="Photo of the ID card back.")] = None,
    consent: Annotated[
        bool, typer.Option("--consent/--no-consent", help="The customer consented to face processing.")
    ] = False,
    test_seed: Annotated[
        int | None, typer.Option("--test-seed", help="Fix the challenge (tests only; recorded).", hidden=True)
    ] = None,
) -> None:
    """Open a registration and print the liveness challenge."""
    from simkyc import bootstrap
    from simkyc.service.registration import OpenRegistration, open_registration

    with refusals_exit_2():
        if (id_record is None) == (card_image is None):
            raise fail("give exactly one of --id-record or --card-image")
        if id_record is not None:
            from simkyc.core.documents.chip import parse_chip_record

            try:
                raw = id_record.read_bytes()  # not UTF-8 JSON: ID_RECORD_INVALID from the parser
            except OSError as exc:
                raise fail(f"cannot read {id_record}: {exc.strerror}") from None
            from simkyc.cli._documents import _wlt_decoder

            doc = parse_chip_record(raw, portrait_decoder=_wlt_decoder())
        else:
            from simkyc.service.documents import load_image, read_card

            assert card_image is not None
            back = load_image(card_back) if card_back is not None else None
            doc = read_card(load_image(card_image), back, reader=bootstrap.ocr_engine()).document
        outlet_id, clerk_id = _staff_ids(outlet_code=outlet, username=clerk)
        assert outlet_id is not None and clerk_id is not None
        opened = open_registration(
            OpenRegistration(
                document=doc,
                phone=phone,
                outlet_id=outlet_id,
                clerk_id=clerk_id,
                consent=consent,
                test_seed=test_seed,
            ),
            deps=bootstrap.registration_deps(),
        )
    ch = opened.challenge
    deadline = datetime.fromtimestamp(ch.deadline, UTC).strftime("%H:%M:%S UTC")
    console.print(f"registration {opened.registration_id}", highlight=False, soft_wrap=True)
    console.print(
        f"ID {opened.id_masked}  phone {opened.phone}  policy {opened.policy_version}", highlight=False
    )
    console.print(
        f"challenge: {' -> '.join(a.value for a in ch.actions)}  "
        f"(nonce {ch.nonce[:8]}..., deadline {deadline})",
        highlight=False,
        soft_wrap=True,
    )


def _print_result(res: object) -> None:
    from simkyc.service.registration import RegistrationResult

    assert isinstance(res, RegistrationResult)
    score = res.scores.get("match")
    console.print(f"decision {res.outcome.value}", highlight=False, soft_wrap=True)
    console.print(f"reasons  {' '.join(str(r) for r in res.reasons) or '-'}", highlight=False, soft_wrap=True)
    if score is not None:
        th = res.thresholds
        console.print(
            f"score    {score:.3f}  "
            f"(accept >= {th.get('accept', 0):.3f}, review >= {th.get('review', 0):.3f})",
            highlight=False,
            soft_wrap=True,
        )
    for c in res.candidates:
        console.print(f"candidate {c.id_masked}  score {c.score:.3f}", highlight=False, soft_wrap=True)
    console.print(f"policy   {res.policy_version}", highlight=False, soft_wrap=True)
    if res.next_challenge is not None:
        acts = " -> ".join(a.value for a in res.next_challenge.actions)
        console.print(f"retry with a new capture; challenge: {acts}", highlight=False, soft_wrap=True)


def _print_opened(opened: object) -> None:
    from simkyc.service.registration import Opened

    assert isinstance(opened, Opened)
    ch = opened.challenge
    deadline = datetime.fromtimestamp(ch.deadline, UTC).strftime("%H:%M:%S UTC")
    console.print(f"{opened.kind} {opened.registration_id}", highlight=False, soft_wrap=True)
    console.print(
        f"challenge: {' -> '.join(a.value for a in ch.actions)}  (deadline {deadline})",
        highlight=False,
        soft_wrap=True,
    )


@register_app.command("reverify")
def reverify_cmd(
    number: Annotated[str, typer.Argument(help="The held number to re-verify.")],
    outlet: Annotated[str, typer.Option(help="Outlet code.")],
    clerk: Annotated[str, typer.Option(help="Clerk user name (own operator's numbers only).")],
) -> None:
    """Open a live re-check of a number's holder; then `register frames` with the capture."""
    from simkyc import bootstrap
    from simkyc.service.registration import open_reverification

    with refusals_exit_2():
        outlet_id, clerk_id = _staff_ids(outlet_code=outlet, username=clerk)
        assert outlet_id is not None and clerk_id is not None
        opened = open_reverification(
            number, outlet_id=outlet_id, clerk_id=clerk_id, deps=bootstrap.registration_deps()
        )
    _print_opened(opened)


@register_app.command("presence")
def presence_cmd(
    id_number: Annotated[str, typer.Option("--id-number", help="ID number as read from the card.")],
    name: Annotated[str, typer.Option(help="Name as read from the card.")],
    outlet: Annotated[str, typer.Option(help="Outlet code.")],
    clerk: Annotated[str, typer.Option(help="Clerk user name.")],
) -> None:
    """Open a presence check of the customer at the counter; then `register frames` with the capture.

    Once APPROVED, its REG_ID lets this clerk cancel and report (`--presence`) for 10 minutes."""
    from simkyc import bootstrap
    from simkyc.service.registration import open_presence

    with refusals_exit_2():
        outlet_id, clerk_id = _staff_ids(outlet_code=outlet, username=clerk)
        assert outlet_id is not None and clerk_id is not None
        opened = open_presence(
            id_number, name, outlet_id=outlet_id, clerk_id=clerk_id, deps=bootstrap.registration_deps()
        )
    _print_opened(opened)


@register_app.command("frames")
def frames(
    registration_id: Annotated[str, typer.Argument(metavar="REG_ID")],
    video: Annotated[
        Path, typer.Argument(metavar="VIDEO", help="Recording of the customer doing the challenge.")
    ],
    clerk: Annotated[str, typer.Option(help="The clerk who opened the capture (only they may feed it).")],
) -> None:
    """Submit a recorded capture; print the decision and its reason codes."""
    from simkyc import bootstrap
    from simkyc.core.policy import Outcome
    from simkyc.service import liveness as live
    from simkyc.service.registration import capture_challenge, submit_frames

    with refusals_exit_2():
        deps = bootstrap.registration_deps()
        _, clerk_id = _staff_ids(username=clerk)
        assert clerk_id is not None
        # who may feed this capture, and its challenge, before any video is decoded
        challenge = capture_challenge(registration_id, clerk_id=clerk_id, deps=deps)
        clip = live.read_video(video)
        frames_ = live.anchor_frames(clip, challenge)
        res = submit_frames(registration_id, frames_, deps=deps, actor=f"clerk:{clerk_id}", clerk_id=clerk_id)
    _print_result(res)
    raise typer.Exit(code=0 if res.outcome is Outcome.APPROVED else 1)


@register_app.command("status")
def status(registration_id: Annotated[str, typer.Argument(metavar="REG_ID")]) -> None:
    """Show a registration (masked ID, decision, reasons, scores, versions) as JSON."""
    from simkyc import bootstrap
    from simkyc.service.registration import registration_status

    with refusals_exit_2():
        info = registration_status(registration_id, deps=bootstrap.registration_deps())
    console.print_json(json.dumps(info, ensure_ascii=False, default=str))


@register_app.command("review")
def review_cmd(
    registration_id: Annotated[str, typer.Argument(metavar="REG_ID")],
    supervisor: Annotated[str, typer.Option(help="Supervisor user name.")],
    approve: Annotated[bool, typer.Option("--approve/--reject", help="The supervisor's decision.")],
    note: Annotated[str, typer.Option(help="Why (kept with the case).")] = "",
) -> None:
    """Close a REVIEW case (its encrypted evidence is deleted either way)."""
    from simkyc import bootstrap
    from simkyc.core.policy import Outcome
    from simkyc.service.registration import review

    with refusals_exit_2():
        _, sid = _staff_ids(username=supervisor)
        assert sid is not None
        res = review(
            registration_id, approve=approve, supervisor_id=sid, note=note, deps=bootstrap.registration_deps()
        )
    _print_result(res)
    raise typer.Exit(code=0 if res.outcome is Outcome.APPROVED else 1)


@register_app.command("cancel")
def cancel(
    number: Annotated[str, typer.Argument(help="Phone number to cancel.")],
    as_user: Annotated[str, typer.Option("--as", help="Staff account acting (clerk or supervisor).")],
    presence: Annotated[
        str | None, typer.Option(help="A clerk's APPROVED presence check of the holder (REG_ID).")
    ] = None,
) -> None:
    """Cancel a number (the authorization table applies); the face template goes with the last number."""
    from simkyc import bootstrap
    from simkyc.service.registration import cancel_number

    with refusals_exit_2():
        _, uid = _staff_ids(username=as_user)
        assert uid is not None
        gone = cancel_number(number, staff_id=uid, presence=presence, deps=bootstrap.registration_deps())
    console.print(
        f"cancelled {number}" + ("; face template deleted" if gone else ""), highlight=False, soft_wrap=True
    )


@register_app.command("report")
def report(
    id_number: Annotated[str, typer.Argument(help="The customer's own ID number.")],
    as_user: Annotated[str, typer.Option("--as", help="Staff account asking (clerk or supervisor).")],
    presence: Annotated[
        str | None, typer.Option(help="A clerk's APPROVED presence check of the customer (REG_ID).")
    ] = None,
) -> None:
    """List the numbers under an ID (clerk: own operator's, masked unless the customer is present)."""
    from simkyc import bootstrap
    from simkyc.service.registration import customer_report

    with refusals_exit_2():
        _, uid = _staff_ids(username=as_user)
        assert uid is not None
        rows = customer_report(id_number, staff_id=uid, presence=presence, deps=bootstrap.registration_deps())
    if not rows:
        console.print("no numbers under this ID")
    for r in rows:
        console.print(
            f"{r.number}  {r.operator_id}  {r.status:9s}  "
            f"since {r.bound_at:%Y-%m-%d}  outlet {r.outlet_code}",
            highlight=False,
            soft_wrap=True,
        )


@register_app.command("check")
def check(
    name: Annotated[str, typer.Option(help="Name as the platform knows it.")],
    id_number: Annotated[str, typer.Option("--id-number", help="ID number.")],
    phone: Annotated[str, typer.Option(help="Phone number.")],
    platform: Annotated[str, typer.Option(help="Calling platform (for the audit log).")] = "cli",
) -> None:
    """Platform check: prints consistent, inconsistent or no_record (exit 0, 1, 1)."""
    from simkyc import bootstrap
    from simkyc.core.documents.id_number import IdNumber
    from simkyc.service.registration import platform_check

    with refusals_exit_2():
        IdNumber.parse(id_number)  # a malformed number is unusable input (exit 2), not "no_record"
        answer = platform_check(
            name=name, id_number=id_number, phone=phone, platform=platform, deps=bootstrap.registration_deps()
        )
    console.print(answer)
    raise typer.Exit(code=0 if answer == "consistent" else 1)
