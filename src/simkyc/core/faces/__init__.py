"""Face pipeline: detect, align, embed, assess quality, match."""

from simkyc.core.faces.types import *
