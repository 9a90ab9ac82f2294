"""SMS segmentation: hand-checked cases from 3GPP TS 23.038/23.040, and properties."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from channels.smpp import gsm7_bytes, gsm7_text
from pipeline.renderers.sms_segment import (
    GSM7_BASIC,
    GSM7_EXTENSION,
    LIMITS,
    is_grapheme_boundary,
    segment,
)

FAMILY = "👨\u200d👩\u200d👧"  # three emoji joined by ZWJ: 8 UTF-16 units, one cluster
FLAG = "🇨🇳"  # two regional indicators: 4 units, one cluster


def units(part: str, encoding: str) -> int:
    """Counted independently of the module: UTF-16 code units, or septets."""
    if encoding == "UCS-2":
        return len(part.encode("utf-16-le")) // 2
    return sum(2 if char in GSM7_EXTENSION else 1 for char in part)


# (text, encoding, units, units of each part)
CASES = [
    ("", "GSM-7", 0, ()),
    ("a" * 160, "GSM-7", 160, (160,)),
    ("a" * 161, "GSM-7", 161, (153, 8)),
    ("a" * 306, "GSM-7", 306, (153, 153)),
    ("a" * 307, "GSM-7", 307, (153, 153, 1)),
    ("€" * 80, "GSM-7", 160, (160,)),  # extension characters count 2 septets
    ("a" * 159 + "€", "GSM-7", 161, (153, 8)),
    ("a" * 152 + "€" + "a" * 7, "GSM-7", 161, (152, 9)),  # ESC and its character stay together
    ("a" * 151 + "{}" + "a" * 9, "GSM-7", 164, (153, 11)),
    ("a" * 152 + "\r\n" + "a" * 10, "GSM-7", 164, (152, 12)),  # CR LF is one cluster
    ("Ç@£$¥èéùìòØøÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ¤¡ÄÖÑÜ§¿äöñüà", "GSM-7", 42, (42,)),
    ("ç", "UCS-2", 1, (1,)),  # only the capital Ç is in the default alphabet
    ("`", "UCS-2", 1, (1,)),  # the backtick is not either
    ("中" * 70, "UCS-2", 70, (70,)),
    ("中" * 71, "UCS-2", 71, (67, 4)),
    ("中" * 134, "UCS-2", 134, (67, 67)),
    ("中" * 135, "UCS-2", 135, (67, 67, 1)),
    ("a" * 69 + "中", "UCS-2", 70, (70,)),  # one Chinese character makes it all UCS-2
    ("😀" * 35, "UCS-2", 70, (70,)),  # an emoji is a surrogate pair: 2 units
    ("😀" * 36, "UCS-2", 72, (66, 6)),  # a pair is never split, so part 1 has 66
    ("中" * 66 + "😀" + "中" * 4, "UCS-2", 72, (66, 6)),
    ("中" * 66 + "e\u0301" + "中" * 3, "UCS-2", 71, (66, 5)),  # a combining accent
    ("中" * 61 + FLAG + FLAG + "中" * 10, "UCS-2", 79, (65, 14)),  # flags pair up
    ("中" * 62 + FAMILY + "中" * 3, "UCS-2", 73, (62, 11)),  # a ZWJ sequence stays whole
    ("中" * 64 + "👍🏽" + "中" * 3, "UCS-2", 71, (64, 7)),  # a skin tone stays with its hand
    ("中" * 66 + "1\ufe0f\u20e3" + "中", "UCS-2", 70, (70,)),
    ("中" * 66 + "1\ufe0f\u20e3" + "中" * 2, "UCS-2", 71, (66, 5)),  # keycap 1️⃣
    ("【扶贫公示】" + "中" * 60 + "回T退订", "UCS-2", 70, (70,)),  # signature, opt-out count
]


@pytest.mark.parametrize(("text", "encoding", "total", "sizes"), CASES)
def test_hand_checked_cases(text: str, encoding: str, total: int, sizes: tuple[int, ...]
                            ) -> None:
    cut = segment(text)
    assert (cut.encoding, cut.units, cut.part_units) == (encoding, total, sizes)
    assert cut.segments == len(sizes)
    assert "".join(cut.parts) == text
    assert [units(p, encoding) for p in cut.parts] == list(sizes)


def test_the_basic_table_has_127_characters_besides_escape() -> None:
    assert len(GSM7_BASIC) == len(set(GSM7_BASIC)) == 127
    assert "\x1b" not in GSM7_BASIC


def test_gsm7_codes_from_the_standard() -> None:
    assert gsm7_bytes("@£$") == b"\x00\x01\x02"
    assert gsm7_bytes("\n\rÆA_a") == b"\x0a\x0d\x1c\x41\x11\x61"
    assert gsm7_bytes("€{}[]~|^\\\f") == bytes.fromhex("1b65 1b28 1b29 1b3c 1b3e 1b3d 1b40 1b14 "
                                                      "1b2f 1b0a".replace(" ", ""))


def test_json_shape() -> None:
    assert segment("中" * 71).as_json() == {
        "encoding": "UCS-2", "units": 71, "segments": 2, "parts": ["中" * 67, "中" * 4]}


# -- properties --------------------------------------------------------------------------

def limit_of(encoding: str, segments: int) -> int:
    single, per_part = LIMITS[encoding]
    return single if segments == 1 else per_part


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400))
def test_any_text_rebuilds_and_every_part_fits(text: str) -> None:
    cut = segment(text)
    assert "".join(cut.parts) == text
    assert all(cut.parts)
    limit = limit_of(cut.encoding, cut.segments)
    for part in cut.parts:
        assert units(part, cut.encoding) <= limit
        # what goes on the wire: never half a surrogate pair (strict UTF-16 would refuse it)
        assert len(part.encode("utf-16-be")) == 2 * units(part, "UCS-2")
    assert sum(cut.part_units) == cut.units == units(text, cut.encoding)


gsm_text = st.text(alphabet=st.sampled_from(GSM7_BASIC + GSM7_EXTENSION), max_size=500)


@settings(max_examples=200, deadline=None)
@given(gsm_text)
def test_gsm_texts_stay_gsm_and_fit(text: str) -> None:
    cut = segment(text)
    assert cut.encoding == "GSM-7"
    assert "".join(cut.parts) == text
    for part in cut.parts:
        assert units(part, "GSM-7") <= limit_of("GSM-7", cut.segments)
        wire = gsm7_bytes(part)  # one septet a byte, as SMPP carries them
        assert len(wire) == units(part, "GSM-7") and not wire.endswith(b"\x1b")
        assert gsm7_text(wire) == part
    if cut.segments > 1:  # a cut may give up one septet to keep ESC and character together
        assert all(units(p, "GSM-7") >= 152 for p in cut.parts[:-1])


# Whole grapheme clusters: a text made of them may be cut between them, never inside.
CLUSTERS = [
    "a", "Z", " ", "中", "文", "，", "。", "1", "\n", "\r\n", "€", "{", "😀", "🎉", FAMILY,
    "👩\u200d💻", "🏴\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f",  # England
    FLAG, "🇺🇸", "👍🏽", "e\u0301", "a\u0308\u0323", "1\ufe0f\u20e3", "❤\ufe0f",
    "한", "\u1112\u1161\u11ab", "कि", "か\u3099",
]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(CLUSTERS), max_size=160))
def test_cuts_fall_between_clusters_only(clusters: list[str]) -> None:
    text = "".join(clusters)
    allowed, position = {0}, 0
    for cluster in clusters:
        position += len(cluster)
        allowed.add(position)
    cut = segment(text)
    assert "".join(cut.parts) == text
    position = 0
    for part in cut.parts:
        position += len(part)
        assert position in allowed, f"cut inside a cluster at {position}: {part[-3:]!r}"
        assert units(part, cut.encoding) <= limit_of(cut.encoding, cut.segments)


@pytest.mark.parametrize("cluster", [c for c in CLUSTERS if len(c) > 1])
def test_no_boundary_inside_a_cluster(cluster: str) -> None:
    text = "中" + cluster + "中"
    inside = range(2, len(cluster) + 1)
    assert not any(is_grapheme_boundary(text, i) for i in inside)
    assert is_grapheme_boundary(text, 1) and is_grapheme_boundary(text, len(cluster) + 1)


def test_a_cluster_longer_than_a_part_is_cut_rather_than_lost() -> None:
    zalgo = "a" + "\u0301" * 100
    cut = segment(zalgo)
    assert "".join(cut.parts) == zalgo
    assert all(size <= 67 for size in cut.part_units)


# -- spans kept whole (links, phone numbers) ----------------------------------------------

LINK = "https://gongshi.example.gov.cn/areas/f5888b6e48/"


def test_a_cut_inside_a_kept_span_moves_back_to_its_start() -> None:
    text = "中" * 60 + " " + LINK + "\n回T退订"
    start = text.index(LINK)
    plain = segment(text)
    assert plain.part_units == (67, 47)  # without the span: the link is split
    kept = segment(text, [(start, start + len(LINK))])
    assert kept.parts == (text[:start], text[start:])
    assert kept.part_units == (61, 53)
    assert [units(p, "UCS-2") for p in kept.parts] == list(kept.part_units)


def test_a_span_longer_than_a_part_is_cut_where_it_must_be() -> None:
    long_link = "https://example.org/" + "a" * 100
    text = "中" + long_link
    cut = segment(text, [(1, len(text))])
    assert "".join(cut.parts) == text and cut.part_units[0] == 1  # moved back once...
    assert all(size <= 67 for size in cut.part_units)  # ...then cut inside, as it must


LINKS = [LINK, "https://gs.example.cn/n/sf-2018-0012", "0838-8202012", "12317"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(CLUSTERS), st.sampled_from(LINKS)), max_size=120))
def test_kept_spans_stay_whole_and_every_part_still_fits(pieces: list[str]) -> None:
    text, spans, position = "".join(pieces), [], 0
    for piece in pieces:
        if piece in LINKS:
            spans.append((position, position + len(piece)))
        position += len(piece)
    cut = segment(text, spans)
    assert "".join(cut.parts) == text
    limit = limit_of(cut.encoding, cut.segments)
    assert [units(p, cut.encoding) for p in cut.parts] == list(cut.part_units)
    assert all(size <= limit for size in cut.part_units)
    assert sum(cut.part_units) == cut.units == units(text, cut.encoding)
    ends, position = set(), 0
    for part in cut.parts[:-1]:
        position += len(part)
        ends.add(position)
    for low, high in spans:
        # a span that fits a part is never cut; nor is it when the cut could not move back
        if units(text[low:high], cut.encoding) <= LIMITS[cut.encoding][1]:
            assert not any(low < end < high for end in ends), (text[low:high], cut.parts)
