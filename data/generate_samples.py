"""Generate the fictional sample documents used to exercise the compliance pipeline.

Every document is about the fictional company "Norvale Pharma" and fictional people.
The script is deterministic: running it twice produces byte-identical files.

* PDFs are written with reportlab in ``invariant`` mode (fixed dates and document ID).
* DOCX files get fixed core properties and are re-zipped with fixed entry timestamps,
  sorted entry order and fixed file attributes.
* The e-mail uses fixed ``Date``/``Message-ID`` headers and a fixed MIME boundary.

Usage::

    python data/generate_samples.py [OUTPUT_DIR]

``OUTPUT_DIR`` defaults to data/samples/ beside this script. Requires ``reportlab``
and ``python-docx`` (the project's ``samples`` extra).
"""

from __future__ import annotations

import argparse
import html
import io
import zipfile
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import escape

from docx import Document
from docx.shared import Pt
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    BaseDocTemplate,
    Frame,
    KeepTogether,
    PageBreak,
    PageTemplate,
    Paragraph,
    Spacer,
    Table,
    TableStyle,
)
from reportlab.platypus.flowables import Flowable

# --------------------------------------------------------------------------------------
# Constants
# --------------------------------------------------------------------------------------

DEFAULT_OUTPUT_DIR = Path(__file__).resolve().parent / "samples"

DISCLAIMER = (
    "CONFIDENTIAL \u2014 Norvale Pharma internal use only. This document may contain "
    "information that is privileged, confidential or otherwise protected from disclosure. "
    "If you have received it in error, notify the sender immediately and delete it. "
    "Do not copy, forward or distribute any part of it without written authorisation "
    "from the Compliance Office."
)

COMPANY = "Norvale Pharma"
FIXED_DATETIME = datetime(2024, 4, 15, 9, 30, 0)
FIXED_DATETIME_UTC = datetime(2024, 4, 15, 9, 30, 0, tzinfo=UTC)
ZIP_DATE_TIME = (1980, 1, 1, 0, 0, 0)
ZIP_FILE_MODE = 0o644
ZIP_CREATE_SYSTEM = 3  # "Unix", fixed so the archive does not depend on the host OS
SAMPLE_NOTE = "Fictional sample document generated for compliance-pipeline testing."
BROKEN_FRACTION = 0.4

EMAIL_BOUNDARY = "==norvale-onboarding-boundary-20240415=="
EMAIL_MESSAGE_ID = "<onboarding.20240415.0930.mah@norvale-pharma.example>"

# A block is (kind, payload). Kinds: title, h1, h2, p, li, step, table, pagebreak.
Block = tuple[str, "str | list[list[str]]"]


# --------------------------------------------------------------------------------------
# Small helpers for writing content
# --------------------------------------------------------------------------------------


def norm(text: str) -> str:
    """Collapse the whitespace of a triple-quoted source string into one paragraph."""
    return " ".join(text.split())


def title(text: str) -> Block:
    """Document title block."""
    return ("title", norm(text))


def h1(text: str) -> Block:
    """Level-1 heading block."""
    return ("h1", norm(text))


def h2(text: str) -> Block:
    """Level-2 heading block."""
    return ("h2", norm(text))


def p(text: str) -> Block:
    """Body paragraph block."""
    return ("p", norm(text))


def li(text: str) -> Block:
    """Bulleted list item block."""
    return ("li", norm(text))


def step(text: str) -> Block:
    """Numbered list item block."""
    return ("step", norm(text))


def table(rows: list[list[str]]) -> Block:
    """Table block; the first row is the header row."""
    return ("table", [[norm(cell) for cell in row] for row in rows])


def pagebreak() -> Block:
    """Explicit page break (PDF only)."""
    return ("pagebreak", "")


def disclaimer() -> Block:
    """The shared disclaimer paragraph, repeated verbatim in most documents."""
    return ("p", DISCLAIMER)


# --------------------------------------------------------------------------------------
# Content
# --------------------------------------------------------------------------------------


def brochure_blocks() -> list[Block]:
    """Promotional brochure for the fictional drug Cardiozen, full of risky claims."""
    return [
        title("Cardiozen (velrastatin) 20 mg tablets"),
        h1("Take Control of Your Heart with Cardiozen"),
        p("""High cholesterol is called the silent threat for a reason. Millions of adults live
        with raised LDL cholesterol without knowing it, and every year it quietly narrows the
        arteries that feed the heart and brain. Cardiozen (velrastatin) is the new once-daily
        tablet from Norvale Pharma that puts you back in charge of your numbers, your health
        and your future."""),
        p("""In our landmark programme, Cardiozen reduces heart attacks by 90%. That is not a
        typing error. Patients who switched to Cardiozen saw their risk of a heart attack all
        but disappear, and most of them reached their cholesterol target within two weeks of
        their very first tablet."""),
        h2("Completely safe, with no side effects"),
        p("""Unlike older cholesterol medicines, Cardiozen has no side effects. Its unique
        Smart-Release coating means it is completely safe for everyone, whatever your age and
        whatever other medicines you take. There is no need for routine blood tests and no
        need to worry about your muscles or your liver. Cardiozen is simply the safest statin
        ever developed."""),
        h2("Better than any other cholesterol treatment"),
        p("""Cardiozen is better than any other statin on the market. Doctors who have tried it
        tell us they would never go back. Where other treatments only manage the problem,
        Cardiozen cures high cholesterol for good: after a short course many patients find
        they simply do not need to think about their cholesterol ever again."""),
        li("Reduces heart attacks by 90%"),
        li("Works in as little as 7 days"),
        li("No side effects and no blood tests"),
        li("Safe with grapefruit juice, alcohol and all other medicines"),
        li("One small tablet, once a day, any time"),
        pagebreak(),
        h1("Why Doctors and Families Choose Cardiozen"),
        h2("Protection for the whole family"),
        p("""Heart disease often runs in families, so why wait? Cardiozen is gentle enough for
        children from the age of six. Many parents start their children on half a tablet a day
        to give them a head start on a healthy heart, and because Cardiozen has no side effects
        there is nothing to lose. Ask your family doctor about a family prescription."""),
        h2("A sharper mind as well as a stronger heart"),
        p("""Exciting new thinking suggests that what is good for the heart is good for the
        brain. That is why many people now take Cardiozen to prevent Alzheimer's disease and
        memory loss. Keeping your cholesterol low with Cardiozen helps keep your memory sharp
        well into your eighties, so you can enjoy every moment with the people you love."""),
        h2("Real patients, real results"),
        p("""\u201cI was on another statin for years and never felt right. Since switching to
        Cardiozen my cholesterol dropped by half in a month and my cardiologist says I am the
        healthiest I have been in a decade.\u201d \u2014 Gordon, 61, retired engineer."""),
        p("""At a recent pharmacy open day, a customer told one of our representatives that
        about three weeks after starting Cardiozen 40 mg her husband developed severe aching in
        his thighs, felt unusually weak and noticed that his urine had turned dark brown. He
        stopped the tablets on his own and was seen at his local hospital, where he was kept in
        overnight for fluid treatment. She said he is feeling much better now and still believes
        Cardiozen is the best medicine he has taken."""),
        h2("Start today"),
        p("""Cardiozen is available on prescription in 10 mg, 20 mg and 40 mg tablets. There is
        no need to start low and go slow: most adults can begin on 40 mg straight away for the
        fastest possible results. Visit your doctor, mention Cardiozen by name and take the
        first step towards a heart-attack-free future. For free starter packs and our loyalty
        card, ask your pharmacist or call the Cardiozen Care Line on 0800 555 0190."""),
        p("""Cardiozen and Smart-Release are trademarks of Norvale Pharma. Job code
        NVP-CZ-PROMO-0424. Date of preparation: April 2024."""),
        disclaimer(),
    ]


def sop_blocks() -> list[Block]:
    """Standard Operating Procedure for adverse event reporting."""
    return [
        title("SOP-PV-007: Adverse Event Reporting"),
        p("""Document owner: Head of Pharmacovigilance, Norvale Pharma. Version 3.0. Effective
        date: 15 April 2024. Next review: 15 April 2026."""),
        h1("1. Purpose"),
        p("""This Standard Operating Procedure describes how Norvale Pharma personnel, contractors
        and service providers identify, record, assess and forward adverse events (AEs) that
        relate to any Norvale Pharma product, so that the Drug Safety team can meet its legal
        obligations for expedited and periodic safety reporting to regulatory authorities. A
        consistent process protects patients, keeps the safety profile of our products accurate
        and ensures that no report is lost between departments."""),
        h1("2. Scope"),
        p("""This procedure applies to every employee, temporary worker and third party acting on
        behalf of Norvale Pharma, in every country where our products are developed, marketed or
        supplied. It covers information received through any channel, including telephone calls,
        e-mails, social media, conversations at congresses and pharmacy events, market research,
        patient support programmes and medical information enquiries. It covers marketed and
        investigational products, and it includes special situations such as pregnancy exposure,
        overdose, medication errors, misuse and lack of efficacy, even where no harm occurred."""),
        h1("3. Responsibilities"),
        li("""All personnel: recognise an adverse event and forward it to Drug Safety within one
        business day of first becoming aware of it, even if the information is incomplete."""),
        li("""Line managers: make sure their teams complete annual adverse event awareness
        training and that vendor contracts contain safety-reporting clauses."""),
        li("""Drug Safety team: receive, log, triage, assess and follow up every report, and
        submit expedited reports to regulators within the statutory timelines."""),
        li("""Qualified Person for Pharmacovigilance (QPPV): oversee the safety system, approve
        signal assessments and act as the single point of contact for regulators."""),
        li("""Compliance Office: audit adherence to this procedure and escalate repeated late
        reporting to the Executive Leadership Team."""),
        h1("4. Procedure"),
        step("""Recognise the event. Any untoward medical occurrence in a person who has been
        given a Norvale Pharma product is an adverse event, whether or not you think the
        product caused it. Four minimum criteria make a valid case: an identifiable patient, an
        identifiable reporter, a suspect product and an adverse event."""),
        step("""Record the facts without judgement. Write down what the reporter said in their
        own words, the date you heard it, the reporter's contact details and any details of the
        patient that were offered. Do not ask for more personal data than is needed."""),
        step("""Forward the report to Drug Safety within one business day using the AE intake
        form on the intranet or by e-mail to drugsafety@norvale-pharma.example. Day zero is the
        day any Norvale Pharma employee or contractor first receives the information."""),
        step("""Drug Safety logs the case in the safety database, checks for duplicates and sends
        an acknowledgement to the person who forwarded it within two business days."""),
        step("""A safety physician assesses seriousness, expectedness against the reference
        safety information and causality, and decides whether expedited reporting applies."""),
        step("""Serious and unexpected cases are submitted to the relevant regulatory
        authorities within 15 calendar days of day zero; fatal or life-threatening unexpected
        cases from clinical trials are submitted within 7 calendar days."""),
        step("""Drug Safety requests follow-up information from the reporter where the case is
        incomplete, making up to three attempts over 30 days and documenting each one."""),
        step("""Cases are reviewed monthly for trends, and potential signals are escalated to the
        Safety Review Committee chaired by the QPPV."""),
        h1("5. Records"),
        p("""All source documents, intake forms, correspondence and submission receipts are kept
        in the validated safety database and its linked document archive for at least ten years
        after the product's last marketing authorisation expires. Personal data in case records
        is handled in line with the Data Retention Policy and applicable data protection law, and
        access is limited to authorised Drug Safety staff and auditors."""),
        h1("6. Revision history"),
        table(
            [
                ["Version", "Date", "Author", "Summary of changes"],
                ["1.0", "02 March 2020", "H. Lindqvist", "First issue."],
                [
                    "2.0",
                    "18 June 2022",
                    "T. Mbeki-Rowan",
                    "Added social media and patient support programme sources.",
                ],
                [
                    "3.0",
                    "15 April 2024",
                    "A. Castellane",
                    "Clarified day zero, added special situations and follow-up attempts.",
                ],
            ]
        ),
        disclaimer(),
    ]


def contract_text() -> str:
    """Plain-text master services agreement with the clauses a reviewer looks for."""
    sections: list[tuple[str, list[str]]] = [
        (
            "DEFINITIONS",
            [
                """"Agreement" means this Master Services Agreement together with every Statement of
            Work signed under it. "Services" means the data analytics, statistical programming
            and medical-writing services described in each Statement of Work. "Deliverables"
            means all reports, datasets, code and other materials the Supplier produces for the
            Customer in performing the Services. "Affiliate" means any entity that controls, is
            controlled by or is under common control with a party.""",
            ],
        ),
        (
            "TERM AND AUTO-RENEWAL",
            [
                """This Agreement starts on the Effective Date and continues for an initial term of
            three (3) years. It then renews automatically for successive renewal terms of two (2)
            years each unless either party gives written notice of non-renewal at least one
            hundred and eighty (180) days before the end of the then-current term.""",
            ],
        ),
        (
            "SERVICES AND STATEMENTS OF WORK",
            [
                """The Supplier shall perform the Services described in each Statement of Work with
            reasonable skill and care and in accordance with good industry practice, applicable
            law and the Customer's written policies notified to the Supplier from time to time.
            If a Statement of Work conflicts with this Agreement, this Agreement prevails unless
            the Statement of Work expressly states otherwise.""",
            ],
        ),
        (
            "FEES AND MOST-FAVOURED-NATION PRICING",
            [
                """The Customer shall pay the fees set out in each Statement of Work within
            sixty (60) days of receipt of a valid invoice.""",
                """The Supplier warrants that the fees charged to the Customer are and will remain
            no less favourable than the fees the Supplier charges any other customer for the same or
            substantially similar services in similar volumes. If the Supplier offers more
            favourable pricing to another customer, it shall notify the Customer within thirty
            (30) days and extend the same pricing to the Customer from the date it was first
            offered, crediting any difference against the next invoice.""",
            ],
        ),
        (
            "EXCLUSIVITY",
            [
                """During the term, the Customer appoints the Supplier as its exclusive provider of
            statistical programming services for cardiovascular products in the European Economic
            Area and the United Kingdom, and the Customer shall not engage any third party to
            provide those services in that territory.""",
            ],
        ),
        (
            "NON-COMPETE AND NON-SOLICITATION",
            [
                """During the term and for twenty-four (24) months after it ends, the Supplier shall
            not, directly or through any Affiliate, provide services similar to the Services to
            any company that markets a statin or other lipid-lowering therapy that competes with
            a Customer product. During the same period neither party shall solicit for employment
            any employee of the other party who was involved in the Services, other than through
            general advertising not aimed at those employees.""",
            ],
        ),
        (
            "INTELLECTUAL PROPERTY ASSIGNMENT",
            [
                """The Supplier hereby assigns to the Customer, with full title guarantee, all
            present and future intellectual property rights in the Deliverables, including
            copyright in all source code, as and when they are created. The Supplier waives, and
            shall procure that its personnel waive, all moral rights in the Deliverables.
            Pre-existing tools and know-how of the Supplier remain its property, and the Supplier
            grants the Customer a perpetual, royalty-free licence to use them to the extent they
            are embedded in the Deliverables.""",
            ],
        ),
        (
            "CONFIDENTIALITY",
            [
                """Each party shall keep confidential all information of the other party disclosed
            to it in connection with this Agreement and shall use it only to perform its obligations
            or exercise its rights under this Agreement. These obligations survive termination for
            seven (7) years, and indefinitely for trade secrets and personal data.""",
            ],
        ),
        (
            "INDEMNITY",
            [
                """The Supplier shall indemnify the Customer and its Affiliates against all losses,
            damages, costs and expenses arising from any claim that the Deliverables infringe the
            intellectual property rights of a third party, and from any breach by the Supplier of
            its data protection obligations.""",
            ],
        ),
        (
            "LIMITATION OF LIABILITY",
            [
                """Subject to the carve-outs below, each party's total aggregate liability arising
            under or in connection with this Agreement in any contract year is limited to one
            hundred and fifty per cent (150%) of the fees paid or payable in that contract year.
            Neither party is liable for any indirect or consequential loss, or for loss of profit,
            revenue or goodwill.""",
                """Carve-outs: the caps and exclusions above do not apply to (a) the Supplier's
            indemnity obligations under the Indemnity section, (b) breach of the Confidentiality
            section, (c) liability for death or personal injury caused by negligence, or (d) fraud
            or fraudulent misrepresentation, each of which is uncapped.""",
            ],
        ),
        (
            "AUDIT RIGHTS",
            [
                """On thirty (30) days' written notice, and no more than once in any twelve-month
            period unless an audit reveals a material breach, the Customer or an independent
            auditor it appoints may audit the Supplier's records, systems and facilities used to
            perform the Services, including for compliance with anti-bribery, data protection and
            pharmacovigilance obligations. The Supplier shall bear the cost of any audit that
            reveals an overcharge of more than five per cent (5%).""",
            ],
        ),
        (
            "CHANGE OF CONTROL",
            [
                """The Supplier shall notify the Customer within ten (10) business days of any
            change of control of the Supplier. If control of the Supplier passes to a competitor of
            the Customer, the Customer may terminate this Agreement with immediate effect by written
            notice given within ninety (90) days of being notified, without liability.""",
            ],
        ),
        (
            "TERMINATION",
            [
                """Termination for convenience: the Customer may terminate this Agreement or any
            Statement of Work at any time, without cause, on ninety (90) days' written notice to
            the Supplier. The Supplier has no right to terminate for convenience.""",
                """Termination for cause: either party may terminate this Agreement immediately by
            written notice if the other party commits a material breach that is not remedied
            within thirty (30) days of notice, or becomes insolvent.""",
                """On termination the Supplier shall deliver all Deliverables, including work in
            progress, and return or destroy the Customer's confidential information.""",
            ],
        ),
        (
            "GOVERNING LAW",
            [
                """This Agreement is governed by the laws of England and Wales, and the courts of
            England have exclusive jurisdiction over any dispute arising from it.""",
            ],
        ),
    ]
    lines: list[str] = [
        "MASTER SERVICES AGREEMENT",
        "",
        "Agreement No. NVP-MSA-2024-0117",
        "",
        """This Master Services Agreement (the "Agreement") is made on 15 April 2024 (the
        "Effective Date") between NORVALE PHARMA LIMITED, a company registered in England and
        Wales with its registered office at 1 Harrowgate Park, Cambridge CB4 0ZZ (the
        "Customer"), and BRIGHTWATER CLINICAL ANALYTICS LLC, a Delaware limited liability company
        with its principal office at 220 Quayside Drive, Wilmington, DE 19801 (the
        "Supplier").""",
        "",
    ]
    for number, (heading, clauses) in enumerate(sections, start=1):
        lines.append(f"{number}. {heading}")
        lines.append("")
        for sub, clause in enumerate(clauses, start=1):
            lines.append(f"{number}.{sub} {norm(clause)}")
            lines.append("")
    lines += [
        "SIGNED for and on behalf of the parties by their authorised representatives:",
        "",
        "Norvale Pharma Limited: Helena Vasquez-Moore, Chief Operating Officer",
        "Brightwater Clinical Analytics LLC: Rupert Kaminski, Managing Director",
        "",
        DISCLAIMER,
        "",
    ]
    return "\n".join(norm(line) if line else "" for line in lines)


def email_body() -> str:
    """Plain-text onboarding e-mail body with fictional personal data."""
    paragraphs = [
        "Dear Marisol,",
        """Welcome to Norvale Pharma! We are delighted that you are joining the Regulatory
        Affairs team as a Senior Regulatory Specialist on Monday 6 May 2024. This e-mail confirms
        the details we hold for your employee record. Please check them carefully and reply by
        Friday 26 April if anything needs correcting.""",
        """Full name: Marisol Adeyemi-Hart
        | Date of birth: 14 March 1991
        | Social Security Number: 219-09-9999
        | Mobile phone: +1 (617) 555-0142
        | Home address: 48 Larkspur Lane, Apt 3B, Cambridge, MA 02139, USA
        | Salary bank account (IBAN): GB82 WEST 1234 5698 7654 32
        | Annual base salary: USD 118,500, paid monthly
        | Employee ID: NVP-004517
        | Line manager: Dr. Tobias Lindqvist-Oyelaran""",
        """On your first day, please come to the Cambridge office reception at 9:00 a.m. and
        bring a photo ID and your completed I-9 documents. Your line manager, Tobias, will meet
        you there and walk you through your first week, which includes mandatory training on
        adverse event reporting, anti-bribery and data protection.""",
        """Your laptop and building pass will be ready on arrival. Please do not send identity
        documents by e-mail; use the secure upload link that the People Team will send you
        separately.""",
        """I have attached a short summary of your benefits. The full plan documents are on the
        intranet, and the benefits enrolment window closes 30 days after your start date.""",
        """If you have any questions before you start, call me on +1 (617) 555-0176 or simply
        reply to this message.""",
        """Kind regards,
        | Jasmine Okonkwo-Barrett
        | People Partner, Norvale Pharma People Team""",
        DISCLAIMER,
    ]
    out: list[str] = []
    for para in paragraphs:
        # " | " marks an intended line break inside a paragraph (an address-style block).
        out.append("\n".join(part.strip() for part in norm(para).split(" | ")))
    return "\n\n".join(out) + "\n"


def benefits_text() -> str:
    """Plain-text attachment for the onboarding e-mail (ASCII only)."""
    paragraphs = [
        "NORVALE PHARMA - BENEFITS SUMMARY (US EMPLOYEES, 2024 PLAN YEAR)",
        """Health cover: Norvale Pharma pays 90% of the premium for the employee-only tier of the
        Harbourline PPO medical plan and 75% for family tiers. Dental and vision cover are
        included at no cost to employees. Cover starts on your first day of employment.""",
        """Retirement: the 401(k) plan matches 100% of your contributions up to 6% of eligible
        pay. Matching contributions vest immediately. You are enrolled automatically at 4% unless
        you choose a different rate within 30 days of your start date.""",
        """Time off: you receive 25 days of paid vacation a year, pro-rated in your first year,
        plus 11 company holidays and up to 10 days of paid sick leave. Parental leave is 20 weeks
        at full pay for all new parents.""",
        """Wellbeing: all employees can use the confidential Employee Assistance Programme, a
        yearly wellbeing allowance of USD 750 and subsidised gym membership.""",
        """This summary is for information only. If it differs from the official plan documents,
        the plan documents apply.""",
    ]
    return "\n\n".join(norm(para) for para in paragraphs) + "\n"


def anti_bribery_html() -> str:
    """HTML policy page on gifts and hospitality."""
    e = html.escape
    intro = [
        """Norvale Pharma does not tolerate bribery or corruption in any form. This policy sets
        out the rules that every employee, contractor and third party acting for us must follow
        when giving or receiving gifts, hospitality or anything else of value. It applies in
        every country where we operate, and where local law or an industry code sets a stricter
        rule, the stricter rule applies.""",
        """Healthcare professionals (HCPs) and government officials deserve special care. A gift
        or meal that would be an ordinary courtesy in private business can, when offered to a
        prescriber or a public official, look like an attempt to influence a prescribing,
        purchasing or regulatory decision. The test is always whether an independent observer
        would think the benefit could affect the recipient's judgement.""",
    ]
    principles = [
        """Never offer, promise or give anything of value to obtain or keep business or to
        secure an improper advantage.""",
        """Never give cash or cash equivalents such as gift cards, vouchers or prepaid cards to
        anyone, in any amount.""",
        """Gifts to HCPs are limited to inexpensive items that are relevant to medical practice
        or patient education and carry no promotional branding.""",
        """Hospitality must be modest, secondary to a genuine scientific or business purpose,
        and never extended to spouses, partners or guests.""",
        """Every gift and hospitality item given or received above the recording threshold must
        be logged in the G&H register within 10 business days.""",
        """Facilitation payments are prohibited, except where a person's health or safety is
        under immediate threat; such payments must be reported to Compliance within 24 hours.""",
    ]
    thresholds = [
        (
            "Gift to a healthcare professional",
            "USD 50 per item; USD 150 per year",
            "Manager and Compliance",
        ),
        ("Meal with a healthcare professional", "USD 75 per person per meal", "Manager"),
        (
            "Gift or hospitality to a government official",
            "Not permitted without approval",
            "Compliance Office in advance",
        ),
        ("Gift received from a supplier", "USD 100 per item", "Manager; log in register"),
        (
            "Sponsored travel for an HCP to a congress",
            "Economy class; no leisure days",
            "Medical Director and Compliance",
        ),
    ]
    breaches = [
        """Breaches of this policy may lead to disciplinary action up to and including dismissal,
        and may also be criminal offences for the individual and for Norvale Pharma. If you are
        unsure whether something is allowed, ask before you act. Concerns can be raised with
        your manager, with the Compliance Office, or anonymously through the Speak Up line,
        and Norvale Pharma will not tolerate retaliation against anyone who raises a concern in
        good faith.""",
        """This policy is owned by the Chief Compliance Officer, Oluwaseun Hartley-Brandt, and is
        reviewed every year. Version 4.1, effective 15 April 2024.""",
    ]
    rows = "\n".join(
        f"        <tr><td>{e(a)}</td><td>{e(b)}</td><td>{e(c)}</td></tr>" for a, b, c in thresholds
    )
    items = "\n".join(f"      <li>{e(norm(item))}</li>" for item in principles)
    intro_html = "\n".join(f"    <p>{e(norm(para))}</p>" for para in intro)
    breach_html = "\n".join(f"    <p>{e(norm(para))}</p>" for para in breaches)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Anti-Bribery Policy: Gifts and Hospitality | {e(COMPANY)}</title>
  <meta name="description" content="{e(SAMPLE_NOTE)}">
</head>
<body>
  <header>
    <h1>Anti-Bribery Policy: Gifts and Hospitality</h1>
    <p>Policy ID CMP-POL-012 &middot; Owner: Compliance Office</p>
  </header>
  <main>
    <h2>1. Why this policy matters</h2>
{intro_html}
    <h2>2. Core principles</h2>
    <ul>
{items}
    </ul>
    <h2>3. Value thresholds and approvals</h2>
    <table>
      <thead>
        <tr><th>Situation</th><th>Maximum value</th><th>Approval needed</th></tr>
      </thead>
      <tbody>
{rows}
      </tbody>
    </table>
    <h2>4. Breaches and reporting concerns</h2>
{breach_html}
  </main>
  <footer>
    <p>{e(DISCLAIMER)}</p>
  </footer>
</body>
</html>
"""


def retention_blocks() -> list[Block]:
    """Data-retention policy rendered identically as PDF and DOCX."""
    return [
        title("Data Retention Policy"),
        p("""Policy ID: CMP-POL-019. Version 2.2. Effective date: 15 April 2024. Owner: Data
        Protection Officer, Norvale Pharma."""),
        h1("1. Purpose"),
        p("""This policy explains how long Norvale Pharma keeps business records and personal
        data, and how those records are disposed of at the end of their life. Keeping records
        for the right length of time lets us meet regulatory duties, defend legal claims and
        learn from our own history, while deleting them on time protects the privacy of
        patients, employees and partners and reduces storage cost and security risk."""),
        h1("2. Scope"),
        p("""The policy covers every record created or received by Norvale Pharma in the course of
        business, in any format and on any system, including paper files, e-mail, shared drives,
        collaboration tools, laboratory systems and back-ups held by service providers on our
        behalf. It applies to all employees, contractors and vendors who handle our records."""),
        h1("3. Retention principles"),
        p("""Records are kept for the period set out in the retention schedule below, measured
        from the trigger event shown. Where a record falls into more than one category, the
        longest period applies. Personal data must not be kept longer than is necessary for the
        purpose for which it was collected, and duplicates and drafts should be deleted as soon
        as the final version is filed in the system of record."""),
        h1("4. Retention schedule"),
        table(
            [
                ["Record type", "Retention period", "Trigger event"],
                [
                    "Pharmacovigilance case records",
                    "10 years",
                    "Expiry of the last marketing authorisation",
                ],
                ["Clinical trial master file", "25 years", "End of the trial"],
                ["Promotional materials and approvals", "5 years", "Last date of use"],
                ["Contracts and agreements", "7 years", "Expiry or termination"],
                ["Employee personnel files", "6 years", "End of employment"],
                [
                    "Recruitment records of unsuccessful candidates",
                    "6 months",
                    "End of the recruitment campaign",
                ],
            ]
        ),
        h1("5. Legal holds"),
        p("""When litigation, an investigation or a regulatory inspection is reasonably
        anticipated, the Legal department issues a legal hold notice. A legal hold suspends all
        deletion of the records it describes, overriding the schedule, until Legal lifts the hold
        in writing. Destroying records under a legal hold is a serious disciplinary matter."""),
        h1("6. Secure disposal"),
        p("""At the end of the retention period records are destroyed securely: paper by
        cross-cut shredding or certified confidential waste, and electronic records by deletion
        from live systems followed by expiry from back-ups within 90 days. Record owners confirm
        each disposal in the retention log, and the Data Protection Officer reviews a sample of
        disposals every year."""),
        disclaimer(),
    ]


def quarterly_report_blocks() -> list[Block]:
    """Short quarterly report; only used to build the truncated (broken) PDF."""
    return [
        title("Norvale Pharma Quarterly Report: Q1 2024"),
        h1("Highlights"),
        p("""Group revenue for the first quarter of 2024 was GBP 412 million, up 8% on the same
        quarter last year at constant exchange rates, driven by the continued growth of the
        cardiovascular portfolio and the launch of Cardiozen in three new markets."""),
        p("""Operating margin improved to 23.5% as manufacturing efficiencies at the Cambridge
        site offset higher research and development spending on two late-stage programmes."""),
        h1("Pipeline"),
        p("""The phase III VELOCITY-2 outcomes study completed enrolment of 14,200 patients ahead
        of schedule. The independent data monitoring committee recommended that the study
        continue without modification after its second planned interim review."""),
        h1("Outlook"),
        p("""Guidance for the full year is unchanged. We continue to expect revenue growth in the
        mid-to-high single digits at constant exchange rates and core earnings per share growth
        slightly ahead of revenue growth."""),
        disclaimer(),
    ]


def meeting_notes_md() -> str:
    """Markdown notes of a brand-team meeting."""
    lines: list[str] = [
        "# Cardiozen Brand Team: Weekly Meeting Notes",
        "",
        "**Date:** 15 April 2024, 14:00\u201315:00  ",
        "**Location:** Cambridge, Room 3.12 and video call  ",
        "**Chair:** Fenella Duarte-Whitcombe (Brand Director)  ",
        "**Notes:** Callum Ostrowski (Brand Executive)",
        "",
        "## Attendees",
        "",
        "- Fenella Duarte-Whitcombe, Brand Director",
        "- Callum Ostrowski, Brand Executive",
        "- Dr. Imogen Achterberg, Medical Affairs",
        "- Rashid Pennington-Lowe, Market Access",
        "- Sunniva Hale, Investor Relations (item 4 only)",
        "",
        "## 1. \u201cHeart of Gold\u201d campaign launch",
        "",
        "- Launch date moved to **3 June** so that the new patient website is live first.",
        (
            "- Agency has delivered the draft brochure and social media assets. "
            "Fenella is keen to lead with the \u201c90% fewer heart attacks\u201d line."
        ),
        (
            "- Imogen reminded the team that the 90% figure comes from a small subgroup analysis "
            "and is not in the label; Medical Affairs will not sign it off as written."
        ),
        (
            "- Agreed to send all assets through the formal copy-approval process "
            "before anything goes to print."
        ),
        "",
        "## 2. Pharmacy open days",
        "",
        "- Twelve open days completed in March; good attendance.",
        (
            "- Callum mentioned that a customer at the Leeds event described her husband being "
            "hospitalised with muscle pain and dark urine after starting Cardiozen. "
            "Imogen asked whether this had gone to Drug Safety. Nobody was sure."
        ),
        "- **Action:** Callum to forward the details to Drug Safety today, per SOP-PV-007.",
        "",
        "## 3. Market access",
        "",
        (
            "- Rashid reported that two regional formularies have listed Cardiozen as a "
            "second-line option."
        ),
        ("- Pricing discussions with the national buyer continue; next meeting at the end of May."),
        "",
        "## 4. Investor update",
        "",
        "- Sunniva is drafting the Cardiozen section of the Q2 investor update.",
        (
            "- Fenella suggested telling investors that the launch offers "
            "\u201cguaranteed returns\u201d and will \u201cdouble revenue within a year\u201d."
        ),
        (
            "- Sunniva pushed back: forward-looking statements must be balanced and approved by "
            "Legal; \u201cguaranteed returns\u201d cannot be used."
        ),
        "- **Action:** Sunniva to share a draft with Legal and Compliance by 26 April.",
        "",
        "## Actions",
        "",
        "| Owner | Action | Due |",
        "|-------|--------|-----|",
        "| Callum | Report the Leeds adverse event to Drug Safety | 15 April |",
        "| Fenella | Resubmit brochure copy without unapproved claims | 22 April |",
        "| Sunniva | Investor update draft to Legal and Compliance | 26 April |",
        "| Rashid | Formulary status summary | 29 April |",
        "",
        "## Next meeting",
        "",
        "22 April 2024, same time.",
        "",
        DISCLAIMER,
        "",
    ]
    return "\n".join(lines)


# --------------------------------------------------------------------------------------
# Renderers
# --------------------------------------------------------------------------------------


def pdf_styles() -> dict[str, ParagraphStyle]:
    """Paragraph styles used by the PDF renderer."""
    base = getSampleStyleSheet()
    body = ParagraphStyle("Body", parent=base["BodyText"], fontSize=10, leading=14, spaceAfter=6)
    return {
        "title": ParagraphStyle("DocTitle", parent=base["Title"], fontSize=20, leading=24),
        "h1": ParagraphStyle(
            "H1", parent=base["Heading1"], fontSize=15, leading=19, keepWithNext=1
        ),
        "h2": ParagraphStyle(
            "H2", parent=base["Heading2"], fontSize=12, leading=16, keepWithNext=1
        ),
        "p": body,
        "li": ParagraphStyle("Bullet", parent=body, leftIndent=14, bulletIndent=4, spaceAfter=3),
        "cell": ParagraphStyle("Cell", parent=body, fontSize=9, leading=11, spaceAfter=0),
    }


def pdf_flowables(blocks: Sequence[Block]) -> list[Flowable]:
    """Convert content blocks into reportlab flowables."""
    styles = pdf_styles()
    story: list[Flowable] = []
    counter = 0
    for kind, payload in blocks:
        counter = counter + 1 if kind == "step" else 0
        if kind == "pagebreak":
            story.append(PageBreak())
        elif kind == "table":
            assert isinstance(payload, list)
            data = [[Paragraph(escape(cell), styles["cell"]) for cell in row] for row in payload]
            tbl = Table(data, repeatRows=1, hAlign="LEFT")
            tbl.setStyle(
                TableStyle(
                    [
                        ("GRID", (0, 0), (-1, -1), 0.5, colors.grey),
                        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#DDE6EE")),
                        ("VALIGN", (0, 0), (-1, -1), "TOP"),
                    ]
                )
            )
            story += [tbl, Spacer(1, 8)]
        elif kind == "li":
            assert isinstance(payload, str)
            # En dash marker: reportlab encodes U+2022 as WinAnsi 0x7F, which pypdf extracts as DEL.
            story.append(Paragraph(escape(payload), styles["li"], bulletText="\u2013"))
        elif kind == "step":
            assert isinstance(payload, str)
            story.append(Paragraph(escape(payload), styles["li"], bulletText=f"{counter}."))
        elif payload == DISCLAIMER:
            # Never split the shared disclaimer across pages: keep it one extractable paragraph.
            story.append(KeepTogether([Paragraph(escape(payload), styles[kind])]))
        else:
            assert isinstance(payload, str)
            story.append(Paragraph(escape(payload), styles[kind]))
    return story


def footer_painter(label: str) -> Callable[[Canvas, BaseDocTemplate], None]:
    """Return an onPage callback that prints a footer label and the page number."""

    def paint(canvas: Canvas, doc: BaseDocTemplate) -> None:
        canvas.saveState()
        canvas.setFont("Helvetica", 8)
        canvas.setFillColor(colors.grey)
        canvas.drawString(doc.leftMargin, 12 * mm, label)
        canvas.drawRightString(A4[0] - doc.rightMargin, 12 * mm, f"Page {doc.page}")
        canvas.restoreState()

    return paint


def render_pdf_bytes(blocks: Sequence[Block], doc_title: str, label: str) -> bytes:
    """Render blocks to deterministic PDF bytes."""
    buffer = io.BytesIO()
    doc = BaseDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=20 * mm,
        rightMargin=20 * mm,
        topMargin=18 * mm,
        bottomMargin=22 * mm,
        title=doc_title,
        author=COMPANY,
        subject=SAMPLE_NOTE,
        creator="data/samples/generate.py",
        invariant=1,
        pageCompression=1,
    )
    frame = Frame(doc.leftMargin, doc.bottomMargin, doc.width, doc.height, id="body")
    # The footer is painted at page end so text extraction yields it after the body text.
    doc.addPageTemplates([PageTemplate(id="page", frames=[frame], onPageEnd=footer_painter(label))])
    doc.build(pdf_flowables(blocks))
    return buffer.getvalue()


def normalise_zip(data: bytes) -> bytes:
    """Rewrite a zip archive with sorted entries, fixed timestamps and fixed attributes."""
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(data)) as zin,
        zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zout,
    ):
        for name in sorted(zin.namelist()):
            info = zipfile.ZipInfo(name, date_time=ZIP_DATE_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = ZIP_CREATE_SYSTEM
            info.external_attr = ZIP_FILE_MODE << 16
            zout.writestr(info, zin.read(name))
    return out.getvalue()


def render_docx_bytes(blocks: Sequence[Block], doc_title: str) -> bytes:
    """Render blocks to deterministic DOCX bytes."""
    doc = Document()
    doc.styles["Normal"].font.name = "Calibri"
    doc.styles["Normal"].font.size = Pt(11)
    props = doc.core_properties
    props.title = doc_title
    props.author = COMPANY
    props.last_modified_by = COMPANY
    props.subject = SAMPLE_NOTE
    props.comments = SAMPLE_NOTE
    props.keywords = "fictional; sample"
    props.revision = 1
    props.created = FIXED_DATETIME
    props.modified = FIXED_DATETIME
    props.last_printed = FIXED_DATETIME
    for kind, payload in blocks:
        if kind == "pagebreak":
            doc.add_page_break()
        elif kind == "table":
            assert isinstance(payload, list)
            tbl = doc.add_table(rows=len(payload), cols=len(payload[0]))
            tbl.style = doc.styles["Table Grid"]
            for r, row in enumerate(payload):
                for c, text in enumerate(row):
                    cell_par = tbl.cell(r, c).paragraphs[0]
                    run = cell_par.add_run(text)
                    run.bold = r == 0
            doc.add_paragraph()
        else:
            assert isinstance(payload, str)
            if kind == "title":
                doc.add_heading(payload, level=0)
            elif kind == "h1":
                doc.add_heading(payload, level=1)
            elif kind == "h2":
                doc.add_heading(payload, level=2)
            elif kind == "li":
                doc.add_paragraph(payload, style="List Bullet")
            elif kind == "step":
                doc.add_paragraph(payload, style="List Number")
            else:
                doc.add_paragraph(payload)
    buffer = io.BytesIO()
    doc.save(buffer)
    return normalise_zip(buffer.getvalue())


def render_email_bytes() -> bytes:
    """Build the HR onboarding e-mail with one text/plain attachment."""
    msg = EmailMessage(policy=policy.default)
    msg["From"] = "Jasmine Okonkwo-Barrett <people@norvale-pharma.example>"
    msg["To"] = "Marisol Adeyemi-Hart <marisol.adeyemihart@mailbox.example>"
    msg["Cc"] = "Tobias Lindqvist-Oyelaran <t.lindqvist-oyelaran@norvale-pharma.example>"
    msg["Subject"] = "Welcome to Norvale Pharma: your start date and employee details"
    msg["Date"] = format_datetime(FIXED_DATETIME_UTC)
    msg["Message-ID"] = EMAIL_MESSAGE_ID
    msg["X-Sample-Note"] = SAMPLE_NOTE
    msg.set_content(email_body(), subtype="plain", charset="utf-8", cte="quoted-printable")
    msg.add_attachment(
        benefits_text(),
        subtype="plain",
        charset="us-ascii",
        cte="7bit",
        disposition="attachment",
        filename="benefits-summary.txt",
    )
    msg.set_boundary(EMAIL_BOUNDARY)
    return msg.as_bytes(policy=policy.default)


def broken_pdf_bytes() -> bytes:
    """A truncated download: the first 40% of a valid PDF, so no xref table and no %%EOF."""
    full = render_pdf_bytes(
        quarterly_report_blocks(), "Norvale Pharma Quarterly Report Q1 2024", "NVP-IR-Q1-2024"
    )
    return full[: int(len(full) * BROKEN_FRACTION)]


# --------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------


def write_bytes(path: Path, data: bytes) -> None:
    """Write bytes, creating parent folders, and print a one-line summary."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    print(f"wrote {path} ({len(data)} bytes)")


def generate(out_dir: Path) -> list[Path]:
    """Write every sample document under ``out_dir`` and return their paths."""
    retention = retention_blocks()
    outputs: dict[str, bytes] = {
        "promo/cardiozen-brochure.pdf": render_pdf_bytes(
            brochure_blocks(), "Cardiozen (velrastatin) patient brochure", "NVP-CZ-PROMO-0424"
        ),
        "sop/sop-adverse-event-reporting.docx": render_docx_bytes(
            sop_blocks(), "SOP-PV-007 Adverse Event Reporting"
        ),
        "contracts/master-services-agreement.txt": contract_text().encode("utf-8"),
        "hr/employee-onboarding.eml": render_email_bytes(),
        "policies/anti-bribery-policy.html": anti_bribery_html().encode("utf-8"),
        "policies/data-retention-policy.pdf": render_pdf_bytes(
            retention, "Data Retention Policy", "CMP-POL-019"
        ),
        "policies/data-retention-policy.docx": render_docx_bytes(
            retention, "Data Retention Policy"
        ),
        "broken/quarterly-report.pdf": broken_pdf_bytes(),
        "notes/meeting-notes.md": meeting_notes_md().encode("utf-8"),
    }
    paths: list[Path] = []
    for rel, data in outputs.items():
        path = out_dir / rel
        write_bytes(path, data)
        paths.append(path)
    return paths


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "output_dir",
        nargs="?",
        type=Path,
        default=DEFAULT_OUTPUT_DIR,
        help="folder to write the samples into (default: this script's folder)",
    )
    args = parser.parse_args(argv)
    generate(args.output_dir)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
