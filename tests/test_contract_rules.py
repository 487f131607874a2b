"""Negative patterns for contract language: they drop boilerplate and keep the real clause.

The contract-risk pack's own false positives, and the pharma pack's on contracts (a mixed
corpus sends both packs over every document).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from compliance.rules import RulePackError, load_rules

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def contract_rules():
    return load_rules()


def rule_ids(rules, text: str) -> set[str]:
    return {h.rule_id for h in rules.scan(text) if h.pack == "contract-risk"}


@pytest.mark.parametrize("text", [
    # the lookahead once lost to backtracking: \w* gave back "e" and "exclusiv" matched
    "The commission is two percent, exclusive of taxes and shipping.",
    "The foregoing are Customer's sole and exclusive remedies for breach of warranty.",
    "Licensor is the sole and exclusive owner of the Licensed Marks.",
    "This Agreement is the complete and exclusive agreement between the parties.",
    "This Agreement shall be construed exclusively in accordance with the laws of New York.",
    "All goodwill shall inure solely and exclusively to the benefit of Licensor.",
    "The indemnifying party shall have the exclusive right to defend or settle the claim.",
    "The provisions are for the exclusive benefit of the parties and their permitted assigns.",
    "Cisco's sole and exclusive warranty obligation is to repair or replace the Product.",
    "Any Dispute shall be exclusively and finally settled under the ICC Rules.",
])
def test_exclusive_in_boilerplate_is_not_exclusivity(contract_rules, text):
    assert "contract.exclusivity" not in rule_ids(contract_rules, text)


@pytest.mark.parametrize("text", [
    "Company appoints Distributor as its exclusive distributor of the Products in the Territory.",
    "During the Term, Supplier shall sell the Products exclusively to Customer.",
    "Customer shall purchase all of its requirements of the Products from Supplier.",
])
def test_exclusive_dealing_is_still_found(contract_rules, text):
    assert "contract.exclusivity" in rule_ids(contract_rules, text)


@pytest.mark.parametrize("text", [
    "Licensee shall not engage in unfair competition or false advertising.",
    "[***] CERTAIN INFORMATION HAS BEEN OMITTED BECAUSE IT WOULD LIKELY CAUSE COMPETITIVE HARM "
    "TO THE REGISTRANT IF PUBLICLY DISCLOSED.",
    "The closing is subject to approval under the HSR Act and any applicable competition law.",
    "Supplier will offer competitive pricing for all Products.",
])
def test_competition_named_without_restriction_is_not_a_non_compete(contract_rules, text):
    assert "contract.non_compete" not in rule_ids(contract_rules, text)


def test_a_covenant_not_to_compete_is_still_found(contract_rules):
    text = "For two years after the Term, Consultant shall not compete with the Company."
    assert "contract.non_compete" in rule_ids(contract_rules, text)


@pytest.mark.parametrize("text", [
    "Consultant may not sell, assign or transfer any of its rights under this Agreement.",
    '"Intellectual Property Rights" means all proprietary rights existing anywhere in the '
    "world.",
])
def test_anti_assignment_and_ip_reach_are_not_restricted_activity(contract_rules, text):
    assert "contract.restricted_activity" not in rule_ids(contract_rules, text)


def test_a_restriction_on_selling_is_still_found(contract_rules):
    text = "Distributor shall not sell any competing products in the Territory during the Term."
    assert "contract.restricted_activity" in rule_ids(contract_rules, text)


@pytest.mark.parametrize("text", [
    "Upon the expiration or termination of this Agreement for any reason, Agent shall return "
    "all Products.",
    "Either party may terminate this Agreement at any time if the other party is in material "
    "breach.",
])
def test_effects_of_termination_and_termination_for_breach_are_not_for_convenience(
        contract_rules, text):
    assert "contract.termination_for_convenience" not in rule_ids(contract_rules, text)


def test_termination_without_cause_is_found_next_to_its_effects(contract_rules):
    text = ("Customer may terminate this Agreement for convenience on thirty days' notice. "
            "Upon termination of this Agreement for any reason, fees paid are not refunded.")
    assert "contract.termination_for_convenience" in rule_ids(contract_rules, text)


@pytest.mark.parametrize(("text", "rule"), [
    ("Sections 12 (Confidentiality), 14 (Limitation of Liability) and Section 4.2 (Covenant Not "
     "to Compete) survive termination.", "contract.non_compete"),
    ("The provisions of Section 14 (Limitation of Liability) survive.",
     "contract.liability_limit"),
    ("[Signature Page to Non-Competition and Non-Solicitation Agreement]",
     "contract.non_compete"),
    ("Source: GPAQ ACQUISITION HOLDINGS, INC., S-4/A, 1/23/2020", "contract.change_of_control"),
    ('1.1 "Acquisition" is defined in Section 11.8 hereof.', "contract.change_of_control"),
])
def test_text_about_a_clause_is_ignored(contract_rules, text, rule):
    assert rule not in rule_ids(contract_rules, text)


def test_a_clause_beside_a_cross_reference_is_still_read(contract_rules):
    text = ("Except for breaches of Section 12 (Confidentiality), in no event shall either "
            "party's liability exceed the fees paid. Upon a merger of Licensee, Licensor may "
            "terminate.")
    found = rule_ids(contract_rules, text)
    assert {"contract.liability_limit", "contract.change_of_control"} <= found


@pytest.mark.parametrize(("text", "rule"), [
    ("Licensee shall indemnify, defend and hold Licensor, its Affiliates and their respective "
     "officers, directors, employees and agents (collectively, the \"Licensor Indemnitees\") "
     "harmless from any Claims.", "pharma.minimised_risk"),
    ("Kitov warrants that, to the best of its knowledge, it has not infringed any rights.",
     "pharma.unsubstantiated_superiority"),
    ("You may own less than a 5% interest in the outstanding equity securities of any public "
     "corporation.", "pharma.unsubstantiated_superiority"),
    ("The breach is not susceptible to cure, and Company may terminate.", "pharma.cure_claim"),
    ("Supplier shall diagnose the Epidemic Failure's root cause within ten days.",
     "pharma.cure_claim"),
])
def test_contract_language_is_not_promotion(contract_rules, text, rule):
    assert rule not in {h.rule_id for h in contract_rules.scan(text)}


@pytest.mark.parametrize(("text", "rule"), [
    ("Our cream is completely harmless, even for daily use.", "pharma.minimised_risk"),
    ("The best treatment for migraine you can buy.", "pharma.unsubstantiated_superiority"),
    ("The strongest relief of any over-the-counter product.",
     "pharma.unsubstantiated_superiority"),
    ("This serum cures acne in a week.", "pharma.cure_claim"),
    ("It treats the root cause of hair loss.", "pharma.cure_claim"),
])
def test_promotional_claims_are_still_found(contract_rules, text, rule):
    assert rule in {h.rule_id for h in contract_rules.scan(text)}


@pytest.mark.parametrize("ignore", ["[]", "['(unclosed']", "'not a list'", "['']"])
def test_malformed_ignore_list_names_the_file(tmp_path, ignore):
    shutil.copytree(ROOT / "data" / "rules", tmp_path / "rules")
    (tmp_path / "rules" / "zz-ignore.yaml").write_text(
        f"ignore: {ignore}\nrules:\n  - id: ig.rule\n    category: x\n    severity: high\n"
        "    description: d\n    keywords: [ig]\n")
    if ignore == "[]":
        assert any(r.id == "ig.rule" for r in load_rules(tmp_path / "rules").rules)
        return
    with pytest.raises(RulePackError, match="zz-ignore.yaml"):
        load_rules(tmp_path / "rules")


def test_a_packs_ignore_list_applies_to_its_own_rules_only(tmp_path):
    rules_dir = tmp_path / "rules"
    rules_dir.mkdir()
    (rules_dir / "a.yaml").write_text(
        "ignore: ['\\[draft[^\\]]*\\]']\nrules:\n  - id: a.word\n    category: x\n"
        "    severity: high\n    description: d\n    keywords: [secret]\n")
    (rules_dir / "b.yaml").write_text(
        "rules:\n  - id: b.word\n    category: y\n    severity: high\n    description: d\n"
        "    keywords: [secret]\n")
    hits = load_rules(rules_dir).scan("[draft: secret] and a secret")
    assert sorted((h.rule_id, h.start) for h in hits) == [
        ("a.word", 22), ("b.word", 8), ("b.word", 22)]
