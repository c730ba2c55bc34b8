"""ID intake core: resident ID numbers (GB 11643), GB/T 2260 regions, chip-reader records,
OCR field parsing, MRZ (ICAO 9303), and the one `IdDocument` type with `validate_document`."""

from simkyc.core.documents.chip import *
from simkyc.core.documents.document import *
from simkyc.core.documents.id_number import *
from simkyc.core.documents.mrz import *
from simkyc.core.documents.ocr_fields import *
from simkyc.core.documents.regions import *

__all__ = [
    "CHIP_FORMAT",
    "DEFAULT_MIN_AGE",
    "ETHNICITIES",
    "CardBack",
    "CardFront",
    "DocumentCheck",
    "DocumentKind",
    "DocumentSource",
    "IdDocument",
    "IdNumber",
    "MrzFormat",
    "MrzRecord",
    "OcrLine",
    "PortraitDecoder",
    "Region",
    "RegionTable",
    "age_on",
    "card_document",
    "check_character",
    "check_digit",
    "chip_record_json",
    "crop_portrait",
    "default_regions",
    "ethnicity_name",
    "mask_id_number",
    "mrz_to_document",
    "parse_back",
    "parse_chip_record",
    "parse_front",
    "parse_mrz",
    "read_mrz",
    "repair_id_number",
    "reread_boxes",
    "reread_value",
    "row_texts",
    "to_18",
    "validate_document",
]
