"""Reason codes and the exception tree.

Every refusal in simkyc carries a `Reason`: a stable machine code (stored with
decisions, written to the audit log, returned as `reason` in API problems) and a
plain-language message for the clerk.

Exception tree::

    SimkycError                  any refusal with a reason code
    ├── InputError               bytes, files or arguments that cannot be used (HTTP 400/413/422, CLI exit 2)
    ├── ModelError               a model file missing or corrupt (HTTP 503, CLI exit 2)
    ├── FaceError                no usable face (NO_FACE, MULTIPLE_FACES, ...)
    ├── LivenessError            a liveness session cannot go on
    ├── DocumentError            an ID document fails validation
    ├── PolicyError              a policy rule refuses the request (quota, blocklist, lockout)
    ├── AuthError                not signed in, wrong role, bad API key (HTTP 401/403)
    ├── NotFoundError            an object does not exist or is not visible to the caller (HTTP 404)
    └── ConflictError            the request conflicts with the current state (HTTP 409)
"""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "AuthError",
    "ConflictError",
    "DocumentError",
    "FaceError",
    "InputError",
    "LivenessError",
    "ModelError",
    "NotFoundError",
    "PolicyError",
    "Reason",
    "SimkycError",
]


class Reason(StrEnum):
    """A reason code with the sentence a clerk or customer reads."""

    message: str

    def __new__(cls, value: str, message: str = "") -> Reason:
        obj = str.__new__(cls, value)
        obj._value_ = value
        obj.message = message
        return obj

    # input
    IMAGE_UNREADABLE = "IMAGE_UNREADABLE", "The file is not an image that can be decoded."
    IMAGE_TOO_LARGE = "IMAGE_TOO_LARGE", "The image is larger than allowed."
    IMAGE_TOO_SMALL = "IMAGE_TOO_SMALL", "The image is too small to contain a usable face."
    VIDEO_UNREADABLE = "VIDEO_UNREADABLE", "The file is not a video that can be decoded."
    VIDEO_EMPTY = "VIDEO_EMPTY", "The video holds no frames."
    REQUEST_TOO_LARGE = "REQUEST_TOO_LARGE", "The request is larger than allowed."
    INVALID_REQUEST = "INVALID_REQUEST", "The request is malformed."
    # models
    MODEL_MISSING = "MODEL_MISSING", "A model file is missing: install the package named in the message."
    MODEL_CORRUPT = "MODEL_CORRUPT", "A model file does not have the expected checksum."
    # face quality and matching
    NO_FACE = "NO_FACE", "No face was found."
    MULTIPLE_FACES = "MULTIPLE_FACES", "More than one face was found."
    FACE_TOO_SMALL = "FACE_TOO_SMALL", "The face is too small; move closer to the camera."
    BLURRY = "BLURRY", "The image is blurred."
    POOR_EXPOSURE = "POOR_EXPOSURE", "The image is too dark or too bright."
    POSE_TOO_LARGE = "POSE_TOO_LARGE", "The face is turned too far from the camera."
    LOW_QUALITY = "LOW_QUALITY", "Image quality is too low for a reliable decision; please retry."
    FACE_MATCH = "FACE_MATCH", "The live face matches the ID photo."
    FACE_MISMATCH = "FACE_MISMATCH", "The live face does not match the ID photo."
    # liveness
    LIVENESS_ACTION_MISSING = "LIVENESS_ACTION_MISSING", "A requested action was not seen."
    LIVENESS_WRONG_ORDER = "LIVENESS_WRONG_ORDER", "The actions were not performed in the requested order."
    LIVENESS_TIMEOUT = "LIVENESS_TIMEOUT", "The challenge was not completed in time."
    CHALLENGE_INVALID = "CHALLENGE_INVALID", "The liveness challenge is not valid or was already used."
    FACE_CHANGED = "FACE_CHANGED", "The face changed during the liveness check."
    FACE_LOST = "FACE_LOST", "The face left the camera view during the check."
    STALE_OR_REPLAYED_FRAMES = (
        "STALE_OR_REPLAYED_FRAMES",
        "The frames are not fresh (repeated, reordered or outside the challenge window).",
    )
    SPOOF_PLANAR_MOTION = "SPOOF_PLANAR_MOTION", "The face moves like a flat picture."
    SPOOF_SCREEN = "SPOOF_SCREEN", "The face appears to be shown on a screen."
    SPOOF_PRINT = "SPOOF_PRINT", "The face appears to be a printed photo."
    SPOOF_NO_LIGHT_RESPONSE = (
        "SPOOF_NO_LIGHT_RESPONSE",
        "The face did not reflect the colours flashed on the screen (a recording or injected video).",
    )
    LIGHT_CHALLENGE_INCOMPLETE = (
        "LIGHT_CHALLENGE_INCOMPLETE",
        "The colour flashes were not captured through: keep the face in the oval while the screen flashes.",
    )
    LIGHT_CHALLENGE_WAIVED = (
        "LIGHT_CHALLENGE_WAIVED",
        "The colour-flash check was left out (customer sensitive to flashing light): a supervisor confirms.",
    )
    STREAM_DISCONTINUITY = (
        "STREAM_DISCONTINUITY",
        "The camera stream jumps where a live camera cannot: the video was cut or edited.",
    )
    LIVENESS_LOCKED = "LIVENESS_LOCKED", "Too many failed liveness attempts for this ID; try again later."
    # documents
    ID_NUMBER_FORMAT = "ID_NUMBER_FORMAT", "The ID number does not have the right format."
    ID_NUMBER_CHECKSUM = "ID_NUMBER_CHECKSUM", "The ID number's check character is wrong."
    ID_NUMBER_BIRTH_DATE = "ID_NUMBER_BIRTH_DATE", "The birth date in the ID number is not valid."
    ID_NUMBER_REGION = "ID_NUMBER_REGION", "The region code in the ID number is unknown."
    ID_NUMBER_INVALID = "ID_NUMBER_INVALID", "The ID number is not valid."
    ID_FIELDS_INCONSISTENT = "ID_FIELDS_INCONSISTENT", "The card's fields disagree with its ID number."
    ID_EXPIRED = "ID_EXPIRED", "The ID document has expired."
    ID_NOT_YET_VALID = "ID_NOT_YET_VALID", "The ID document is not yet valid."
    ID_PHOTO_MISSING = "ID_PHOTO_MISSING", "The ID document record holds no usable portrait."
    ID_RECORD_INVALID = "ID_RECORD_INVALID", "The ID reader record is malformed."
    PORTRAIT_UNAVAILABLE = (
        "PORTRAIT_UNAVAILABLE",
        "The chip's portrait cannot be decoded here (no WLT decoder configured): use a photo of the card.",
    )
    CARD_NOT_FOUND = "CARD_NOT_FOUND", "No ID card is on the reader."
    CARD_READ_FAILED = (
        "CARD_READ_FAILED",
        "The card could not be read completely: keep it still on the reader and try again.",
    )
    READER_UNAVAILABLE = "READER_UNAVAILABLE", "The ID card reader does not answer: check its cable and port."
    UNDERAGE_NEEDS_GUARDIAN = (
        "UNDERAGE_NEEDS_GUARDIAN",
        "The holder is under the minimum age: a guardian must be present.",
    )
    OCR_FIELD_UNREADABLE = "OCR_FIELD_UNREADABLE", "A field on the card could not be read."
    MRZ_NOT_FOUND = "MRZ_NOT_FOUND", "No machine-readable zone was found."
    MRZ_CHECK_DIGIT = "MRZ_CHECK_DIGIT", "A check digit in the machine-readable zone is wrong."
    MRZ_FORMAT = "MRZ_FORMAT", "The machine-readable zone does not have a known format."
    # policy
    QUOTA_EXCEEDED = "QUOTA_EXCEEDED", "This ID already holds the maximum number of phone numbers."
    NATIONWIDE_QUOTA_EXCEEDED = (
        "NATIONWIDE_QUOTA_EXCEEDED",
        "This ID already holds the maximum number of phone numbers nationwide.",
    )
    TOO_FREQUENT = "TOO_FREQUENT", "A new number was registered under this ID too recently."
    BLOCKLISTED = "BLOCKLISTED", "This ID or number is on a blocklist."
    CONSENT_MISSING = "CONSENT_MISSING", "The customer has not consented to face processing."
    DUPLICATE_FACE_OTHER_ID = (
        "DUPLICATE_FACE_OTHER_ID",
        "The same face is registered under another ID: a supervisor must review.",
    )
    REVIEW_BAND = "REVIEW_BAND", "The match score is in the human-review band."
    REVIEW_APPROVED = "REVIEW_APPROVED", "A supervisor approved the registration."
    REVIEW_REJECTED = "REVIEW_REJECTED", "A supervisor rejected the registration."
    RETRY = "RETRY", "The capture was not good enough to decide; please try again."
    # state and access
    PHONE_NUMBER_TAKEN = "PHONE_NUMBER_TAKEN", "The phone number is already in use."
    PHONE_NUMBER_INVALID = "PHONE_NUMBER_INVALID", "The phone number is not valid."
    REGISTRATION_STATE = "REGISTRATION_STATE", "The registration is not in a state that allows this."
    CUSTOMER_NOT_PRESENT = (
        "CUSTOMER_NOT_PRESENT",
        "The customer must be present (card read and a passed live check) or a supervisor must act.",
    )
    NAME_INVALID = "NAME_INVALID", "The name is empty, too long or holds characters a name cannot hold."
    NOT_FOUND = "NOT_FOUND", "Not found."
    NOT_AUTHENTICATED = "NOT_AUTHENTICATED", "Please sign in."
    FORBIDDEN = "FORBIDDEN", "Your role does not allow this."
    RATE_LIMITED = "RATE_LIMITED", "Too many requests; slow down."
    CAPTURE_OUT_OF_ORDER = (
        "CAPTURE_OUT_OF_ORDER",
        "This batch of frames does not follow the ones already received: send the next one in order.",
    )
    NOT_READY = "NOT_READY", "This worker cannot serve yet (database, Redis or search index not ready)."
    API_KEY_INVALID = "API_KEY_INVALID", "The API key is not valid."
    AUDIT_CHAIN_BROKEN = "AUDIT_CHAIN_BROKEN", "The audit log has been altered."
    KEY_MISSING = "KEY_MISSING", "An encryption key is missing."
    INDEX_INCONSISTENT = (
        "INDEX_INCONSISTENT",
        "The 1:N search index does not match the database or the search key: rebuild it.",
    )


class SimkycError(Exception):
    """A refusal with a reason code; `message` is safe to show and log (no biometric data, no full ID)."""

    def __init__(
        self, reason: Reason, message: str | None = None, *, detail: dict[str, object] | None = None
    ):
        self.reason = reason
        self.message = message or reason.message
        self.detail = detail or {}
        super().__init__(f"{reason}: {self.message}")


class InputError(SimkycError):
    """Raised when bytes, files or arguments cannot be used."""


class ModelError(SimkycError):
    """Raised when a model file is missing or corrupt."""


class FaceError(SimkycError):
    """Raised when no usable face can be had from an image."""


class LivenessError(SimkycError):
    """Raised when a liveness session cannot go on."""


class DocumentError(SimkycError):
    """Raised when an ID document fails validation."""


class PolicyError(SimkycError):
    """Raised when a policy rule refuses the request."""


class AuthError(SimkycError):
    """Raised when the caller is not signed in, lacks the role, or the API key is bad."""


class NotFoundError(SimkycError):
    """Raised when an object does not exist or is not visible to the caller."""


class ConflictError(SimkycError):
    """Raised when the request conflicts with the current state."""
