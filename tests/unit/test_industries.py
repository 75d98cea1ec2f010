"""Tests for postloan.customers.industries: the sections and divisions of GB/T 4754-2017."""

from __future__ import annotations

import string

import pytest

from postloan.customers.industries import (
    DIVISIONS,
    DIVISIONS_BY_CODE,
    SECTIONS,
    SECTIONS_BY_CODE,
    Division,
    Section,
    section_of,
)

# The division ranges of each section in GB/T 4754-2017.
RANGES = {
    "A": (1, 5), "B": (6, 12), "C": (13, 43), "D": (44, 46), "E": (47, 50), "F": (51, 52), "G": (53, 60),
    "H": (61, 62), "I": (63, 65), "J": (66, 69), "K": (70, 70), "L": (71, 72), "M": (73, 75), "N": (76, 79),
    "O": (80, 82), "P": (83, 83), "Q": (84, 85), "R": (86, 90), "S": (91, 96), "T": (97, 97),
}


def test_twenty_sections_a_to_t_in_order() -> None:
    assert len(SECTIONS) == 20
    assert [section.code for section in SECTIONS] == list(string.ascii_uppercase[:20])
    assert all(isinstance(section, Section) for section in SECTIONS)
    assert set(SECTIONS_BY_CODE) == set(RANGES)


def test_ninety_seven_divisions_with_unique_contiguous_codes() -> None:
    codes = [division.code for division in DIVISIONS]
    assert len(codes) == 97
    assert len(set(codes)) == 97
    assert codes == [f"{n:02d}" for n in range(1, 98)]
    assert set(DIVISIONS_BY_CODE) == set(codes)
    assert sum(len(section.divisions) for section in SECTIONS) == 97
    assert all(isinstance(division, Division) for division in DIVISIONS)


@pytest.mark.parametrize(("section_code", "bounds"), sorted(RANGES.items()))
def test_each_section_owns_its_range(section_code: str, bounds: tuple[int, int]) -> None:
    section = SECTIONS_BY_CODE[section_code]
    first, last = bounds
    assert [division.code for division in section.divisions] == [f"{n:02d}" for n in range(first, last + 1)]
    for division in section.divisions:
        assert division.section == section_code
        assert section_of(division.code) is section


def test_names_present_and_unique() -> None:
    for item in (*SECTIONS, *DIVISIONS):
        assert item.name_zh and item.name_en
        assert item.name_zh == item.name_zh.strip() and item.name_en == item.name_en.strip()
        assert all("\u4e00" <= char <= "\u9fff" or char == "、" for char in item.name_zh), item
        assert item.name_en.isascii(), item
    assert len({section.name_zh for section in SECTIONS}) == 20
    assert len({division.name_zh for division in DIVISIONS}) == 97


@pytest.mark.parametrize(
    ("code", "section", "name_zh"),
    [
        ("01", "A", "农业"),
        ("05", "A", "农、林、牧、渔专业及辅助性活动"),
        ("06", "B", "煤炭开采和洗选业"),
        ("12", "B", "其他采矿业"),
        ("13", "C", "农副食品加工业"),
        ("25", "C", "石油、煤炭及其他燃料加工业"),
        ("39", "C", "计算机、通信和其他电子设备制造业"),
        ("43", "C", "金属制品、机械和设备修理业"),
        ("44", "D", "电力、热力生产和供应业"),
        ("47", "E", "房屋建筑业"),
        ("51", "F", "批发业"),
        ("58", "G", "多式联运和运输代理业"),
        ("62", "H", "餐饮业"),
        ("65", "I", "软件和信息技术服务业"),
        ("66", "J", "货币金融服务"),
        ("70", "K", "房地产业"),
        ("72", "L", "商务服务业"),
        ("79", "N", "土地管理业"),
        ("83", "P", "教育"),
        ("87", "R", "广播、电视、电影和录音制作业"),
        ("96", "S", "基层群众自治组织及其他组织"),
        ("97", "T", "国际组织"),
    ],
)
def test_spot_checks(code: str, section: str, name_zh: str) -> None:
    division = DIVISIONS_BY_CODE[code]
    assert division.section == section
    assert division.name_zh == name_zh
    assert section_of(code).code == section


def test_section_names() -> None:
    assert SECTIONS_BY_CODE["C"].name_zh == "制造业"
    assert SECTIONS_BY_CODE["D"].name_zh == "电力、热力、燃气及水生产和供应业"
    assert SECTIONS_BY_CODE["J"].name_zh == "金融业"
    assert SECTIONS_BY_CODE["J"].name_en == "Finance"
    assert SECTIONS_BY_CODE["K"].name_zh == "房地产业"
    assert SECTIONS_BY_CODE["T"].name_zh == "国际组织"


def test_section_of_accepts_group_and_class_codes() -> None:
    assert section_of("131").code == "C"
    assert section_of("6621").code == "J"
    assert section_of(" 70 ").code == "K"


@pytest.mark.parametrize("bad", ["", "0", "00", "98", "99", "A", "C13", "1", "12345", "１３"])
def test_section_of_rejects_unknown_codes(bad: str) -> None:
    with pytest.raises(KeyError):
        section_of(bad)


def test_immutable() -> None:
    with pytest.raises(AttributeError):
        DIVISIONS_BY_CODE["66"].name_zh = "银行"  # type: ignore[misc]
