"""The flag stage with the clause scorer: which documents it decides, and what it sends."""

from compliance.rules.loader import load_rules
from compliance.scoring.policy import resolve_scorer, triage_policy
from compliance.settings import TriageSettings
from tasks.flag import decide_document

CONTRACT = ("8. Exclusivity. During the Term, Distributor shall be the exclusive distributor of "
            "the Products in the Territory, and Company shall not appoint any other distributor "
            "or sell the Products to any third party in the Territory. ") * 2
MAIL = ("Hi team, the quarterly offsite moves to the second floor. Lunch is at noon and the "
        "agenda is attached. Please confirm by Friday so that we can order enough food. ") * 3


def test_the_scorer_decides_contracts_and_leaves_other_documents_to_their_rules():
    rules = load_rules()
    policy = triage_policy(rules.version, resolve_scorer(None), 0.95)
    settings = TriageSettings()
    contract = decide_document([(CONTRACT, rules.scan(CONTRACT))], settings, [], policy)
    assert contract[0].units and contract[0].scorer_score is not None
    assert contract[0].decision == "escalate"
    assert any(category == "exclusivity" for *_, category in contract[0].scored)
    # No rule of the contract pack hits the mail: the scorer does not read it.
    mail = decide_document([(MAIL, rules.scan(MAIL))], settings, [], policy)
    assert mail[0].units == () and mail[0].scorer_score is None
    assert mail[0].decision == "routine"
