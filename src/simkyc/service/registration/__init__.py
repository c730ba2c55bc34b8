"""Registration use cases, one database transaction each, one module per family:

    opening     open_registration    ID validated, lockout and policy pre-checked, consent recorded, challenge
                open_reverification  a second live check of a held number, against the stored template
                open_presence        the customer's card + a live check: lets a clerk act on their numbers
    deciding    submit_frames        liveness -> 1:1 match -> 1:N duplicate search -> policy -> decision
                submit_liveness      the same from a finished liveness session (the web streams frames)
                record_decision      the decision transaction
    review      review               a supervisor closes a REVIEW case (evidence deleted either way)
                review_evidence      a supervisor views a case's evidence (audited)
    numbers     cancel_number        a number is cancelled; the last one takes the face template with it
                customer_report      every number under the customer's own ID
    platform    platform_check       name + ID number + phone -> consistent | inconsistent | no_record
    records     registration_status, template_records

    access      authorize            the authorization table (`simkyc.service.access`) at one entrance

Every query is in the store-side repository (`simkyc.store.registrations`, `uow.registrations`).

The heavy work (liveness, face analysis, search) runs *outside* the transaction; the decision is
then taken and written in one short transaction that holds the identity row (PostgreSQL
`SELECT ... FOR UPDATE`; SQLite `BEGIN IMMEDIATE`), so two registrations for one ID at the same
moment are decided one after the other and never exceed the quota. A number is bound only in
the transaction that records an APPROVED decision. Raw images are never stored, except the ID
portrait of an open registration and REVIEW evidence, both AES-GCM encrypted and deleted at
decision, on review close, or by `simkyc retention run`.

With `RegistrationDeps.lockout` set (the service sets it), each decision counts its liveness
outcome for the ID (`simkyc.service.lockout`, same transaction), and an ID with too many recent
failures cannot open a registration or a re-verification (LIVENESS_LOCKED).
"""

from __future__ import annotations

from simkyc.service.registration.deciding import (
    assess_capture,
    capture_challenge,
    record_decision,
    submit_frames,
    submit_liveness,
)
from simkyc.service.registration.model import (
    HELD,
    Candidate,
    CaptureAssessment,
    CaptureLimits,
    DuplicateIndex,
    FaceAnalyzer,
    FaceGeneration,
    LivenessRunner,
    NumberRecord,
    Opened,
    OpenRegistration,
    PlatformAnswer,
    RegistrationDeps,
    RegistrationResult,
    ReviewEvidence,
    identity_key,
    mask_phone,
    template_key,
)
from simkyc.service.registration.numbers import cancel_number, customer_report
from simkyc.service.registration.opening import (
    open_presence,
    open_registration,
    open_reverification,
    reverify,
)
from simkyc.service.registration.platform import platform_check
from simkyc.service.registration.records import registration_status, template_records
from simkyc.service.registration.review import review, review_evidence

__all__ = [
    "HELD",
    "Candidate",
    "CaptureAssessment",
    "CaptureLimits",
    "DuplicateIndex",
    "FaceAnalyzer",
    "FaceGeneration",
    "LivenessRunner",
    "NumberRecord",
    "OpenRegistration",
    "Opened",
    "PlatformAnswer",
    "RegistrationDeps",
    "RegistrationResult",
    "ReviewEvidence",
    "assess_capture",
    "cancel_number",
    "capture_challenge",
    "customer_report",
    "identity_key",
    "mask_phone",
    "open_presence",
    "open_registration",
    "open_reverification",
    "platform_check",
    "record_decision",
    "registration_status",
    "reverify",
    "review",
    "review_evidence",
    "submit_frames",
    "submit_liveness",
    "template_key",
    "template_records",
]
