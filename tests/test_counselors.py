from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from hotline.counselors import (
    LANGUAGES,
    Change,
    CounselorSpec,
    RosterError,
    RosterErrors,
    counselor_to_spec,
    export_roster,
    format_overrides,
    format_shifts,
    import_roster,
    parse_roster,
    roster_entries,
)
from hotline.db import Database
from hotline.migrate import upgrade
from hotline.models import Counselor, Shift, ShiftOverride
from hotline.schedule import DatedOverride, WeeklyShift, coverage, on_call

SH = ZoneInfo("Asia/Shanghai")
DEMO = Path(__file__).resolve().parent.parent / "hotline" / "data" / "demo_counselors.yaml"
WANG = "+8613800000001"
LI = "+8613800000002"

ROSTER = """\
counselors:
  - name: 王敏
    phone: "+86 138 0000 0001"          # spaces are fine
    languages: [mandarin, english]
    timezone: Asia/Shanghai
    shifts:
      - {days: [mon, tue, wed, thu, fri], start: "08:30", end: "17:00"}
      - {days: [sat], start: "20:00", end: "02:00"}
    overrides:
      - {date: 2026-12-24, off: true}
      - {date: 2026-12-26, start: "09:00", end: "13:00"}
  - name: 李娜
    phone: "+8613800000002"
    languages: [mandarin]
    timezone: Asia/Shanghai
    shifts:
      - {days: [mon, tue, wed, thu, fri], start: "16:00", end: "24:00"}
"""


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Migrating once and copying keeps each test fast.
    path = tmp_path_factory.mktemp("roster") / "template.db"
    upgrade("sqlite:///" + str(path))
    return path


@pytest.fixture
def db(tmp_path: Path, template: Path) -> Iterator[Database]:
    path = tmp_path / "t.db"
    shutil.copy(template, path)
    database = Database("sqlite:///" + str(path))
    yield database
    database.dispose()


def load(db: Database, text: str, filename: str = "roster.yaml", **kw: bool) -> list[Change]:
    specs = parse_roster(text, filename)
    with db.session() as s:
        return import_roster(s, specs, **kw)


def errors_of(text: str, filename: str = "roster.yaml") -> list[RosterError]:
    with pytest.raises(RosterErrors) as info:
        parse_roster(text, filename)
    return info.value.errors


def one_entry(body: str, name: str = "王敏") -> str:
    """A roster with one entry; ``body`` holds the fields other than name."""
    lines = [f"  - name: {name}"] + [f"    {line}" for line in body.strip().splitlines()]
    return "counselors:\n" + "\n".join(lines) + "\n"


GOOD_FIELDS = """\
phone: "+8613800000001"
languages: [mandarin]
shifts:
  - {days: [mon], start: "08:30", end: "17:00"}
"""


# --- parsing --------------------------------------------------------------------------------


def test_parse_yaml() -> None:
    wang, li = parse_roster(ROSTER, "roster.yaml")
    assert wang == CounselorSpec(
        name="王敏",
        phone=WANG,
        languages=("mandarin", "english"),
        timezone="Asia/Shanghai",
        shifts=(
            WeeklyShift(frozenset(range(5)), time(8, 30), time(17)),
            WeeklyShift(frozenset({5}), time(20), time(2)),
        ),
        overrides=(
            DatedOverride(date(2026, 12, 24), off=True),
            DatedOverride(date(2026, 12, 26), off=False, start=time(9), end=time(13)),
        ),
    )
    assert li.shifts == (WeeklyShift(frozenset(range(5)), time(16), time(0)),)
    assert format_shifts(li.shifts) == "mon-fri 16:00-24:00"
    assert format_overrides(wang.overrides) == "2026-12-24 off; 2026-12-26 09:00-13:00"


def test_spec_repr_masks_the_phone() -> None:
    wang, _ = parse_roster(ROSTER, "roster.yaml")
    assert "13800000001" not in repr(wang)
    assert "0001" in repr(wang)


def test_yaml_leniencies() -> None:
    # Unquoted times (YAML would read 20:00 as 1200), unquoted +phone, text forms in lists,
    # day ranges that wrap, and languages in any order and case.
    text = """\
counselors:
  - name: " 王  敏 "
    phone: +8613800000001
    languages: English, MANDARIN
    shifts:
      - {days: sat-mon, start: 20:00, end: 24:00}
      - "tue,thu 8:30-12:00"
    overrides:
      - 2026-12-24 off
"""
    [spec] = parse_roster(text, "r.yml")
    assert spec.name == "王 敏"
    assert spec.phone == WANG
    assert spec.languages == ("mandarin", "english")
    assert spec.timezone == "Asia/Shanghai"  # the default
    assert format_shifts(spec.shifts) == "mon,sat,sun 20:00-24:00; tue,thu 08:30-12:00"
    assert spec.overrides == (DatedOverride(date(2026, 12, 24), off=True),)


def test_empty_roster() -> None:
    assert parse_roster("counselors: []\n", "r.yaml") == []
    assert parse_roster("counselors:\n", "r.yaml") == []


def test_parse_csv() -> None:
    text = (
        "name,phone,languages,timezone,shifts,overrides\n"
        '王敏,+86 138 0000 0001,mandarin;english,Asia/Shanghai,"mon-fri 08:30-17:00; '
        'sat 20:00-02:00","2026-12-24 off; 2026-12-26 09:00-13:00"\n'
        "李娜,+8613800000002,mandarin|cantonese,,mon-fri 16:00-24:00,\n"
        ",,,,,\n"
    )
    from_csv = parse_roster(text, "roster.CSV")
    from_yaml = parse_roster(ROSTER, "roster.yaml")
    assert from_csv[0] == from_yaml[0]
    assert from_csv[1].languages == ("mandarin", "cantonese")
    assert from_csv[1].timezone == "Asia/Shanghai"
    assert from_csv[1].shifts == from_yaml[1].shifts


def test_csv_with_bom_and_minimal_columns() -> None:
    text = "\ufeffName,Phone,Languages\n王敏,+8613800000001,mandarin\n"
    [spec] = parse_roster(text, "r.csv")
    assert spec.shifts == () and spec.overrides == ()


def test_csv_errors() -> None:
    [err] = errors_of("name,phone\n王敏,+8613800000001\n", "r.csv")
    assert "missing column" in str(err) and "languages" in str(err)
    [err] = errors_of("name,phone,languages,colour\n", "r.csv")
    assert "colour" in str(err)
    [err] = errors_of("name,phone,languages,phone\n", "r.csv")
    assert "'phone' appears twice" in str(err)
    errs = errors_of(
        "name,phone,languages,shifts\n"
        "王敏,+8613800000001,mandarin,mon-fri 08:30-17:00\n"
        "李娜,+86 123,mandarin,funday 08:30-17:00\n",
        "r.csv",
    )
    assert {(e.entry, e.field) for e in errs} == {(2, "phone"), (2, "shifts[1].days")}
    assert "entry 2 (李娜): phone:" in str(errs[0])


# --- validation: every error names the entry and the field ----------------------------------


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ('phone: "+86 123"\nlanguages: [mandarin]', "phone", "not a valid phone number"),
        ('phone: "13800000001"\nlanguages: [mandarin]', "phone", "international"),
        ('phone: "+861380000000"\nlanguages: [mandarin]', "phone", "not a valid phone number"),
        ("languages: [mandarin]", "phone", "is required"),
        ('phone: "+8613800000001"\nlanguages: [mandarin, french]', "languages", "'french'"),
        ('phone: "+8613800000001"\nlanguages: []', "languages", "at least one"),
        ('phone: "+8613800000001"', "languages", "is required"),
        (
            'phone: "+8613800000001"\nlanguages: [mandarin]\ntimezone: Asia/Beijing',
            "timezone",
            "unknown time zone 'Asia/Beijing'",
        ),
        (
            'phone: "+8613800000001"\nlanguages: [mandarin]\ntimezone: ../../etc/passwd',
            "timezone",
            "unknown time zone",
        ),
        (
            'phone: "+8613800000001"\nlanguages: [mandarin]\n'
            'shifts: [{days: [mon, funday], start: "08:00", end: "12:00"}]',
            "shifts[1].days",
            "'funday' is not a day",
        ),
        (
            'phone: "+8613800000001"\nlanguages: [mandarin]\n'
            'shifts: [{days: [], start: "08:00", end: "12:00"}]',
            "shifts[1].days",
            "is required",
        ),
        (
            'phone: "+8613800000001"\nlanguages: [mandarin]\n'
            'shifts: [{days: [mon], start: "08:00", end: "12:00"}, '
            '{days: [tue], start: "25:00", end: "12:00"}]',
            "shifts[2].start",
            "'25:00' is out of range",
        ),
        (
            'phone: "+8613800000001"\nlanguages: [mandarin]\n'
            'shifts: [{days: [mon], start: "08:60", end: "12:00"}]',
            "shifts[1].start",
            "out of range",
        ),
        (
            'phone: "+8613800000001"\nlanguages: [mandarin]\n'
            'shifts: [{days: [mon], start: "08:00", end: "24:30"}]',
            "shifts[1].end",
            "out of range",
        ),
        (
            'phone: "+8613800000001"\nlanguages: [mandarin]\n'
            'shifts: [{days: [mon], start: "8am", end: "12:00"}]',
            "shifts[1].start",
            "not a time HH:MM",
        ),
        (
            'phone: "+8613800000001"\nlanguages: [mandarin]\n'
            'shifts: [{days: [mon], start: "24:00", end: "02:00"}]',
            "shifts[1].start",
            "24:00 is only valid as an end",
        ),
        (
            'phone: "+8613800000001"\nlanguages: [mandarin]\n'
            'shifts: [{days: [mon], start: "09:00", end: "09:00"}]',
            "shifts[1].end",
            "same time",
        ),
        (
            'phone: "+8613800000001"\nlanguages: [mandarin]\n'
            'shifts: [{days: [mon], start: "09:00"}]',
            "shifts[1].end",
            "is required",
        ),
        (
            'phone: "+8613800000001"\nlanguages: [mandarin]\n'
            'shifts: [{days: [mon], start: "09:00", end: "10:00", until: "11:00"}]',
            "shifts[1].until",
            "unknown field",
        ),
        (
            'phone: "+8613800000001"\nlanguages: [mandarin]\nshifts: ["08:30-17:00"]',
            "shifts[1]",
            "not a shift",
        ),
        (
            'phone: "+8613800000001"\nlanguages: [mandarin]\nshifts: ["mon 9-17"]',
            "shifts[1].start",
            "not a time",
        ),
        (
            'phone: "+8613800000001"\nlanguages: [mandarin]\n'
            "overrides: [{date: 2026-02-30, off: true}]",
            "overrides[1].date",
            "'2026-02-30' is not a date",
        ),
        (
            'phone: "+8613800000001"\nlanguages: [mandarin]\n'
            "overrides: [{date: 26/12/2026, off: true}]",
            "overrides[1].date",
            "not a date",
        ),
        (
            'phone: "+8613800000001"\nlanguages: [mandarin]\noverrides: [{off: true}]',
            "overrides[1].date",
            "is required",
        ),
        (
            'phone: "+8613800000001"\nlanguages: [mandarin]\noverrides: [{date: 2026-12-24}]',
            "overrides[1]",
            "needs off: true, or start and end",
        ),
        (
            'phone: "+8613800000001"\nlanguages: [mandarin]\n'
            'overrides: [{date: 2026-12-24, start: "09:00"}]',
            "overrides[1].end",
            "is required",
        ),
        (
            'phone: "+8613800000001"\nlanguages: [mandarin]\n'
            'overrides: [{date: 2026-12-24, off: true, start: "09:00", end: "10:00"}]',
            "overrides[1]",
            "not both",
        ),
        (
            'phone: "+8613800000001"\nlanguages: [mandarin]\n'
            "overrides: [{date: 2026-12-24, off: yes}]",
            "overrides[1].off",
            "true or false",
        ),
        (
            'phone: "+8613800000001"\nlanguages: [mandarin]\n'
            'overrides: [{date: 2026-12-24, start: "13:00", end: "13:00"}]',
            "overrides[1].end",
            "same time",
        ),
        (
            'phone: "+8613800000001"\nlanguages: [mandarin]\n'
            "overrides: [{date: 2026-12-24, off: true}, "
            '{date: 2026-12-24, start: "09:00", end: "10:00"}]',
            "overrides[2].date",
            "clashes with overrides[1]",
        ),
        (
            'phone: "+8613800000001"\nlanguages: [mandarin]\nlangauges: [english]',
            "langauges",
            "unknown field",
        ),
    ],
)
def test_validation_error_names_entry_and_field(body: str, field: str, words: str) -> None:
    text = "counselors:\n  - name: 张伟\n    phone: '+8613800000009'\n    languages: [english]\n"
    text += one_entry(body).removeprefix("counselors:\n")
    [err] = errors_of(text)
    assert err.entry == 2
    assert err.field == field
    message = str(err)
    assert message.startswith(f"entry 2 (王敏): {field}: ")
    assert words in message


def test_missing_or_empty_name() -> None:
    text = (
        "counselors:\n"
        "  - phone: '+8613800000001'\n    languages: [mandarin]\n"
        "  - name: '  '\n    phone: '+8613800000002'\n    languages: [mandarin]\n"
    )
    errs = errors_of(text)
    assert [(e.entry, e.field) for e in errs] == [(1, "name"), (2, "name")]
    assert str(errs[0]) == "entry 1: name: is required"


def test_error_messages_never_contain_the_number() -> None:
    text = one_entry('phone: "+86 138 0000 000"\nlanguages: [mandarin]')
    [err] = errors_of(text)
    assert "138 0000 000" not in str(err) and "138000" not in str(err)


def test_duplicate_phone_within_the_file() -> None:
    text = ROSTER + "  - name: 张伟\n    phone: '+86 13800000001'\n    languages: [mandarin]\n"
    [err] = errors_of(text)
    assert (err.entry, err.field) == (3, "phone")
    assert str(err).startswith("entry 3 (张伟): phone: ")
    assert "entry 1 (王敏)" in str(err)
    assert "13800000001" not in str(err)


def test_all_errors_are_collected() -> None:
    text = """\
counselors:
  - name: 王敏
    phone: "+86 123"
    languages: [klingon]
    shifts: [{days: [mon], start: "09:00", end: "09:00"}]
  - name: 李娜
    phone: "+8613800000002"
    languages: [mandarin]
  - phone: "+8613800000003"
    languages: [mandarin]
    timezone: Mars/Olympus
"""
    with pytest.raises(RosterError) as info:  # the combined error is a RosterError too
        parse_roster(text, "roster.yaml")
    exc = info.value
    assert isinstance(exc, RosterErrors)
    assert [(e.entry, e.field) for e in exc.errors] == [
        (1, "phone"),
        (1, "languages"),
        (1, "shifts[1].end"),
        (3, "name"),
        (3, "timezone"),
    ]
    lines = str(exc).splitlines()
    assert lines[0] == "5 problems in roster.yaml:"
    assert lines[1].strip().startswith("entry 1 (王敏): phone: ")
    assert lines[4].strip().startswith("entry 3: name: ")


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("counselors: [\n", "line 2"),
        ("people: []\n", "counselors:"),
        ("counselors: {name: x}\n", "must be a list"),
        ("counselors: []\nextra: 1\n", "unknown top-level key 'extra'"),
        ("- name: x\n", "counselors:"),
    ],
)
def test_file_level_errors(text: str, words: str) -> None:
    [err] = errors_of(text, "bad.yaml")
    assert err.entry is None
    assert str(err).startswith("bad.yaml: ")
    assert words in str(err)


def test_entry_that_is_not_a_mapping() -> None:
    [err] = errors_of("counselors:\n  - just a string\n")
    assert err.entry == 1
    assert str(err).startswith("entry 1: ")


def test_demo_roster_parses_and_covers_mandarin_hours() -> None:
    specs = parse_roster(DEMO.read_text(encoding="utf-8"), DEMO.name)
    assert len(specs) >= 8
    assert all(set(s.languages) <= set(LANGUAGES) for s in specs)
    assert sum("english" in s.languages for s in specs) >= 2
    assert sum("cantonese" in s.languages for s in specs) >= 2
    assert any(s.timezone == "Asia/Hong_Kong" for s in specs)
    assert any(w.end <= w.start for s in specs for w in s.shifts)  # one crosses midnight
    assert sum(len(s.overrides) for s in specs) >= 2


# --- import ---------------------------------------------------------------------------------


def counts(db: Database) -> tuple[int, int, int]:
    with db.session() as s:
        return (
            s.scalar(select(func.count()).select_from(Counselor)) or 0,
            s.scalar(select(func.count()).select_from(Shift)) or 0,
            s.scalar(select(func.count()).select_from(ShiftOverride)) or 0,
        )


def test_import_creates(db: Database) -> None:
    changes = load(db, ROSTER)
    assert [(c.action, c.name) for c in changes] == [("create", "王敏"), ("create", "李娜")]
    assert changes[0].phone_masked == "+86 ••• ••• 0001"
    assert "languages: mandarin, english" in changes[0].details
    assert "shifts: mon-fri 08:30-17:00; sat 20:00-02:00" in changes[0].details
    # One Shift row per weekday per slot: 5 + 1 for 王敏, 5 for 李娜.
    assert counts(db) == (2, 11, 2)
    with db.session() as s:
        wang = s.scalars(select(Counselor).where(Counselor.phone == WANG)).one()
        assert wang.languages == ["mandarin", "english"]
        assert wang.timezone == "Asia/Shanghai"
        assert wang.active and wang.state == "available"
        assert sorted((r.weekday, r.start, r.end) for r in wang.shifts)[-1] == (5, "20:00", "02:00")
        li = s.scalars(select(Counselor).where(Counselor.phone == LI)).one()
        # A midnight end is stored as "24:00", so even naive string comparisons read it right.
        assert {(r.start, r.end) for r in li.shifts} == {("16:00", "24:00")}
        assert [(o.day, o.off, o.start, o.end) for o in wang.overrides] == [
            (date(2026, 12, 24), True, None, None),
            (date(2026, 12, 26), False, "09:00", "13:00"),
        ]


def test_reimport_is_unchanged(db: Database) -> None:
    load(db, ROSTER)
    changes = load(db, ROSTER)
    assert [c.action for c in changes] == ["unchanged", "unchanged"]
    assert all(c.details == [] for c in changes)
    assert counts(db) == (2, 11, 2)


def test_regrouped_shifts_are_unchanged(db: Database) -> None:
    load(db, ROSTER)
    regrouped = ROSTER.replace(
        '- {days: [mon, tue, wed, thu, fri], start: "08:30", end: "17:00"}',
        '- {days: [mon, tue], start: "08:30", end: "17:00"}\n'
        '      - {days: [wed-fri], start: "08:30", end: "17:00"}',
    )
    assert regrouped != ROSTER
    assert [c.action for c in load(db, regrouped)] == ["unchanged", "unchanged"]


def test_reimport_with_changes_updates(db: Database) -> None:
    load(db, ROSTER)
    with db.session() as s:
        s.scalars(select(Counselor).where(Counselor.phone == LI)).one().state = "available"
    changed = ROSTER.replace("languages: [mandarin]\n", "languages: [mandarin, cantonese]\n")
    changed = changed.replace(
        '- {days: [mon, tue, wed, thu, fri], start: "16:00", end: "24:00"}',
        '- {days: [mon, tue, wed, thu, fri], start: "16:00", end: "24:00"}\n'
        '      - {days: [sun], start: "09:00", end: "12:00"}',
    )
    changed = changed.replace("- {date: 2026-12-24, off: true}", "- {date: 2026-12-25, off: true}")
    changes = load(db, changed)
    assert [c.action for c in changes] == ["update", "update"]
    assert changes[0].details == [
        "overrides: 2026-12-24 off; 2026-12-26 09:00-13:00 → 2026-12-25 off; 2026-12-26 09:00-13:00"
    ]
    assert changes[1].details == [
        "languages: mandarin → mandarin, cantonese",
        "shifts: mon-fri 16:00-24:00 → mon-fri 16:00-24:00; sun 09:00-12:00",
    ]
    assert counts(db) == (2, 12, 2)
    with db.session() as s:
        li = s.scalars(select(Counselor).where(Counselor.phone == LI)).one()
        assert li.languages == ["mandarin", "cantonese"]
        assert li.state == "available"  # the file does not touch state
        wang = s.scalars(select(Counselor).where(Counselor.phone == WANG)).one()
        assert [o.day for o in wang.overrides] == [date(2026, 12, 25), date(2026, 12, 26)]
    assert [c.action for c in load(db, changed)] == ["unchanged", "unchanged"]


def test_update_replacing_an_override_with_the_same_key(db: Database) -> None:
    # Same (day, start) before and after: old rows must go before new ones arrive.
    load(db, ROSTER)
    changed = ROSTER.replace('start: "09:00", end: "13:00"}', 'start: "09:00", end: "14:00"}')
    changed = changed.replace("name: 王敏", "name: 王敏敏")
    [wang, li] = load(db, changed)
    assert wang.action == "update" and li.action == "unchanged"
    assert wang.details[0] == "name: 王敏 → 王敏敏"
    with db.session() as s:
        row = s.scalars(select(ShiftOverride).where(ShiftOverride.day == date(2026, 12, 26))).one()
        assert row.end == "14:00"


def test_dry_run_changes_nothing(db: Database) -> None:
    changes = load(db, ROSTER, dry_run=True)
    assert [c.action for c in changes] == ["create", "create"]
    assert counts(db) == (0, 0, 0)
    load(db, ROSTER)
    changed = ROSTER.replace("name: 李娜", "name: 李娜娜").replace('"20:00"', '"21:00"')
    dry = load(db, changed, dry_run=True)
    assert [c.action for c in dry] == ["update", "update"]
    assert [c.action for c in load(db, ROSTER)] == ["unchanged", "unchanged"]
    real = load(db, changed)
    assert [(c.action, c.details) for c in real] == [(c.action, c.details) for c in dry]


def test_counselors_absent_from_the_file_are_left_alone(db: Database) -> None:
    load(db, ROSTER)
    only_li = "counselors:\n  - name: 李娜\n" + ROSTER.split("  - name: 李娜\n")[1]
    changes = load(db, only_li)
    assert [(c.action, c.name) for c in changes] == [("unchanged", "李娜")]
    assert counts(db) == (2, 11, 2)


def test_import_never_returns_full_numbers(db: Database) -> None:
    for change in load(db, ROSTER) + load(db, ROSTER.replace("李娜", "李四")):
        assert "13800000" not in str(change)
        assert "13800000" not in repr(change)


def test_import_rejects_duplicate_specs(db: Database) -> None:
    spec = parse_roster(ROSTER, "r.yaml")[0]
    with db.session() as s, pytest.raises(ValueError):
        import_roster(s, [spec, spec])


# --- export and the schedule ----------------------------------------------------------------


def test_export_import_round_trip(db: Database) -> None:
    load(db, ROSTER)
    load(db, DEMO.read_text(encoding="utf-8"), "demo.yaml")
    with db.session() as s:
        s.scalars(select(Counselor).where(Counselor.phone == LI)).one().active = False
        exported = export_roster(s)
    assert "name: 王敏" in exported
    assert 'phone: "+8613800000001"' in exported
    assert "# inactive" in exported
    specs = parse_roster(exported, "export.yaml")
    assert len(specs) == counts(db)[0]
    changes = load(db, exported)
    assert {c.action for c in changes} == {"unchanged"}
    with db.session() as s:
        assert export_roster(s) == exported
        assert [
            counselor_to_spec(c) for c in s.scalars(select(Counselor).order_by(Counselor.id))
        ] == specs


def test_export_of_an_empty_roster(db: Database) -> None:
    with db.session() as s:
        text = export_roster(s)
    assert parse_roster(text, "r.yaml") == []


def test_export_quotes_awkward_names(db: Database) -> None:
    text = one_entry('phone: "+8613800000001"\nlanguages: [mandarin]', name="'Dr: #1'")
    load(db, text)
    with db.session() as s:
        exported = export_roster(s)
    assert parse_roster(exported, "r.yaml")[0].name == "Dr: #1"
    assert [c.action for c in load(db, exported)] == ["unchanged"]


def test_roster_entries_with_on_call(db: Database) -> None:
    load(db, ROSTER)
    with db.session() as s:
        entries = roster_entries(s)
    assert [e.name for e in entries] == ["王敏", "李娜"]
    wang, li = entries
    assert wang.timezone == SH and wang.languages == {"mandarin", "english"}
    assert li.shifts == (WeeklyShift(frozenset(range(5)), time(16), time(0)),)
    wednesday = datetime(2026, 12, 23, tzinfo=SH)
    assert on_call(entries, wednesday.replace(hour=9), "mandarin") == [wang]
    assert on_call(entries, wednesday.replace(hour=16, minute=30), "mandarin") == [wang, li]
    assert on_call(entries, wednesday.replace(hour=23, minute=59), "mandarin") == [li]
    assert on_call(entries, wednesday.replace(hour=16, minute=30), "english") == [wang]
    assert on_call(entries, wednesday.replace(hour=10), "cantonese") == []
    # 王敏 is off on the 24th and works 09:00-13:00 on Saturday the 26th.
    assert on_call(entries, datetime(2026, 12, 24, 10, tzinfo=SH), "mandarin") == []
    assert on_call(entries, datetime(2026, 12, 26, 12, tzinfo=SH), "english") == [wang]
    assert on_call(entries, datetime(2026, 12, 26, 21, tzinfo=SH), "english") == []
    # The Saturday night shift the week before reaches into Sunday.
    assert on_call(entries, datetime(2026, 12, 20, 1, tzinfo=SH), "mandarin") == [wang]


def test_roster_entries_skip_broken_records(db: Database) -> None:
    load(db, ROSTER)
    with db.session() as s:
        wang = s.scalars(select(Counselor).where(Counselor.phone == WANG)).one()
        wang.timezone = "Nowhere/Special"
        li = s.scalars(select(Counselor).where(Counselor.phone == LI)).one()
        li.shifts[0].end = "late"
        li.active = False
    with db.session() as s:
        entries = roster_entries(s)
    [li_entry] = entries
    assert not li_entry.active
    assert li_entry.shifts == (WeeklyShift(frozenset({1, 2, 3, 4}), time(16), time(0)),)
    # An import repairs the broken rows.
    assert [c.action for c in load(db, ROSTER)] == ["update", "update"]
    with db.session() as s:
        assert len(roster_entries(s)) == 2


def test_demo_roster_imports_and_covers_mandarin(db: Database) -> None:
    changes = load(db, DEMO.read_text(encoding="utf-8"), "demo.yaml")
    assert {c.action for c in changes} == {"create"}
    with db.session() as s:
        entries = roster_entries(s)
    monday = datetime(2026, 3, 2, tzinfo=SH)
    slots = coverage(entries, monday, monday + timedelta(days=7), "mandarin")
    in_hours = [n for t, n in slots if t.time() >= time(8, 30)]
    assert min(in_hours) >= 1
    assert sum(n >= 2 for n in in_hours) / len(in_hours) > 0.8
    assert any(n for t, n in coverage(entries, monday, monday + timedelta(days=7), "cantonese"))
