"""png.encode: what Pillow reads back is the picture that went in, palette and resolution too."""

from __future__ import annotations

import io
import random

import pytest
from PIL import Image

from pipeline.renderers import png


def decoded(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def noisy(mode: str, size: tuple[int, int], levels: int) -> Image.Image:
    rng = random.Random(5)
    image = Image.new(mode, size)
    image.putdata([rng.randrange(levels) for _ in range(size[0] * size[1])])
    return image


def test_a_palette_picture_comes_back_index_for_index_with_its_palette() -> None:
    image = noisy("P", (37, 23), 40)
    palette = [channel for i in range(40) for channel in (i * 6, 255 - i * 6, (i * 37) % 256)]
    image.putpalette(palette)
    back = decoded(png.encode(image))
    assert back.mode == "P"
    assert back.size == (37, 23)
    assert back.tobytes() == image.tobytes()
    assert back.getpalette()[:len(palette)] == palette
    assert back.convert("RGB").tobytes() == image.convert("RGB").tobytes()


def test_a_grey_picture_comes_back_byte_for_byte_with_its_dpi() -> None:
    image = noisy("L", (64, 9), 256)
    back = decoded(png.encode(image, dpi=150))
    assert back.mode == "L"
    assert back.tobytes() == image.tobytes()
    assert tuple(round(d) for d in back.info["dpi"]) == (150, 150)  # stored per metre


def test_no_dpi_is_recorded_unless_asked() -> None:
    assert "dpi" not in decoded(png.encode(Image.new("L", (4, 4), 255))).info


def test_other_modes_are_refused() -> None:
    with pytest.raises(ValueError, match="mode L or P"):
        png.encode(Image.new("RGB", (4, 4)))
