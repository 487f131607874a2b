"""What the brief rules find in hand-made documents, and where each field points."""

from __future__ import annotations

from compliance.briefs.brief import brief_version, document_brief
from compliance.briefs.fields import BriefField

CONTRACT = """EXHIBIT 10.4

                         EXCLUSIVE DISTRIBUTION AGREEMENT

This Exclusive Distribution Agreement (the "Agreement") is made as of the 3rd day of June, 2011
(the "Effective Date") by and between Acme Widgets, Inc., a Delaware corporation having its
principal place of business at 1 Main Street, Dover, DE 19901 ("Acme"), and Borealis Trading
Ltd., a company organized under the laws of the Province of Ontario ("Distributor").

WHEREAS, Acme makes widgets;

1. Term. The initial term is three (3) years. Thereafter this Agreement renews automatically
for successive one (1) year periods unless either party gives notice at least ninety (90) days
prior to the end of the then-current term.

12. Governing Law. This Agreement shall be governed by and construed in accordance with the
laws of the State of New York, without regard to its conflict of laws principles.
"""

EMAIL = """From: Ana Lopez <ana@example.com>
To: Compliance Team <compliance@example.com>, Ben Ode <ben@example.com>
Date: Mon, 15 Apr 2024 09:30:00 +0000
Subject: Quarterly gifts register

Please find the register attached.
"""

POLICY = """Data Retention Policy

Policy ID: CMP-POL-019. Version 2.2. Effective date: 15 April 2024. Owner: Data Protection Officer.

1. Purpose
This policy explains how long we keep records.
"""


def values(fields: list[BriefField], name: str) -> list[str]:
    return [f.value for f in fields if f.field == name]


def test_a_contract_brief_has_its_title_parties_dates_terms_and_law() -> None:
    brief = document_brief(CONTRACT)
    assert values(brief, "kind") == ["contract"]
    assert values(brief, "title") == ["EXCLUSIVE DISTRIBUTION AGREEMENT"]
    assert values(brief, "party") == ['Acme Widgets, Inc. ("Acme")',
                                      'Borealis Trading Ltd. ("Distributor")']
    assert values(brief, "agreement_date") == ["2011-06-03"]
    assert values(brief, "effective_date") == ["2011-06-03"]
    # Ontario is where the distributor was organized, not the law that governs.
    assert values(brief, "governing_law") == ["New York"]
    assert values(brief, "renewal_term") == ["1 year"]
    assert values(brief, "notice_to_terminate_renewal") == ["90 days"]
    assert all(f.method == "rule" for f in brief)


def test_every_span_points_at_its_evidence_in_the_text() -> None:
    brief = {f.field: f for f in document_brief(CONTRACT)}
    for name in ("title", "agreement_date", "governing_law"):
        field = brief[name]
        assert 0 <= field.char_start < field.char_end <= len(CONTRACT)
    assert CONTRACT[brief["governing_law"].char_start:brief["governing_law"].char_end] == \
        "New York"
    assert CONTRACT[brief["agreement_date"].char_start:
                    brief["agreement_date"].char_end] == "3rd day of June, 2011"
    assert "EXCLUSIVE DISTRIBUTION AGREEMENT" in CONTRACT[brief["title"].char_start:
                                                          brief["title"].char_end]


def test_an_email_brief_comes_from_its_headers() -> None:
    brief = document_brief(EMAIL)
    assert values(brief, "kind") == ["email"]
    assert values(brief, "title") == ["Quarterly gifts register"]
    assert values(brief, "sent_date") == ["2024-04-15"]
    assert values(brief, "person") == [
        "Ana Lopez <ana@example.com> (sender)",
        "Compliance Team <compliance@example.com> (recipient)",
        "Ben Ode <ben@example.com> (recipient)"]
    assert {f.method for f in brief if f.field != "kind"} == {"parser"}


def test_a_policy_gets_its_title_kind_and_labelled_date_but_no_parties() -> None:
    brief = document_brief(POLICY)
    assert values(brief, "kind") == ["policy"]
    assert values(brief, "title") == ["Data Retention Policy"]
    assert values(brief, "effective_date") == ["2024-04-15"]
    assert values(brief, "party") == []


def test_the_title_is_found_after_the_filing_legend_and_without_its_owner() -> None:
    legend = ("Exhibit 10.1 CERTAIN CONFIDENTIAL PORTIONS OF THIS EXHIBIT WERE OMITTED AND "
              "REPLACED WITH \"[***]\". A COMPLETE VERSION HAS BEEN FILED SEPARATELY WITH THE "
              "SECURITIES AND EXCHANGE COMMISSION. AMENDMENT NO. 2 TO MANUFACTURING AND SUPPLY "
              "AGREEMENT THIS AMENDMENT NO. 2 is made by and between A Co. and B Ltd.\n")
    title, = [f for f in document_brief(legend) if f.field == "title"]
    assert title.value == "AMENDMENT NO. 2 TO MANUFACTURING AND SUPPLY AGREEMENT"
    assert legend[title.char_start:title.char_end] == title.value  # the title, not the legend
    owner = "Exhibit 10.12\n\nPREMIER NUTRITION CORPORATION MANUFACTURING AGREEMENT\n\nThis..."
    assert values(document_brief(owner), "title") == ["MANUFACTURING AGREEMENT"]
    numbered = "AMENDMENT NO. 3\n\nDated as of February 19, 2007\n\nReference is made to..."
    assert values(document_brief(numbered), "title") == ["AMENDMENT NO. 3"]
    paged = "EXHIBIT 99.2 Page 1 of 3 DISTRIBUTOR AGREEMENT Agreement made this 19th day of March"
    assert values(document_brief(paged), "title") == ["DISTRIBUTOR AGREEMENT"]
    qualified = "COOPERATION AGREEMENT (2014 Amendment)\n\nThis Cooperation Agreement ..."
    assert values(document_brief(qualified), "title") == ["COOPERATION AGREEMENT (2014 Amendment)"]
    # A bare "AGREEMENT" from a legend column loses to the real title further down.
    column = ("PORTIONS OF THIS     AGREEMENT ACCORDINGLY,\n\n   SPONSORSHIP AGREEMENT\n\n"
              "This agreement is entered into by and between Excite, Inc. and CyberShop.")
    assert values(document_brief(column), "title") == ["SPONSORSHIP AGREEMENT"]


def test_labelled_parties_of_a_translated_contract_are_found_with_their_labels() -> None:
    text = ("Exhibit 10.39\n\nCooperation Agreement on Mobile Game Business\n\n"
            "Party A: Dazzle Interactive Network Technologies Co., Ltd. Address: 4F, Nanjing\n\n"
            "Party B (Carrier): Shenzhen iDreamSky Technology Co., Ltd.   Legal Representative: X\n"
            "\n1. Party A: business platform and resources.\n")
    parties = [f for f in document_brief(text) if f.field == "party"]
    assert [p.value for p in parties] == [
        'Dazzle Interactive Network Technologies Co., Ltd ("Party A")',
        'Shenzhen iDreamSky Technology Co., Ltd ("Party B")']
    assert text[parties[1].char_start:parties[1].char_end].startswith("Shenzhen iDreamSky")


def test_every_party_of_a_list_is_found_and_descriptions_are_not_parties() -> None:
    text = ("STRATEGIC ALLIANCE AGREEMENT\n\nThis Agreement is made by and among Farids & Co. LLC, "
            "a Delaware limited liability company (\"Farids\"), Edible Arrangements, LLC, a "
            "Delaware limited liability company (\"EA\"), and Rocky Mountain Chocolate Factory, "
            "Inc., a Delaware corporation (the \"Company\").\n\nWHEREAS, the Company ...")
    assert values(document_brief(text), "party") == [
        'Farids & Co. LLC ("Farids")', 'Edible Arrangements, LLC ("EA")',
        'Rocky Mountain Chocolate Factory, Inc. ("Company")']


def test_text_with_no_shape_gets_a_kind_and_nothing_invented() -> None:
    brief = document_brief("lorem ipsum dolor sit amet " * 50)
    assert [f.field for f in brief] == ["kind"]  # one 250-word line is no title
    assert values(brief, "kind") == ["document"]
    assert not [f for f in brief if f.field.endswith("date") or f.field == "party"]


def test_the_brief_version_is_a_hash_of_the_code() -> None:
    version = brief_version()
    assert len(version) == 16 and int(version, 16) >= 0
    assert brief_version() == version
