"""The subscriber CSV: E.164 phones, located errors, merged duplicates, masked phones."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.config import Config, load_config
from pipeline.errors import SubscriberError
from pipeline.subscribers import Subscriber, load_subscribers, mask_phone, normalise_phone

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def config() -> Config:
    return load_config(REPO / "noticecast.yaml")


def write(tmp_path: Path, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / "subscribers.csv"
    path.write_bytes(text.encode(encoding))
    return path


@pytest.mark.parametrize(("raw", "e164"), [
    ("13800000001", "+8613800000001"),
    ("138 0000 0001", "+8613800000001"),
    ("138-0000-0001", "+8613800000001"),
    ("+86 138 0000 0001", "+8613800000001"),
    ("8613800000001", "+8613800000001"),
    ("008613800000001", "+8613800000001"),
    ("19912345678", "+8619912345678"),
    ("12800000001", None),  # no mobile range starts with 12
    ("1380000000", None),  # ten digits
    ("0838-8202011", None),  # a landline cannot receive a text
    ("+1 415 555 0100", None),
    ("", None),
])
def test_phone_normalisation(raw: str, e164: str | None) -> None:
    assert normalise_phone(raw) == e164


def test_masking() -> None:
    assert mask_phone("+8613812341234") == "138****1234"
    assert mask_phone("13812341234") == "138****1234"
    assert Subscriber("+8613812341234", "什邡市").masked == "138****1234"


def test_key_is_stable_and_hides_the_phone() -> None:
    one = Subscriber("+8613800000001", "什邡市/师古镇/马祖村")
    again = Subscriber("+8613800000001", "什邡市", name="other")
    assert one.key == again.key
    assert one.key.startswith("sub-") and len(one.key) == 20
    assert "13800000001" not in one.key
    assert one.key != Subscriber("+8613800000002", "什邡市").key


def test_the_demo_list_is_valid_and_spread(config: Config) -> None:
    subscribers, warnings = load_subscribers(REPO / "subscribers.csv", config,
                                             "subscribers.csv")
    assert warnings == []
    assert len(subscribers) >= 12
    depths = {len(s.area.split("/")) for s in subscribers}
    assert depths == {1, 2, 3}  # a county-level subscriber, towns and villages
    assert len({s.area.split("/")[0] for s in subscribers}) == 3
    assert all(s.phone.startswith("+86138000000") for s in subscribers)


def test_errors_are_located_and_reported_together(tmp_path: Path, config: Config) -> None:
    path = write(tmp_path, "phone,area,name\n"
                           "13800000001,什邡市/师古镇/马祖村,甲\n"
                           "1380000,什邡市/师古镇/马祖村,乙\n"
                           "\n"
                           "13800000003,什邡市/师古镇/马祖,丙\n"
                           "13800000004,,丁\n"
                           ",什邡市,戊\n")
    with pytest.raises(SubscriberError) as caught:
        load_subscribers(path, config, "subscribers.csv")
    lines = [str(p) for p in caught.value.problems]
    assert lines[0].startswith("subscribers.csv:3:1: ")
    assert "not a Chinese mobile number" in lines[0]
    assert lines[1].startswith("subscribers.csv:5:13: ")
    assert "'马祖' is not in the regions" in lines[1] and "什邡市/师古镇/马祖村" in lines[1]
    assert lines[2].startswith("subscribers.csv:6:13: ") and "area is missing" in lines[2]
    assert lines[3].startswith("subscribers.csv:7:1: ") and "phone is missing" in lines[3]
    assert len(lines) == 4
    assert not any("1380000," in line for line in lines)  # the bad phone is masked too


def test_duplicates_are_merged_with_a_warning(tmp_path: Path, config: Config) -> None:
    path = write(tmp_path, "phone,area,name\n"
                           "13800000001,什邡市/师古镇/马祖村,\n"
                           "13800000002,广安区/花桥镇\n"
                           "+86 138 0000 0001,什邡市/师古镇/马祖村,甲\n"
                           "138-0000-0002,城口县\n")
    subscribers, warnings = load_subscribers(path, config, "s.csv")
    assert [(s.phone, s.area, s.name) for s in subscribers] == [
        ("+8613800000001", "什邡市/师古镇/马祖村", "甲"),
        ("+8613800000002", "广安区/花桥镇", None),
    ]
    assert [str(w) for w in warnings] == [
        "s.csv:4:1: warning: 138****0001 is already listed on line 2; merged "
        "(same area 什邡市/师古镇/马祖村)",
        "s.csv:5:1: warning: 138****0002 is already listed on line 3; merged "
        "(kept its area 广安区/花桥镇, not 城口县)",
    ]


def test_chinese_headers_bom_and_gb18030(tmp_path: Path, config: Config) -> None:
    text = "手机号,地区,姓名\n13800000001,什邡市/师古镇/马祖村,张三\n"
    for encoding in ("utf-8-sig", "gb18030"):
        subscribers, _ = load_subscribers(write(tmp_path, text, encoding), config, "s.csv")
        assert subscribers == [Subscriber("+8613800000001", "什邡市/师古镇/马祖村", "张三")]


def test_a_missing_column_or_file_is_one_located_error(tmp_path: Path, config: Config) -> None:
    with pytest.raises(SubscriberError, match=r"^s.csv:1:1: the header needs the column\(s\) "
                                              "area"):
        load_subscribers(write(tmp_path, "phone,name\n13800000001,x\n"), config, "s.csv")
    with pytest.raises(SubscriberError, match=r"^missing\.csv: cannot read"):
        load_subscribers(tmp_path / "missing.csv", config, "missing.csv")
