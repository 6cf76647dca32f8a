from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

import phonenumbers
import pytest

from hotline.emergency import EmergencyInfo, describe, emergency_for, load_table

ZH = {"police": "报警", "ambulance": "急救", "general": "紧急电话"}


def _codes(text: str) -> list[str]:
    # Space-separated: a list literal, formatted one code per line, would run to 70 lines.
    return text.split()


EU = _codes("AT BE BG HR CY CZ DK EE FI FR DE GR HU IE IT LV LT LU MT NL PL PT RO SK SI ES SE")
EEA_EXTRA = _codes("IS LI NO")
OTHERS = _codes(
    "GB CH US CA MX BR AR CL PE AU NZ JP KR SG MY TH VN PH ID IN AE SA IL TR RU"
    " ZA NG KE EG HK MO TW CN"
)
REQUIRED = [*EU, *EEA_EXTRA, *OTHERS]


@pytest.fixture(scope="module")
def table() -> dict[str, EmergencyInfo]:
    return load_table()


def test_packaged_table_is_shipped_as_package_data() -> None:
    # pyproject's package-data only picks up hotline/data/*.yaml.
    resource = resources.files("hotline").joinpath("data", "emergency_numbers.yaml")
    assert resource.is_file()


def test_table_covers_required_regions(table: dict[str, EmergencyInfo]) -> None:
    missing = [region for region in REQUIRED if region not in table]
    assert not missing


def test_every_entry_is_valid(table: dict[str, EmergencyInfo]) -> None:
    for region, info in table.items():
        assert region in phonenumbers.SUPPORTED_REGIONS
        assert info.region == region
        assert info.known
        numbers = [n for n in (info.general, info.police, info.ambulance) if n] + list(info.also)
        for number in numbers:
            assert number.isascii() and number.isdigit(), region
            assert 2 <= len(number) <= 5, region
        assert info.primary() is not None


def test_every_eu_country_has_112(table: dict[str, EmergencyInfo]) -> None:
    for region in [*EU, *EEA_EXTRA]:
        info = table[region]
        assert "112" in {info.general, info.police, info.ambulance, *info.also}, region


def test_uk() -> None:
    info = emergency_for("GB")
    assert info.known
    assert info.general == "999"
    assert "112" in info.also
    assert info.primary() == "999"


def test_japan() -> None:
    info = emergency_for("JP")
    assert (info.police, info.ambulance, info.general) == ("110", "119", None)
    assert info.primary() == "119"  # the ambulance, not the police


def test_us_and_canada() -> None:
    assert emergency_for("US").primary() == "911"
    assert emergency_for("CA").primary() == "911"


@pytest.mark.parametrize(
    ("region", "primary"),
    [
        ("IT", "112"),
        ("DE", "112"),
        ("FR", "112"),
        ("CN", "120"),
        ("KR", "119"),
        ("AU", "000"),
        ("NZ", "111"),
        ("SG", "995"),
        ("HK", "999"),
        ("IN", "112"),
        ("NO", "113"),
        ("CH", "144"),
        ("TH", "1669"),
        ("ZA", "10177"),
    ],
)
def test_primary(region: str, primary: str) -> None:
    assert emergency_for(region).primary() == primary


def test_primary_falls_back_to_police() -> None:
    info = EmergencyInfo(region="XX", general=None, police="100", ambulance=None, also=())
    assert info.primary() == "100"


@pytest.mark.parametrize("region", [None, "", "  ", "XX", "001", "ZZ"])
def test_unknown_region(region: str | None) -> None:
    info = emergency_for(region)
    assert not info.known
    assert info.primary() is None
    assert describe(info, ZH) is None


def test_region_is_case_insensitive() -> None:
    assert emergency_for("jp") == emergency_for("JP")
    assert emergency_for(" it ").general == "112"


# --- describe -----------------------------------------------------------------------------


def test_describe_police_and_ambulance() -> None:
    assert describe(emergency_for("JP"), ZH) == "报警 1 1 0, 急救 1 1 9"
    assert describe(emergency_for("CN"), ZH) == "报警 1 1 0, 急救 1 2 0"


def test_describe_general_only() -> None:
    assert describe(emergency_for("IT"), ZH) == "紧急电话 1 1 2"
    assert describe(emergency_for("US"), ZH) == "紧急电话 9 1 1"
    # "also" numbers are not read out: one clear number beats a list.
    assert describe(emergency_for("GB"), ZH) == "紧急电话 9 9 9"


def test_describe_general_with_separate_services() -> None:
    assert describe(emergency_for("FR"), ZH) == "紧急电话 1 1 2, 报警 1 7, 急救 1 5"


def test_describe_does_not_repeat_a_number() -> None:
    # In Germany 112 is the ambulance number and the general one at once.
    info = EmergencyInfo(region="XX", general="112", police="110", ambulance="112", also=())
    assert describe(info, ZH) == "紧急电话 1 1 2, 报警 1 1 0"


def test_describe_same_police_and_ambulance_uses_general_label() -> None:
    info = EmergencyInfo(region="XX", general=None, police="999", ambulance="999", also=())
    assert describe(info, ZH) == "紧急电话 9 9 9"


def test_describe_separator_and_other_language() -> None:
    labels = {"police": "police", "ambulance": "ambulance", "general": "emergency"}
    assert describe(emergency_for("SG"), labels, sep="; ") == "police 9 9 9; ambulance 9 9 5"


def test_describe_missing_label_still_gives_digits() -> None:
    assert describe(emergency_for("JP"), {"police": "报警"}) == "报警 1 1 0, 1 1 9"


# --- validation ---------------------------------------------------------------------------


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "numbers.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_load_table_from_path(tmp_path: Path) -> None:
    path = _write(tmp_path, 'IT: {general: "112"}\n"NO": {police: "112", ambulance: "113"}\n')
    table = load_table(path)
    assert set(table) == {"IT", "NO"}
    assert table["NO"].ambulance == "113"


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ('XX: {general: "112"}', "XX"),
        ('it: {general: "112"}', "it"),
        ('NO: {general: "112"}', "NO"),  # YAML 1.1 reads it as false
        ("IT: {general: 112}", "IT.general"),
        ('AU: {general: "0O0"}', "AU.general"),
        ('IT: {general: "1"}', "IT.general"),
        ('IT: {general: "123456"}', "IT.general"),
        ('IT: {general: "+112"}', "IT.general"),
        ('GB: {general: "999", also: ["11 2"]}', "GB.also[0]"),
        ('GB: {general: "999", also: "112"}', "GB.also"),
        ('DE: {ambulence: "112"}', "DE"),
        ('FR: {fire: "18"}', "FR"),
        ("IT: 112", "IT"),
        ("- IT", "mapping"),
    ],
)
def test_load_table_rejects(tmp_path: Path, text: str, names: str) -> None:
    with pytest.raises(ValueError, match=re.escape(names)):
        load_table(_write(tmp_path, text + "\n"))
