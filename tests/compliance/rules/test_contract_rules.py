"""Negative patterns for contract language: they drop boilerplate and keep the real clause.

The contract-risk pack's own false positives, and the pharma pack's on contracts (a mixed
corpus sends both packs over every document). Each boilerplate case has a real clause or claim
of the same rule that must still be found.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from helpers import PROJECT_ROOT

from compliance.rules.loader import RulePackError, load_rules

ROOT = PROJECT_ROOT

NOT_FLAGGED = [
    # The exclusivity lookahead once lost to backtracking: \w* gave back the "e" and
    # "exclusiv" matched before "e of taxes".
    pytest.param("The commission is two percent, exclusive of taxes and shipping.",
                 "contract.exclusivity", id="exclusive-of"),
    pytest.param("The foregoing are Customer's sole and exclusive remedies for breach.",
                 "contract.exclusivity", id="exclusive-remedy"),
    pytest.param("Licensor is the sole and exclusive owner of the Licensed Marks.",
                 "contract.exclusivity", id="exclusive-owner"),
    pytest.param("This Agreement is the complete and exclusive agreement between the parties.",
                 "contract.exclusivity", id="integration-clause"),
    pytest.param("This Agreement shall be construed exclusively in accordance with the laws of "
                 "New York.", "contract.exclusivity", id="governing-law"),
    pytest.param("All goodwill shall inure solely and exclusively to the benefit of Licensor.",
                 "contract.exclusivity", id="goodwill"),
    pytest.param("The indemnifying party shall have the exclusive right to defend or settle the "
                 "claim.", "contract.exclusivity", id="defence-control"),
    pytest.param("The provisions are for the exclusive benefit of the parties and their "
                 "permitted assigns.", "contract.exclusivity", id="third-party-beneficiaries"),
    pytest.param("Cisco's sole and exclusive warranty obligation is to repair the Product.",
                 "contract.exclusivity", id="exclusive-warranty"),
    pytest.param("Any Dispute shall be exclusively and finally settled under the ICC Rules.",
                 "contract.exclusivity", id="arbitration"),
    pytest.param("Licensee shall not engage in unfair competition or false advertising.",
                 "contract.non_compete", id="unfair-competition"),
    pytest.param("[***] CERTAIN INFORMATION HAS BEEN OMITTED BECAUSE IT WOULD LIKELY CAUSE "
                 "COMPETITIVE HARM TO THE REGISTRANT IF PUBLICLY DISCLOSED.",
                 "contract.non_compete", id="sec-redaction-legend"),
    pytest.param("The closing is subject to the HSR Act and any applicable competition law.",
                 "contract.non_compete", id="competition-law"),
    pytest.param("Supplier will offer competitive pricing for all Products.",
                 "contract.non_compete", id="competitive-pricing"),
    pytest.param("Consultant may not sell, assign or transfer any of its rights under this "
                 "Agreement.", "contract.restricted_activity", id="anti-assignment"),
    pytest.param('"Intellectual Property Rights" means all proprietary rights existing anywhere '
                 "in the world.", "contract.restricted_activity", id="ip-definition-reach"),
    pytest.param("Upon the expiration or termination of this Agreement for any reason, Agent "
                 "shall return all Products.", "contract.termination_for_convenience",
                 id="effect-of-termination"),
    pytest.param("Either party may terminate this Agreement at any time if the other party is in "
                 "material breach.", "contract.termination_for_convenience",
                 id="termination-for-breach"),
    # A pack's ignore list: text about a clause rather than a clause.
    pytest.param("Sections 12 (Confidentiality) and Section 4.2 (Covenant Not to Compete) survive "
                 "termination.", "contract.non_compete", id="cross-reference"),
    pytest.param("The provisions of Section 14 (Limitation of Liability) survive.",
                 "contract.liability_limit", id="cross-reference-liability"),
    pytest.param("[Signature Page to Non-Competition and Non-Solicitation Agreement]",
                 "contract.non_compete", id="signature-page"),
    pytest.param("Source: GPAQ ACQUISITION HOLDINGS, INC., S-4/A, 1/23/2020",
                 "contract.change_of_control", id="deal-named-company"),
    pytest.param('1.1 "Acquisition" is defined in Section 11.8 hereof.',
                 "contract.change_of_control", id="defined-term-index"),
    # The pharma pack reading contracts.
    pytest.param("Licensee shall indemnify, defend and hold Licensor, its Affiliates and their "
                 "respective officers, directors, employees and agents (collectively, the "
                 '"Licensor Indemnitees") harmless from any Claims.', "pharma.minimised_risk",
                 id="hold-harmless"),
    pytest.param("Kitov warrants that, to the best of its knowledge, it has infringed nothing.",
                 "pharma.unsubstantiated_superiority", id="best-of-knowledge"),
    pytest.param("You may own a 5% interest in the outstanding equity securities of any public "
                 "corporation.", "pharma.unsubstantiated_superiority", id="interest-of-any"),
    pytest.param("The breach is not susceptible to cure, and Company may terminate.",
                 "pharma.cure_claim", id="breach-cure"),
    pytest.param("Supplier shall diagnose the Epidemic Failure's root cause within ten days.",
                 "pharma.cure_claim", id="root-cause-analysis"),
]

FLAGGED = [
    pytest.param("Company appoints Distributor as its exclusive distributor of the Products in "
                 "the Territory.", "contract.exclusivity", id="exclusive-distributor"),
    pytest.param("During the Term, Supplier shall sell the Products exclusively to Customer.",
                 "contract.exclusivity", id="sell-exclusively"),
    pytest.param("Customer shall purchase all of its requirements of the Products from "
                 "Supplier.", "contract.exclusivity", id="requirements"),
    pytest.param("For two years after the Term, Consultant shall not compete with the Company.",
                 "contract.non_compete", id="covenant-not-to-compete"),
    pytest.param("Distributor shall not sell any competing products in the Territory during the "
                 "Term.", "contract.restricted_activity", id="no-selling"),
    pytest.param("Customer may terminate this Agreement for convenience on thirty days' notice. "
                 "Upon termination of this Agreement for any reason, fees are not refunded.",
                 "contract.termination_for_convenience", id="convenience-beside-effects"),
    pytest.param("Except for breaches of Section 12 (Confidentiality), in no event shall either "
                 "party's liability exceed the fees paid.", "contract.liability_limit",
                 id="cap-beside-cross-reference"),
    pytest.param("Upon a merger of Licensee, Licensor may terminate.",
                 "contract.change_of_control", id="merger"),
    pytest.param("Our cream is completely harmless, even for daily use.",
                 "pharma.minimised_risk", id="harmless-claim"),
    pytest.param("The best treatment for migraine you can buy.",
                 "pharma.unsubstantiated_superiority", id="the-best"),
    pytest.param("The strongest relief of any over-the-counter product.",
                 "pharma.unsubstantiated_superiority", id="superlative-of-any"),
    pytest.param("This serum cures acne in a week.", "pharma.cure_claim", id="cures"),
    pytest.param("It treats the root cause of hair loss.", "pharma.cure_claim",
                 id="root-cause-claim"),
]


@pytest.fixture(scope="module")
def shipped_rules():
    return load_rules()


@pytest.mark.parametrize(("text", "rule"), NOT_FLAGGED)
def test_boilerplate_is_not_flagged(shipped_rules, text, rule):
    assert rule not in {h.rule_id for h in shipped_rules.scan(text)}


@pytest.mark.parametrize(("text", "rule"), FLAGGED)
def test_the_real_clause_or_claim_is_flagged(shipped_rules, text, rule):
    assert rule in {h.rule_id for h in shipped_rules.scan(text)}


def write_pack(folder: Path, name: str, top: str, rule_id: str) -> None:
    (folder / name).write_text(f"{top}rules:\n  - id: {rule_id}\n    category: x\n"
                               "    severity: high\n    description: d\n    keywords: [secret]\n")


@pytest.mark.parametrize("ignore", ["['(unclosed']", "'not a list'", "['']"])
def test_malformed_ignore_list_names_the_file(tmp_path, ignore):
    shutil.copytree(ROOT / "data" / "rules", tmp_path / "rules")
    write_pack(tmp_path / "rules", "zz-ignore.yaml", f"ignore: {ignore}\n", "ig.rule")
    with pytest.raises(RulePackError, match="zz-ignore.yaml.*ignore"):
        load_rules(tmp_path / "rules")


def test_a_packs_ignore_list_applies_to_its_own_rules_only(tmp_path):
    write_pack(tmp_path, "a.yaml", "ignore: ['\\[draft[^\\]]*\\]']\n", "a.word")
    write_pack(tmp_path, "b.yaml", "ignore: []\n", "b.word")
    hits = load_rules(tmp_path).scan("[draft: secret] and a secret")
    assert sorted((h.rule_id, h.start) for h in hits) == [
        ("a.word", 22), ("b.word", 8), ("b.word", 22)]
