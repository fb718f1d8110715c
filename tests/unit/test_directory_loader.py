"""The directory file loader: the shipped examples load; every problem comes with line and field."""

from __future__ import annotations

from datetime import time
from pathlib import Path

import pytest

from orchestrator.directory.loader import (
    DirectoryFileError,
    DirectoryProblem,
    load_directory,
    parse_directory,
)
from orchestrator.domain.models import DEFAULT_POLICIES, SessionKind, WorkingWindow

CONFIG = Path(__file__).resolve().parents[2] / "config"
BRIDGE_SITES = {"ha-noi", "da-nang", "tp-ho-chi-minh", "can-tho", "thai-nguyen", "nghe-an"}
REGIONS = {
    "dong-bang-song-hong",
    "trung-du-mien-nui-phia-bac",
    "bac-trung-bo-duyen-hai-mien-trung",
    "tay-nguyen",
    "dong-nam-bo",
    "dong-bang-song-cuu-long",
}
DAY = 24 * 60

REGION = """\
[[regions]]
id = "north"
name = "North"
"""


def problems_of(text: str) -> list[tuple[int | None, str | None]]:
    with pytest.raises(DirectoryFileError) as caught:
        parse_directory(text, file="dir.toml")
    return [(p.line, p.field) for p in caught.value.problems]


def error_of(text: str) -> DirectoryFileError:
    with pytest.raises(DirectoryFileError) as caught:
        parse_directory(text, file="dir.toml")
    return caught.value


# --- the shipped examples -------------------------------------------------------------------


def test_example_directory_has_the_six_bridge_sites() -> None:
    directory = load_directory(CONFIG / "directory.example.toml")

    assert {s.id for s in directory.sites} == BRIDGE_SITES
    assert len(directory.sites) == 6
    assert {r.id for r in directory.regions} == REGIONS
    assert all(s.timezone == "Asia/Ho_Chi_Minh" for s in directory.sites)
    assert all(s.coordinator.email and s.region for s in directory.sites)
    heads = {r.id: r.head_site for r in directory.regions}
    assert heads["dong-bang-song-hong"] == "ha-noi"
    assert heads["dong-nam-bo"] == "tp-ho-chi-minh"
    assert [g.id for g in directory.leader_groups] == ["lanh-dao-bo"]
    assert set(directory.policies) == {SessionKind.NATIONAL, SessionKind.REGIONAL}
    assert directory.policies[SessionKind.REGIONAL].min_notice_minutes == 15 * DAY


def test_provinces_directory_has_34_sites_in_six_regions() -> None:
    directory = load_directory(str(CONFIG / "directory.provinces.toml"))

    ids = [s.id for s in directory.sites]
    assert len(ids) == len(set(ids)) == 34
    assert set(ids) >= BRIDGE_SITES
    assert {r.id for r in directory.regions} == REGIONS
    region_of = {s.id: s.region for s in directory.sites}
    assert set(region_of.values()) == REGIONS
    for region in directory.regions:
        assert region.head_site is not None
        assert region_of[region.head_site] == region.id
    assert [g.id for g in directory.leader_groups] == ["lanh-dao-bo"]
    assert directory.policies[SessionKind.REGIONAL].min_notice_minutes == 15 * DAY


def test_example_sites_keep_the_same_ids_and_regions_in_both_files() -> None:
    small = load_directory(CONFIG / "directory.example.toml")
    large = load_directory(CONFIG / "directory.provinces.toml")

    large_regions = {s.id: s.region for s in large.sites}
    assert {s.id: s.region for s in small.sites} == {i: large_regions[i] for i in BRIDGE_SITES}


# --- a minimal file -------------------------------------------------------------------------


def test_minimal_file_uses_the_defaults() -> None:
    directory = parse_directory('[[sites]]\nid = "a"\nname = "A"\n')

    assert directory.regions == ()
    assert directory.leader_groups == ()
    assert directory.policies == {}
    (site,) = directory.sites
    assert (site.id, site.timezone, site.capacity, site.language) == (
        "a",
        "Asia/Ho_Chi_Minh",
        0,
        "vi",
    )


def test_empty_file_is_an_empty_directory() -> None:
    directory = parse_directory("")

    assert (directory.regions, directory.sites, directory.leader_groups) == ((), (), ())


# --- problems -------------------------------------------------------------------------------


def test_every_problem_is_reported_with_its_line_and_field() -> None:
    text = """\
[[regions]]
id = "north"
name = "North"
head_site = "b"

[[sites]]
id = "a"
name = "A"
region = "north"
timezone = "Asia/Hanoi"
capacity = -1
[sites.coordinator]
email = "not-an-address"
fax = "0"

[[sites]]
name = "B"
region = "south"

[[leader_groups]]
id = "Lanh Dao"
name = "Leaders"
"""
    error = error_of(text)

    assert [(p.line, p.field) for p in error.problems] == [
        (4, "regions[0].head_site"),
        (10, "sites[0].timezone"),
        (11, "sites[0].capacity"),
        (13, "sites[0].coordinator.email"),
        (14, "sites[0].coordinator.fax"),
        (16, "sites[1].id"),  # missing: the table's header line
        (18, "sites[1].region"),
        (21, "leader_groups[0].id"),
    ]
    assert (error.file, error.line, error.field) == ("dir.toml", 4, "regions[0].head_site")
    lines = str(error).splitlines()
    assert len(lines) == 8
    assert lines[1].startswith("dir.toml:10: sites[0].timezone: unknown time zone 'Asia/Hanoi'")
    assert lines[5] == "dir.toml:16: sites[1].id: required key is missing"


def test_syntax_error_names_its_line() -> None:
    error = error_of('[[sites]]\nid = "a"\nname = "A\n')

    assert (error.line, error.field) == (3, None)
    assert str(error).startswith("dir.toml:3: TOML syntax error: ")


def test_key_given_twice_is_a_syntax_error_at_the_second_one() -> None:
    error = error_of('[[sites]]\nid = "a"\nname = "A"\nname = "B"\n')

    assert error.line == 4


def test_unknown_keys_are_reported_at_their_line() -> None:
    text = """\
colour = "red"

[[sites]]
id = "a"
name = "A"
notes = \"\"\"
[[sites]]
id = "fake"
\"\"\"
floor = 3
"""
    error = error_of(text)

    assert [(p.line, p.field) for p in error.problems] == [
        (1, "colour"),
        (6, "sites[0].notes"),
        (10, "sites[0].floor"),
    ]
    assert "unknown key (allowed: capacity, coordinator, id," in error.problems[1].message


def test_unknown_key_in_an_inline_coordinator_falls_back_to_its_line() -> None:
    text = '[[sites]]\nid = "a"\nname = "A"\ncoordinator = { name = "X", mail = "x@example.org" }\n'

    assert problems_of(text) == [(4, "sites[0].coordinator.mail")]


def test_section_that_is_not_an_array_of_tables() -> None:
    assert problems_of('[sites]\nid = "a"\n') == [(1, "sites")]


def test_bad_timezone_is_named_in_the_message() -> None:
    text = '[[sites]]\nid = "a"\nname = "A"\n\n[[sites]]\nid = "b"\nname = "B"\n'
    text += 'timezone = "Mars/Olympus"\n'
    error = error_of(text)

    assert str(error) == (
        "dir.toml:8: sites[1].timezone: unknown time zone 'Mars/Olympus'"
        " (use an IANA name such as Asia/Ho_Chi_Minh)"
    )


def test_zone_other_than_the_default_is_kept() -> None:
    directory = parse_directory('[[sites]]\nid = "a"\nname = "A"\ntimezone = "Europe/Paris"\n')

    assert directory.sites[0].timezone == "Europe/Paris"


def test_duplicate_ids_point_at_the_second_use_and_name_the_first() -> None:
    text = """\
[[sites]]
id = "a"
name = "A"

[[sites]]
id = "b"
name = "B"

[[sites]]
id = "a"
name = "A again"

[[leader_groups]]
id = "g"
name = "G"

[[leader_groups]]
id = "g"
name = "G again"
"""
    error = error_of(text)

    assert [(p.line, p.field) for p in error.problems] == [
        (10, "sites[2].id"),
        (18, "leader_groups[1].id"),
    ]
    assert error.problems[0].message == "duplicate id 'a': already used by sites[0] (line 2)"


def test_site_and_region_may_share_an_id() -> None:
    text = REGION + '\n[[sites]]\nid = "north"\nname = "North site"\nregion = "north"\n'

    assert parse_directory(text).sites[0].id == "north"


def test_site_in_an_unknown_region() -> None:
    text = REGION + '\n[[sites]]\nid = "a"\nname = "A"\nregion = "south"\n'
    error = error_of(text)

    assert [(p.line, p.field) for p in error.problems] == [(8, "sites[0].region")]
    assert "unknown region 'south'" in error.message


def test_head_site_that_is_not_a_site_of_the_file() -> None:
    text = REGION + 'head_site = "nowhere"\n'

    error = error_of(text)

    assert [(p.line, p.field) for p in error.problems] == [(4, "regions[0].head_site")]
    assert "unknown site 'nowhere'" in error.message


def test_head_site_of_another_region() -> None:
    text = """\
[[regions]]
id = "north"
name = "North"

[[regions]]
id = "south"
name = "South"
head_site = "a"

[[sites]]
id = "a"
name = "A"
region = "north"

[[sites]]
id = "b"
name = "B"

[[regions]]
id = "east"
name = "East"
head_site = "b"
"""
    error = error_of(text)

    assert [(p.line, p.field) for p in error.problems] == [
        (8, "regions[1].head_site"),
        (22, "regions[2].head_site"),
    ]
    assert error.problems[0].message == "site 'a' is not in region 'south' (its region is 'north')"
    assert error.problems[1].message == "site 'b' is not in region 'east' (it has no region)"


def test_head_site_in_its_region_is_accepted() -> None:
    text = REGION + 'head_site = "a"\n\n[[sites]]\nid = "a"\nname = "A"\nregion = "north"\n'

    assert parse_directory(text).regions[0].head_site == "a"


def test_invalid_site_is_not_also_reported_as_an_unknown_head_site() -> None:
    text = REGION + 'head_site = "a"\n\n[[sites]]\nid = "a"\nregion = "north"\n'

    assert problems_of(text) == [(6, "sites[0].name")]


def test_load_directory_reports_a_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "absent.toml"

    with pytest.raises(DirectoryFileError) as caught:
        load_directory(missing)

    assert caught.value.file == str(missing)
    assert caught.value.line is None
    assert str(caught.value).startswith(f"{missing}: cannot read")


def test_load_directory_names_the_file_and_accepts_a_bom(tmp_path: Path) -> None:
    path = tmp_path / "dir.toml"
    path.write_text('\ufeff[[sites]]\nid = "a"\nname = "A"\nroom = 3\n', encoding="utf-8")

    with pytest.raises(DirectoryFileError) as caught:
        load_directory(path)

    assert str(caught.value).startswith(f"{path}:4: sites[0].room: ")


def test_error_needs_a_problem() -> None:
    with pytest.raises(ValueError, match="at least one problem"):
        DirectoryFileError("x", [])


def test_problem_without_line_or_field_renders_compactly() -> None:
    error = DirectoryFileError(
        "x.toml", [DirectoryProblem(None, "sites", "bad"), DirectoryProblem(3, None, "worse")]
    )

    assert str(error) == "x.toml: sites: bad\nx.toml:3: worse"


# --- policies -------------------------------------------------------------------------------


def test_policy_keys_are_converted() -> None:
    text = """\
[policies.national]
working_days = ["mon", "Tue", "sat"]
working_hours = ["13:30-17:00", "7:30-11:30"]
holidays = false
holiday_country = "FR"
min_notice_days = 2
max_duration_minutes = 90
"""
    policy = parse_directory(text).policies[SessionKind.NATIONAL]

    assert policy.working_days == (0, 1, 5)
    assert policy.working_hours == (
        WorkingWindow(start=time(7, 30), end=time(11, 30)),
        WorkingWindow(start=time(13, 30), end=time(17, 0)),
    )
    assert (policy.holidays, policy.holiday_country) == (False, "FR")
    assert policy.min_notice_minutes == 2 * DAY
    assert policy.max_duration_minutes == 90


def test_min_notice_minutes_is_taken_as_is() -> None:
    policy = parse_directory("[policies.national]\nmin_notice_minutes = 45\n").policies[
        SessionKind.NATIONAL
    ]

    assert policy.min_notice_minutes == 45


def test_omitted_policy_keys_keep_the_defaults_of_their_kind() -> None:
    policies = parse_directory(
        "[policies.regional]\nmax_duration_minutes = 240\n[policies.national]\n"
    ).policies

    regional = policies[SessionKind.REGIONAL]
    assert regional.max_duration_minutes == 240
    assert regional.min_notice_minutes == 15 * DAY
    assert regional.working_hours == DEFAULT_POLICIES[SessionKind.REGIONAL].working_hours
    assert policies[SessionKind.NATIONAL] == DEFAULT_POLICIES[SessionKind.NATIONAL]


def test_policy_kinds_not_named_are_absent() -> None:
    policies = parse_directory("[policies.regional]\nmin_notice_days = 10\n").policies

    assert set(policies) == {SessionKind.REGIONAL}


def test_both_notice_keys_is_an_error() -> None:
    text = "[policies.regional]\nmin_notice_minutes = 60\nmin_notice_days = 15\n"
    error = error_of(text)

    assert [(p.line, p.field) for p in error.problems] == [(3, "policies.regional.min_notice_days")]
    assert "not both" in error.message


def test_policy_problems_are_each_reported() -> None:
    text = """\
[policies.regional]
working_days = ["mon", "funday", "mon"]
working_hours = [
  "07:30-11:30",
  "11:00-12:00",
  "9-10",
  "17:00-16:00",
]
min_notice_days = -1
max_duration_minutes = 0
holidays = "sometimes"
colour = "blue"

[policies.weekly]
min_notice_days = 1
"""
    error = error_of(text)

    assert [(p.line, p.field) for p in error.problems] == [
        (2, "policies.regional.working_days[1]"),
        (2, "policies.regional.working_days[2]"),
        (3, "policies.regional.working_hours[2]"),
        (3, "policies.regional.working_hours[3]"),
        (3, "policies.regional.working_hours"),
        (9, "policies.regional.min_notice_days"),
        (10, "policies.regional.max_duration_minutes"),
        (11, "policies.regional.holidays"),
        (12, "policies.regional.colour"),
        (14, "policies.weekly"),
    ]
    messages = [p.message for p in error.problems]
    assert messages[0].startswith("unknown day 'funday'")
    assert messages[2] == "must look like \"07:30-11:30\" (got '9-10')"
    assert messages[3] == "must end after it starts (got '17:00-16:00')"
    assert messages[4] == "windows overlap: 07:30-11:30 and 11:00-12:00"


def test_empty_working_days_is_an_error() -> None:
    assert problems_of("[policies.national]\nworking_days = []\n") == [
        (2, "policies.national.working_days")
    ]


def test_lines_of_later_tables_and_their_sub_tables() -> None:
    text = """\
[[sites]]
id = "a"
name = "A"
[sites.coordinator]
email = "a@example.org"

[[sites]]
id = "b"
name = "B"
[sites.coordinator]
email = "b@"
"""
    assert problems_of(text) == [(11, "sites[1].coordinator.email")]


def test_lines_inside_a_multi_line_array_are_not_taken_for_headers() -> None:
    text = """\
[[sites]]
id = "a"
name = "A"
tags = [
  ["x"],
  ["y"]
]
floor = 3
"""
    assert problems_of(text) == [(4, "sites[0].tags"), (8, "sites[0].floor")]


def test_parse_directory_accepts_a_bom() -> None:
    assert parse_directory('\ufeff[[sites]]\nid = "a"\nname = "A"\n').sites[0].id == "a"
