"""Brightness, contrast, gamma and invert of the photo on screen, and nothing else.

Only the picture the canvas shows changes: the document, the exports and the model (which reads
the image files itself) never see it. The adjustment is one 256-entry lookup table applied with
numpy to the 8-bit channels of the decoded picture, once per image shown (or per key press),
never per paint. It is kept across images and, through the settings, across restarts.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, replace

import numpy as np
from PySide6.QtGui import QImage

BRIGHTNESS_STEP = 0.1  # of the full range, per key press
FACTOR_STEP = 1.25  # contrast and gamma are multiplied or divided by this per key press
BRIGHTNESS_RANGE = (-0.9, 0.9)
FACTOR_RANGE = (0.25, 4.0)


@dataclass(frozen=True)
class DisplayAdjust:
    """``v`` in 0..1: inverted (``1 - v``) if ``invert``, then ``(v - 0.5) * contrast + 0.5 +
    brightness``, clipped to 0..1, then ``v ** (1 / gamma)`` (gamma > 1 lifts the shadows)."""

    brightness: float = 0.0
    contrast: float = 1.0
    gamma: float = 1.0
    invert: bool = False

    @property
    def identity(self) -> bool:
        return self == DisplayAdjust()

    def lut(self) -> np.ndarray:
        """The lookup table: 256 uint8 outputs for the 256 input levels."""
        v = np.arange(256, dtype=np.float64) / 255.0
        if self.invert:
            v = 1.0 - v
        v = np.clip((v - 0.5) * self.contrast + 0.5 + self.brightness, 0.0, 1.0)
        v = v ** (1.0 / self.gamma)
        return np.round(v * 255.0).astype(np.uint8)

    # steps (what the keys do), each clamped to its range

    def brighter(self, steps: int) -> DisplayAdjust:
        b = round(self.brightness + steps * BRIGHTNESS_STEP, 2)
        return replace(self, brightness=min(max(b, BRIGHTNESS_RANGE[0]), BRIGHTNESS_RANGE[1]))

    def more_contrast(self, steps: int) -> DisplayAdjust:
        return replace(self, contrast=_factor(self.contrast, steps))

    def more_gamma(self, steps: int) -> DisplayAdjust:
        return replace(self, gamma=_factor(self.gamma, steps))

    def inverted(self) -> DisplayAdjust:
        return replace(self, invert=not self.invert)

    def describe(self) -> str:
        """A short text for the status bar ("" when nothing is adjusted)."""
        if self.identity:
            return ""
        parts = []
        if self.brightness:
            parts.append(f"brightness {self.brightness:+.1f}")
        if self.contrast != 1.0:
            parts.append(f"contrast {self.contrast:.2f}")
        if self.gamma != 1.0:
            parts.append(f"gamma {self.gamma:.2f}")
        if self.invert:
            parts.append("inverted")
        return "Display: " + ", ".join(parts)

    def to_dict(self) -> dict:
        return {
            "brightness": self.brightness,
            "contrast": self.contrast,
            "gamma": self.gamma,
            "invert": self.invert,
        }

    @staticmethod
    def from_dict(d: dict) -> DisplayAdjust:
        """Read settings back; anything missing or malformed falls back to no adjustment."""
        try:
            b = float(d.get("brightness", 0.0))
            c = float(d.get("contrast", 1.0))
            g = float(d.get("gamma", 1.0))
            inv = str(d.get("invert", False)).lower() in ("true", "1")
        except (TypeError, ValueError):
            return DisplayAdjust()
        if not all(np.isfinite(v) for v in (b, c, g)):
            return DisplayAdjust()
        return DisplayAdjust(
            min(max(b, BRIGHTNESS_RANGE[0]), BRIGHTNESS_RANGE[1]),
            min(max(c, FACTOR_RANGE[0]), FACTOR_RANGE[1]),
            min(max(g, FACTOR_RANGE[0]), FACTOR_RANGE[1]),
            inv,
        )


def _factor(value: float, steps: int) -> float:
    v = round(value * FACTOR_STEP**steps, 4)
    if abs(v - 1.0) < 1e-3:
        v = 1.0
    return min(max(v, FACTOR_RANGE[0]), FACTOR_RANGE[1])


def apply_lut(image: QImage, lut: np.ndarray) -> QImage:
    """A new 32-bit picture with ``lut`` applied to its red, green and blue bytes (alpha kept)."""
    img = image
    if img.format() not in (QImage.Format.Format_RGB32, QImage.Format.Format_ARGB32):
        img = img.convertToFormat(QImage.Format.Format_ARGB32)
    w, h, bpl = img.width(), img.height(), img.bytesPerLine()
    src = np.frombuffer(img.constBits(), np.uint8, count=h * bpl).reshape(h, bpl)[:, : w * 4]
    src = src.reshape(h, w, 4)
    alpha = 3 if sys.byteorder == "little" else 0  # 0xAARRGGBB stored as a native uint32
    out = lut[src]
    out[..., alpha] = src[..., alpha]
    out = np.ascontiguousarray(out)
    return QImage(out.data, w, h, 4 * w, img.format()).copy()
