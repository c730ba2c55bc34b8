"""Face pipeline: detect, align, embed, assess quality, match."""

from simkyc.core.faces.calibration import *
from simkyc.core.faces.match import *
from simkyc.core.faces.pipeline import *
from simkyc.core.faces.quality import *
from simkyc.core.faces.types import *
