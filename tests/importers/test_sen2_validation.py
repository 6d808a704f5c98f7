"""SEN2 validation (sen2-spec §4.3): each problem names file, location, person and field."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from ehcp_workflow.importers.sen2 import load_sen2, read_sen2
from ehcp_workflow.problems import InputError, Severity

from .helpers import FIXTURES, assert_no_personal_data, errors, only, row

ERRORS = FIXTURES / "sen2_errors.xml"
FILE = str(ERRORS)

# (rule, severity, location, person, field) for every problem in sen2_errors.xml, in file order.
EXPECTED = [
    ("sen2-date", "error", "Person 1 (line 10), Requests 1, line 14", "A999260000401", "ReceivedDate"),
    ("sen2-code", "error", "Person 2 (line 18), Requests 1, line 23", "P999260000402", "RequestOutcome"),
    ("sen2-R2", "error", "Person 3 (line 26), Requests 1 (line 29)", "D999260000403", "RequestOutcomeDate"),
    ("sen2-R4", "error", "Person 4 (line 34), Requests 1, line 39", "T999260000404", "RequestOutcomeDate"),
    ("sen2-R7", "error", "Person 5 (line 43), Requests 1, line 51", "G999260000405", "AssessmentOutcomeDate"),
    ("sen2-R17", "error", "Person 6 (line 56), Requests 1, line 65", "W999260000406", "CeaseDate"),
    ("sen2-R18", "warning", "Person 7 (line 71), Requests 1, line 80", "K999260000407", "LastReview"),
    ("sen2-flag", "error", "Person 8 (line 84), Requests 1, line 91", "Z999260000408", "RequestMediation"),
    ("sen2-flag", "error", "Person 8 (line 84), Requests 1, line 94", "Z999260000408", "Week20"),
    ("sen2-R1", "error", "Person 9 (line 98), Requests 1 (line 101)", "N999260000409", "RequestOutcome"),
    ("sen2-R3", "error", "Person 10 (line 105), Requests 1 (line 108)", "Z999260000410", "ReceivedDate"),
    ("sen2-R20", "warning", "Person 11 (line 113), line 115", "X1234567898765", "UPN"),
    ("sen2-R20", "warning", "Person 12 (line 121), line 123", "B999260000402", "UPN"),
    ("sen2-R20", "warning", "Person 13 (line 129), line 131", "12345", "UniqueLearnerNumber"),
    ("sen2-R20", "warning", "Person 14 (line 137)", "person-14", "UPN"),
    ("sen2-duplicate-person", "warning", "Person 15 (line 144)", "A999260000401", "UPN"),
    ("sen2-R12", "warning", "Person 15 (line 144), Requests 1, line 153", "A999260000401", "PlanDetail"),
    ("sen2-R16", "warning", "Person 15 (line 144), Requests 1, line 157", "A999260000401", "LeavingDate"),
    ("sen2-R15", "warning", "Person 15 (line 144), Requests 1, line 156", "A999260000401", "SENneed"),
    (
        "sen2-R6",
        "error",
        "Person 16 (line 164), Requests 1, line 171",
        "N999260000411",
        "AssessmentOutcomeDate",
    ),
    ("sen2-code", "error", "Person 17 (line 176), Requests 1, line 184", "C999260000412", "ReviewOutcome"),
    ("sen2-R3", "error", "Person 18 (line 188), Requests 1 (line 191)", "R999260000413", "ReceivedDate"),
    (
        "sen2-unknown-element",
        "warning",
        "Person 18 (line 188), Requests 1, line 192",
        "R999260000413",
        "RecievedDate",
    ),
]


def test_every_problem_is_named_exactly():
    _, problems = read_sen2(ERRORS)
    got = [(p.rule, p.severity.value, p.location, p.person, p.field) for p in problems]
    assert got == EXPECTED
    assert {p.file for p in problems} == {FILE}
    assert all(p.message for p in problems)


@pytest.mark.parametrize(
    ("person", "field", "fragment"),
    [
        ("A999260000401", "ReceivedDate", "'2025-13-01' is not a date; write it as ccyy-mm-dd"),
        ("P999260000402", "RequestOutcome", "'Q' is not a valid RequestOutcome; use one of A, H, N, W, Y"),
        ("D999260000403", "RequestOutcomeDate", "RequestOutcome is Y but RequestOutcomeDate is missing"),
        (
            "T999260000404",
            "RequestOutcomeDate",
            "RequestOutcomeDate 2025-02-28 is before ReceivedDate 2025-03-03",
        ),
        ("G999260000405", "AssessmentOutcomeDate", "AssessmentOutcomeDate 2025-01-31 is before ReceivedDate"),
        ("W999260000406", "CeaseDate", "CeaseDate 2024-04-30 is before StartDate 2024-05-01"),
        ("K999260000407", "LastReview", "may belong to an earlier review"),
        ("Z999260000408", "Week20", "'2' is not a 0/1 flag"),
        ("N999260000409", "RequestOutcome", "RequestOutcome is missing"),
        (
            "Z999260000410",
            "ReceivedDate",
            "ReceivedDate is missing; it is required unless RequestOutcome is H",
        ),
        ("X1234567898765", "UPN", "has 14 characters; a UPN is 13"),
        ("B999260000402", "UPN", "wrong check letter (expected 'P')"),
        ("R999260000413", "RecievedDate", "<RecievedDate> is not a SEN2 item of Requests"),
    ],
)
def test_messages_say_what_to_fix(person, field, fragment):
    _, problems = read_sen2(ERRORS)
    assert fragment in only(problems, person=person, field=field).message


def test_cases_with_errors_are_returned_with_bad_values_empty():
    cl, _ = read_sen2(ERRORS)
    assert len(cl) == 18
    bad_date = row(cl, "A999260000401/1")
    assert pd.isna(bad_date["request_received"])
    assert bad_date["request_outcome"] == "A"
    assert pd.isna(row(cl, "P999260000402/1")["request_outcome"])


def test_duplicate_person_requests_are_numbered_on():
    cl, _ = read_sen2(ERRORS)
    assert cl.cases["case_ref"].is_unique
    assert row(cl, "A999260000401/2")["plan_start"] == pd.Timestamp("2020-01-10")


def test_load_refuses_a_file_with_errors():
    with pytest.raises(InputError) as exc:
        load_sen2(ERRORS)
    assert len(exc.value.errors) == sum(1 for e in EXPECTED if e[1] == "error")
    assert exc.value.problems[0].severity is Severity.ERROR  # errors first


def test_accept_valid_drops_only_cases_with_errors():
    cl = load_sen2(ERRORS, accept_valid=True)
    blocked = {
        "A999260000401/1",
        "P999260000402/1",
        "D999260000403/1",
        "T999260000404/1",
        "G999260000405/1",
        "W999260000406/1",
        "Z999260000408/1",
        "N999260000409/1",
        "Z999260000410/1",
        "N999260000411/1",
        "C999260000412/1",
        "R999260000413/1",
    }
    assert set(cl.rejected) == blocked
    assert not blocked & set(cl.cases["case_ref"])
    assert len(cl) == 18 - len(blocked)
    assert "K999260000407/1" in set(cl.cases["case_ref"])  # a warning does not block
    assert len(cl.problems) == len(EXPECTED)
    assert errors(cl.problems)  # the caller still sees why cases were left out


def test_no_personal_data_in_problems_or_cases():
    cl, problems = read_sen2(ERRORS)
    assert_no_personal_data(ERRORS, cl, problems)
    assert "Secret" not in "".join(map(str, problems))


# --- inline files: structure and fatal problems -----------------------------------------------------

HEADER = """<?xml version="1.0" encoding="UTF-8"?>
<Message>
  <Header>
    <CollectionDetails><Collection>SEN2</Collection><Year>{year}</Year></CollectionDetails>
    <Source><LEA>{lea}</LEA></Source>
  </Header>
  <Persons>
"""
FOOTER = "  </Persons>\n</Message>\n"


def sen2_file(tmp_path: Path, persons: str, year: int = 2026, lea: str = "999", name: str = "f.xml") -> Path:
    path = tmp_path / name
    path.write_text(HEADER.format(year=year, lea=lea) + persons + FOOTER, encoding="utf-8")
    return path


def person(upn: str, requests: str) -> str:
    return f"    <Person>\n      <UPN>{upn}</UPN>\n{requests}    </Person>\n"


REFUSED = """      <Requests>
        <ReceivedDate>2025-03-03</ReceivedDate>
        <RequestOutcomeDate>2025-04-11</RequestOutcomeDate>
        <RequestOutcome>N</RequestOutcome>
      </Requests>
"""


def test_unparseable_xml_names_file_and_line(tmp_path):
    path = tmp_path / "broken.xml"
    path.write_text(
        HEADER.format(year=2026, lea="999")
        + person("B999200024001", REFUSED).replace("</RequestOutcome>", "</RequestOutcom>")
        + FOOTER
    )
    with pytest.raises(InputError) as exc:
        read_sen2(path)
    problem = only(exc.value.problems, rule="sen2-xml")
    assert problem.file == str(path)
    assert problem.location.startswith("line 13, column ")
    assert "mismatched tag" in problem.message


def test_entities_are_refused(tmp_path):
    path = tmp_path / "bomb.xml"
    path.write_text('<?xml version="1.0"?>\n<!DOCTYPE m [<!ENTITY a "aaaa">]>\n<Message>&a;</Message>\n')
    with pytest.raises(InputError) as exc:
        read_sen2(path)
    assert "DTD or entities" in only(exc.value.problems, rule="sen2-xml").message


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("<Root><Person/></Root>", "the root element is <Root>, not <Message>"),
        (
            "<Message><Header><CollectionDetails><Collection>CIN</Collection><Year>2025</Year>"
            "</CollectionDetails></Header></Message>",
            "Collection is 'CIN'",
        ),
        (
            "<Message><Header><CollectionDetails><Collection>SEN2</Collection><Year>2022</Year>"
            "</CollectionDetails></Header></Message>",
            "Year '2022' is not a person-level SEN2 return year",
        ),
        ("<Message><Persons/></Message>", "no Header was found"),
    ],
)
def test_not_a_readable_sen2_return_is_fatal(tmp_path, text, fragment):
    path = tmp_path / "other.xml"
    path.write_text(text)
    with pytest.raises(InputError) as exc:
        read_sen2(path)
    assert fragment in exc.value.problems[-1].message


def test_missing_file_is_fatal(tmp_path):
    with pytest.raises(InputError, match="cannot read the file"):
        read_sen2(tmp_path / "nope.xml")


def test_element_names_are_case_insensitive(tmp_path):
    body = REFUSED.replace("ReceivedDate", "RECEIVEDdate").replace("RequestOutcome>", "requestoutcome>")
    path = sen2_file(tmp_path, person("B999200024001", body).replace("UPN>", "upn>"))
    cl, problems = read_sen2(path)
    assert problems == []
    case = row(cl, "B999200024001/1")
    assert case["request_received"] == pd.Timestamp("2025-03-03")
    assert case["request_outcome"] == "N"


def test_items_a_year_does_not_have_are_ignored_with_one_warning(tmp_path):
    review = """      <Requests>
        <RequestOutcome>H</RequestOutcome>
        <ActivePlans>
          <SENneed><SENtype>ASD</SENtype><SENtypeRank>1</SENtypeRank></SENneed>
          <ReviewMeeting>2022-10-01</ReviewMeeting>
          <LastReview>2022-10-20</LastReview>
        </ActivePlans>
      </Requests>
"""
    path = sen2_file(tmp_path, person("B999200024001", review) + person("K999200019002", review), year=2023)
    cl, problems = read_sen2(path)
    warning = only(problems, rule="sen2-year")
    assert warning.field == "ReviewMeeting"
    assert warning.location == "Person 1 (line 8), Requests 1, line 14"
    assert "not part of the 2023 return (2 times" in warning.message
    assert cl.cases["review_meeting"].isna().all()
    assert "review_meeting" in cl.unrecorded
    assert row(cl, "K999200019002/1")["review_decision_letter"] == pd.Timestamp("2022-10-20")


def test_header_after_persons_still_applies_the_year(tmp_path):
    review = """      <Requests>
        <RequestOutcome>H</RequestOutcome>
        <ActivePlans><ReviewMeeting>2022-10-01</ReviewMeeting></ActivePlans>
      </Requests>
"""
    text = (
        '<?xml version="1.0"?>\n<Message><Persons>\n'
        + person("B999200024001", review)
        + "</Persons><Header><CollectionDetails><Collection>SEN2</Collection><Year>2023</Year>"
        "</CollectionDetails><Source><LEA>201</LEA></Source></Header></Message>\n"
    )
    path = tmp_path / "late.xml"
    path.write_text(text)
    cl, problems = read_sen2(path)
    assert cl.cases["review_meeting"].isna().all()
    assert set(cl.cases["la"]) == {"201"}
    assert only(problems, rule="sen2-year").field == "ReviewMeeting"


def test_newer_year_is_read_with_a_warning(tmp_path):
    cl, problems = read_sen2(sen2_file(tmp_path, person("B999200024001", REFUSED), year=2027))
    assert cl.source == "sen2:2027"
    assert only(problems, rule="sen2-year").severity is Severity.WARNING
    assert len(cl) == 1


def test_bad_lea_is_a_warning(tmp_path):
    cl, problems = read_sen2(sen2_file(tmp_path, person("B999200024001", REFUSED), lea="ABCD"))
    problem = only(problems, rule="sen2-la")
    assert (problem.severity, problem.field) == (Severity.WARNING, "LEA")
    assert set(cl.cases["la"]) == {"ABCD"}


def test_person_without_requests_and_empty_file_are_warnings(tmp_path):
    cl, problems = read_sen2(sen2_file(tmp_path, "    <Person><UPN>B999200024001</UPN></Person>\n"))
    assert len(cl) == 0
    assert only(problems, field="Requests").location == "Person 1 (line 8)"
    _, problems = read_sen2(sen2_file(tmp_path, "", name="empty.xml"))
    assert only(problems, field="Person").severity is Severity.WARNING


def test_two_assessments_in_one_request_is_an_error(tmp_path):
    twice = """      <Requests>
        <ReceivedDate>2025-01-06</ReceivedDate>
        <RequestOutcomeDate>2025-02-14</RequestOutcomeDate>
        <RequestOutcome>Y</RequestOutcome>
        <Assessment><AssessmentOutcome>A</AssessmentOutcome></Assessment>
        <Assessment><AssessmentOutcome>W</AssessmentOutcome></Assessment>
      </Requests>
"""
    _, problems = read_sen2(sen2_file(tmp_path, person("B999200024001", twice)))
    problem = only(problems, rule="sen2-structure")
    assert (problem.severity, problem.field, problem.location) == (
        Severity.ERROR,
        "Assessment",
        "Person 1 (line 8), Requests 1, line 15",
    )


def test_ordering_uses_the_dates_not_the_text(tmp_path):
    same_day = REFUSED.replace("2025-04-11", "2025-03-03")
    _, problems = read_sen2(sen2_file(tmp_path, person("B999200024001", same_day)))
    assert problems == []


def test_unknown_elements_are_located_in_their_own_request(tmp_path):
    second = REFUSED + REFUSED.replace("<RequestOutcome>", "<RequestOutcme>N</RequestOutcme><RequestOutcome>")
    text = person("B999200024001", second).replace("<UPN>", "<Nickname>x</Nickname><UPN>")
    _, problems = read_sen2(sen2_file(tmp_path, text))
    at_person = only(problems, field="Nickname")
    assert (at_person.location, at_person.rule) == ("Person 1 (line 8), line 9", "sen2-unknown-element")
    assert "<Nickname> is not a SEN2 item of Person" in at_person.message
    in_request = only(problems, field="RequestOutcme")
    assert in_request.location == "Person 1 (line 8), Requests 2, line 18"


def test_empty_element_counts_as_absent(tmp_path):
    empty_date = REFUSED.replace(
        "<RequestOutcomeDate>2025-04-11</RequestOutcomeDate>", "<RequestOutcomeDate/>"
    )
    _, problems = read_sen2(sen2_file(tmp_path, person("B999200024001", empty_date)))
    assert only(problems).rule == "sen2-R2"


def test_duplicate_uln_is_named_as_the_uln(tmp_path):
    uln_person = (
        "    <Person>\n      <UniqueLearnerNumber>1234567890</UniqueLearnerNumber>\n"
        + REFUSED
        + "    </Person>\n"
    )
    cl, problems = read_sen2(sen2_file(tmp_path, uln_person + uln_person))
    problem = only(problems, rule="sen2-duplicate-person")
    assert (problem.person, problem.field, problem.location) == (
        "1234567890",
        "UniqueLearnerNumber",
        "Person 2 (line 16)",
    )
    assert list(cl.cases["case_ref"]) == ["1234567890/1", "1234567890/2"]
