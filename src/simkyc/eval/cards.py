"""Synthetic resident ID cards for OCR tests and the OCR accuracy benchmark.

No real card image may be collected, so cards are rendered: the second-generation card's
layout (85.6 x 54 mm at 10 px/mm), Noto Sans CJK (Debian's fonts-noto-cjk), a face photo in the
portrait spot, then photographed badly: perspective, blur, sensor noise and JPEG compression at
the levels in `LEVELS`. Every field is known, so OCR can be scored field by field.
"""

from __future__ import annotations

import datetime as dt
import io
import random
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import cv2
import numpy as np
from PIL import Image as PILImage
from PIL import ImageDraw, ImageFont

from simkyc.core.documents.chip import ETHNICITIES
from simkyc.core.documents.id_number import check_character
from simkyc.core.documents.regions import default_regions
from simkyc.core.faces.types import Image
from simkyc.errors import InputError, Reason

__all__ = [
    "CARD_SIZE",
    "LEVELS",
    "PORTRAIT_BOX",
    "CardFields",
    "Degradation",
    "degrade",
    "find_cjk_font",
    "portrait_box_in",
    "random_fields",
    "render_back",
    "render_front",
]

CARD_SIZE = (856, 540)
PORTRAIT_BOX = (560, 70, 800, 370)  # left, top, right, bottom on the flat front
FONT_DIRS = ("/usr/share/fonts/opentype/noto", "/usr/share/fonts/truetype/noto", "/usr/share/fonts")


@dataclass(frozen=True, slots=True)
class CardFields:
    name: str
    sex: str  # "M" | "F"
    ethnicity: str
    birth_date: dt.date
    address: str
    id_number: str
    issuer: str
    valid_from: dt.date
    valid_until: dt.date | None  # None = 长期


@dataclass(frozen=True, slots=True)
class Degradation:
    """How badly the card is photographed."""

    name: str
    noise_sigma: float  # Gaussian sensor noise, grey levels
    blur_sigma: float  # Gaussian blur, px
    perspective: float  # corner displacement, fraction of the card size
    jpeg_quality: int


LEVELS: tuple[Degradation, ...] = (
    Degradation("clean", 0.0, 0.0, 0.0, 95),
    Degradation("mild", 4.0, 0.7, 0.02, 75),
    Degradation("moderate", 8.0, 1.2, 0.05, 50),
    Degradation("severe", 14.0, 1.8, 0.08, 30),
    Degradation("extreme", 24.0, 2.6, 0.10, 12),
)

_SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢"
)
_GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂华建国志红玉梅文斌海燕晓东春雪鹏飞宇"
_STREETS = (
    "人民路",
    "解放路",
    "建设大街",
    "中山路",
    "和平里",
    "光明街",
    "幸福路",
    "新华街",
    "文化路",
    "朝阳北路",
)


@cache
def find_cjk_font(bold: bool = False) -> Path:
    """A Noto CJK font file (install Debian's fonts-noto-cjk; scripts/install.sh --dev does)."""
    wanted = "NotoSansCJK-Bold.ttc" if bold else "NotoSansCJK-Regular.ttc"
    for folder in FONT_DIRS:
        for path in sorted(Path(folder).rglob("NotoSansCJK*.tt*")) if Path(folder).is_dir() else []:
            if path.name == wanted:
                return path
    raise InputError(Reason.INVALID_REQUEST, "no Noto CJK font found: apt-get install fonts-noto-cjk")


def _font(size: int, bold: bool = False) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(find_cjk_font(bold)), size, index=2)  # index 2 = SC (Simplified Chinese)


def random_fields(rng: random.Random, *, today: dt.date) -> CardFields:
    """Plausible fields with a valid ID number (a real, current county code; check character computed)."""
    regions = default_regions()
    counties = [
        c for c, v in regions.codes.items() if c[4:] != "00" and v[2] == "current" and v[0] != "市辖区"
    ]
    code = rng.choice(counties)
    region = regions.get(code)
    assert region is not None
    birth = dt.date(1950, 1, 1) + dt.timedelta(days=rng.randrange(0, 365 * 55))
    sex = rng.choice("MF")
    seq = rng.randrange(0, 500) * 2 + (1 if sex == "M" else 0)
    first17 = f"{code}{birth:%Y%m%d}{seq:03d}"
    number = first17 + check_character(first17)
    name = rng.choice(_SURNAMES) + "".join(rng.choice(_GIVEN) for _ in range(rng.choice((1, 2))))
    address = (
        region.full_name.replace(" ", "")
        + rng.choice(_STREETS)
        + f"{rng.randrange(1, 300)}号{rng.randrange(1, 20)}栋{rng.randrange(101, 2405)}室"
    )
    valid_from = today - dt.timedelta(days=rng.randrange(30, 3650))
    age = (valid_from - birth).days // 365
    years = 5 if age < 16 else 10 if age < 26 else 20 if age < 46 else None
    until = None if years is None else valid_from.replace(year=valid_from.year + years)
    ethnicity = rng.choice(["汉"] * 6 + [ETHNICITIES[k] for k in ("03", "08", "11", "04", "02")])
    prefecture = region.prefecture if region.prefecture not in (None, "市辖区") else region.province
    return CardFields(
        name=name,
        sex=sex,
        ethnicity=ethnicity,
        birth_date=birth,
        address=address,
        id_number=number,
        issuer=f"{prefecture}公安局{region.name.rstrip('区县市')}分局",
        valid_from=valid_from,
        valid_until=until,
    )


def _background(rng: np.random.Generator) -> PILImage.Image:
    w, h = CARD_SIZE
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    base = (
        np.stack([238 - 10 * x / w, 242 - 6 * y / h, np.full_like(x, 246.0)], axis=-1)
        + 3 * np.sin(x / 9.0 + y / 13.0)[..., None]
    )
    base += rng.normal(0, 1.5, base.shape)
    return PILImage.fromarray(np.clip(base, 0, 255).astype(np.uint8))


def _wrap(text: str, width: int) -> list[str]:
    return [text[i : i + width] for i in range(0, len(text), width)][:3]


def render_front(fields: CardFields, portrait: Image, *, seed: int = 0) -> Image:
    """The card front as a flat RGB image of `CARD_SIZE`, portrait pasted into `PORTRAIT_BOX`."""
    img = _background(np.random.default_rng(seed))
    draw = ImageDraw.Draw(img)
    label, value, big = _font(26), _font(32), _font(36)
    blue, black = (60, 110, 170), (20, 20, 20)
    draw.text((60, 62), "姓名", font=label, fill=blue)
    draw.text((160, 56), fields.name, font=value, fill=black)
    draw.text((60, 130), "性别", font=label, fill=blue)
    draw.text((160, 124), "男" if fields.sex == "M" else "女", font=value, fill=black)
    draw.text((270, 130), "民族", font=label, fill=blue)
    draw.text((370, 124), fields.ethnicity, font=value, fill=black)
    b = fields.birth_date
    draw.text((60, 198), "出生", font=label, fill=blue)
    draw.text((160, 192), f"{b.year}", font=value, fill=black)
    draw.text((250, 198), "年", font=label, fill=blue)
    draw.text((295, 192), f"{b.month}", font=value, fill=black)
    draw.text((340, 198), "月", font=label, fill=blue)
    draw.text((385, 192), f"{b.day}", font=value, fill=black)
    draw.text((430, 198), "日", font=label, fill=blue)
    draw.text((60, 266), "住址", font=label, fill=blue)
    for k, part in enumerate(_wrap(fields.address, 11)):
        draw.text((160, 260 + 44 * k), part, font=value, fill=black)
    draw.text((60, 446), "公民身份号码", font=label, fill=blue)
    for k, ch in enumerate(fields.id_number):  # the number is spaced out under the portrait
        draw.text((290 + 28 * k, 438), ch, font=big, fill=black)
    left, top, right, bottom = PORTRAIT_BOX
    face = PILImage.fromarray(portrait).convert("RGB")
    fw, fh = face.size
    target = (right - left) / (bottom - top)
    if fw / fh > target:  # crop the sides to the portrait's aspect ratio
        cw = int(fh * target)
        face = face.crop(((fw - cw) // 2, 0, (fw - cw) // 2 + cw, fh))
    else:
        crop_h = int(fw / target)
        face = face.crop((0, (fh - crop_h) // 2, fw, (fh - crop_h) // 2 + crop_h))
    img.paste(face.resize((right - left, bottom - top)), (left, top))
    return np.asarray(img, dtype=np.uint8).copy()


def render_back(fields: CardFields, *, seed: int = 0) -> Image:
    """The card back (national emblem area left blank): title, issuer and validity period."""
    img = _background(np.random.default_rng(seed + 1))
    draw = ImageDraw.Draw(img)
    draw.ellipse((60, 40, 200, 180), outline=(200, 60, 60), width=4)
    draw.text((260, 60), "中华人民共和国", font=_font(44, bold=True), fill=(30, 30, 30))
    draw.text((300, 130), "居民身份证", font=_font(52, bold=True), fill=(30, 30, 30))
    label, value = _font(26), _font(30)
    blue, black = (60, 110, 170), (20, 20, 20)
    draw.text((150, 392), "签发机关", font=label, fill=blue)
    draw.text((290, 386), fields.issuer, font=value, fill=black)
    draw.text((150, 450), "有效期限", font=label, fill=blue)
    until = "长期" if fields.valid_until is None else f"{fields.valid_until:%Y.%m.%d}"
    draw.text((290, 444), f"{fields.valid_from:%Y.%m.%d}-{until}", font=value, fill=black)
    return np.asarray(img, dtype=np.uint8).copy()


def degrade(card: Image, level: Degradation, *, seed: int = 0) -> Image:
    """Photograph the flat card: on a desk, perspective, blur, noise, then JPEG at the level's quality."""
    rng = np.random.default_rng(seed)
    h, w = card.shape[:2]
    pad = 40
    canvas = np.full((h + 2 * pad, w + 2 * pad, 3), (96, 84, 70), dtype=np.uint8)
    canvas[pad : pad + h, pad : pad + w] = card
    if level.perspective > 0:
        src = np.array([[pad, pad], [pad + w, pad], [pad + w, pad + h], [pad, pad + h]], dtype=np.float32)
        jitter = rng.uniform(-1, 1, (4, 2)) * level.perspective * np.array([w, h])
        dst = (src + jitter).astype(np.float32)
        matrix = cv2.getPerspectiveTransform(src, dst)
        canvas = cv2.warpPerspective(
            canvas, matrix, (canvas.shape[1], canvas.shape[0]), borderMode=cv2.BORDER_REPLICATE
        )
    if level.blur_sigma > 0:
        canvas = cv2.GaussianBlur(canvas, (0, 0), level.blur_sigma)
    if level.noise_sigma > 0:
        noisy = canvas.astype(np.float32) + rng.normal(0, level.noise_sigma, canvas.shape)
        canvas = np.clip(noisy, 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    PILImage.fromarray(canvas).save(buf, format="JPEG", quality=level.jpeg_quality)
    return np.asarray(PILImage.open(io.BytesIO(buf.getvalue())).convert("RGB"), dtype=np.uint8).copy()


def portrait_box_in(level_seed: int, level: Degradation) -> tuple[float, float, float, float]:
    """Where `PORTRAIT_BOX` lands after `degrade` with this seed (bounding box of its corners)."""
    rng = np.random.default_rng(level_seed)
    w, h = CARD_SIZE
    pad = 40
    x0, y0, x1, y1 = (v + pad for v in PORTRAIT_BOX)
    pts = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=np.float32)
    if level.perspective > 0:
        src = np.array([[pad, pad], [pad + w, pad], [pad + w, pad + h], [pad, pad + h]], dtype=np.float32)
        dst = (src + rng.uniform(-1, 1, (4, 2)) * level.perspective * np.array([w, h])).astype(np.float32)
        matrix = cv2.getPerspectiveTransform(src, dst)
        pts = cv2.perspectiveTransform(pts[None], matrix)[0]
    return float(pts[:, 0].min()), float(pts[:, 1].min()), float(pts[:, 0].max()), float(pts[:, 1].max())
