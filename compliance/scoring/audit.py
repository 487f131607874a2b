"""The audit of what triage misses: a stratified random sample of the units it did not escalate,
and a recall estimate with a one-sided lower confidence bound.

Triage escalates a unit (a clause) to the judge when its score is at or above a threshold. Every
escalated unit is judged, so the positives among them are known exactly. To learn what triage
misses, each run also sends a random sample of the NOT-escalated units to the same judge.

The sample is stratified by rank among the non-escalated units (`BANDS`): the band just under
the threshold (`near`) is sampled at a higher rate than the units far below it, since that is
where misses concentrate (as SUPG/BARGAIN favour proxy scores close to the threshold), yet
every non-escalated unit keeps a nonzero chance of being drawn. Within a band the draw is a
simple random sample without replacement, so the band's positive rate in the sample is an
unbiased estimate of its rate in the band, and the stratified Horvitz-Thompson sum

    missed = sum over tallies of population * positives / sampled

is an unbiased estimate of the positives triage missed. Its upper confidence bound pools every
sampled tally (every band of every run in a rolling window) into one statement: the weighted
missed rate p = missed / N over their N units, and Kish's effective sample size
n_eff = N^2 / sum(population^2 / sampled), the usual design-effect adjustment for a weighted
proportion; the bound is the one-sided Clopper-Pearson upper bound at level 1 - delta for
p * n_eff positives in n_eff trials, times N. Tallies with units but no sample add their whole
population. With one band and one run it is the exact Clopper-Pearson bound; with several it
is an approximation, whose coverage the tests check by simulation. (A Clopper-Pearson bound per
band at delta/K, Bonferroni over the K bands, was valid but about twice as loose.) Recall is
E / (E + missed) with E the escalated positives; its lower bound uses the missed upper bound.

Pure library code: only the standard library, numpy and scipy.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import beta as beta_distribution

SHARE_TOLERANCE = 1e-9


# The ledger purpose of a request made of audit windows.
AUDIT_PURPOSE = "audit"

@dataclass(frozen=True)
class AuditBand:
    """One stratum of the non-escalated units, by rank of score (highest first).

    rank_share: the share of the non-escalated units (by rank) the band covers.
    sample_share: the share of the audit sample the band gets.
    """

    name: str
    rank_share: float
    sample_share: float

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("an audit band needs a name")
        for label, value in (("rank_share", self.rank_share),
                             ("sample_share", self.sample_share)):
            if not math.isfinite(value) or not 0.0 <= value <= 1.0:
                raise ValueError(f"band {self.name!r}: {label} must lie in [0, 1], got {value}")


BANDS: tuple[AuditBand, ...] = (
    AuditBand("near", rank_share=0.1, sample_share=0.2),
    AuditBand("middle", rank_share=0.3, sample_share=0.3),
    AuditBand("far", rank_share=0.6, sample_share=0.5),
)


@dataclass(frozen=True)
class BandPlan:
    """One band of an audit plan: how many units it holds, how many are drawn, at what rate."""

    band: str
    population: int
    sampled: int
    inclusion_probability: float


@dataclass(frozen=True)
class AuditPlan:
    """Which non-escalated units to send to the judge, and the design that drew them.

    picks: the drawn unit indices, sorted.
    band_of: the band of every eligible (non-escalated) unit, by unit index.
    tallies: one `BandPlan` per band, in the order of the bands.
    """

    picks: tuple[int, ...]
    band_of: dict[int, str]
    tallies: tuple[BandPlan, ...]


@dataclass(frozen=True)
class BandTally:
    """The audit result of one band in one run (and one risk category).

    population: non-escalated units in the band; sampled: how many of them the judge saw;
    positives: how many of those it called a finding.
    """

    band: str
    population: int
    sampled: int
    positives: int


@dataclass(frozen=True)
class RecallEstimate:
    """Recall of triage with its one-sided lower confidence bound (level 1 - delta).

    estimate = E / (E + missed_estimate); lower_bound = E / (E + missed_upper), where E is
    escalated_positives. sampled and audited_positives total the audit sample behind it.
    """

    estimate: float
    lower_bound: float
    escalated_positives: int
    missed_estimate: float
    missed_upper: float
    sampled: int
    audited_positives: int


def _check_bands(bands: Sequence[AuditBand]) -> None:
    """Bands must be named uniquely and their rank and sample shares must each sum to 1."""
    if not bands:
        raise ValueError("at least one audit band is needed")
    names = [band.name for band in bands]
    if len(set(names)) != len(names):
        raise ValueError(f"audit band names must be unique, got {names}")
    for label, total in (("rank_share", math.fsum(band.rank_share for band in bands)),
                         ("sample_share", math.fsum(band.sample_share for band in bands))):
        if abs(total - 1.0) > SHARE_TOLERANCE:
            raise ValueError(f"the bands' {label}s must sum to 1, got {total}")


def _band_bounds(eligible: int, bands: Sequence[AuditBand]) -> list[int]:
    """The rank at which each band ends (exclusive): cumulative rank shares, rounded half up.

    Rounding the cumulative share (not each band's size) places every eligible unit in exactly
    one band and keeps each band within one unit of its share.
    """
    bounds: list[int] = []
    cumulative = 0.0
    for band in bands[:-1]:
        cumulative += band.rank_share
        end = math.floor(cumulative * eligible + 0.5)
        bounds.append(min(eligible, max(bounds[-1] if bounds else 0, end)))
    bounds.append(eligible)
    return bounds


def _largest_remainder(total: int, shares: Sequence[float]) -> list[int]:
    """`total` split by `shares` (summing to 1): floors, then the largest remainders get one more.

    Ties go to the earlier share. A tiny tolerance keeps 150 * 0.3 at 45 despite float error.
    """
    quotas = [total * share for share in shares]
    counts = [math.floor(quota + SHARE_TOLERANCE) for quota in quotas]
    remainders = [quota - count for quota, count in zip(quotas, counts, strict=True)]
    left = total - sum(counts)
    for index in sorted(range(len(shares)), key=lambda i: (-remainders[i], i))[:max(left, 0)]:
        counts[index] += 1
    return counts


def _allocate(total: int, shares: Sequence[float], populations: Sequence[int]) -> list[int]:
    """Sample sizes per band: `total` (at most the sum of populations) split by share.

    A band never gets more than its population; its excess goes to the other bands with room,
    nearest band first (the nearer to the threshold on a tie). When `total` covers one unit per
    non-empty band, every non-empty band gets at least one, taken from the largest allocation.
    """
    counts = _largest_remainder(total, shares)
    for index in range(len(counts)):
        excess = counts[index] - populations[index]
        if excess <= 0:
            continue
        counts[index] = populations[index]
        for other in sorted(range(len(counts)), key=lambda j: (abs(j - index), j)):
            room = populations[other] - counts[other]
            if other == index or room <= 0:
                continue
            moved = min(room, excess)
            counts[other] += moved
            excess -= moved
            if excess == 0:
                break
    non_empty = [i for i, population in enumerate(populations) if population > 0]
    if total >= len(non_empty):
        for index in non_empty:
            if counts[index] == 0:
                donor = max(range(len(counts)), key=lambda j: (counts[j], j))
                counts[donor] -= 1
                counts[index] += 1
    return counts


def plan_audit(scores: Sequence[float], escalated: Sequence[bool], sample_size: int, seed: int,
               bands: Sequence[AuditBand] = BANDS) -> AuditPlan:
    """Draw the audit sample: a stratified random sample of the non-escalated units.

    The non-escalated units are ranked by score, highest first (ties by index), and cut into
    `bands` by rank share. `min(sample_size, eligible)` units are spread over the bands by
    sample share (largest remainder; never more than a band holds, the excess going to the
    nearest band with room; at least one per non-empty band when the sample allows), then drawn
    within each band by simple random sampling without replacement, from
    `numpy.random.default_rng(seed)`: the same inputs and seed give the same plan.
    """
    if len(scores) != len(escalated):
        raise ValueError(f"{len(scores)} scores but {len(escalated)} escalation flags")
    if sample_size < 0:
        raise ValueError(f"sample_size must be >= 0, got {sample_size}")
    _check_bands(bands)
    eligible = [index for index, flag in enumerate(escalated) if not flag]
    for index in eligible:
        if not math.isfinite(scores[index]):
            raise ValueError(f"unit {index} has a non-finite score {scores[index]}")
    ranked = sorted(eligible, key=lambda index: (-scores[index], index))
    bounds = _band_bounds(len(ranked), bands)
    members = [ranked[start:end] for start, end in zip([0, *bounds[:-1]], bounds, strict=True)]
    populations = [len(units) for units in members]
    counts = _allocate(min(sample_size, len(ranked)), [band.sample_share for band in bands],
                       populations)
    rng = np.random.default_rng(seed)
    picks: list[int] = []
    band_of: dict[int, str] = {}
    tallies: list[BandPlan] = []
    for band, units, count in zip(bands, members, counts, strict=True):
        for index in units:
            band_of[index] = band.name
        if count:
            drawn = rng.choice(len(units), size=count, replace=False)
            picks.extend(units[int(position)] for position in drawn)
        probability = count / len(units) if units else 0.0
        tallies.append(BandPlan(band.name, len(units), count, probability))
    return AuditPlan(tuple(sorted(picks)), band_of, tuple(tallies))


def inclusion_weights(plan: AuditPlan) -> dict[int, float]:
    """Each picked unit's Horvitz-Thompson weight: 1 / its band's inclusion probability."""
    probability = {tally.band: tally.inclusion_probability for tally in plan.tallies}
    return {index: 1.0 / probability[plan.band_of[index]] for index in plan.picks}


def tally_audit(plan: AuditPlan, positives: Collection[int]) -> tuple[BandTally, ...]:
    """The plan's band tallies given the picked units the judge called positive (one category).

    Raises ValueError for a positive that is not among the picks.
    """
    positive = set(positives)
    stray = sorted(positive.difference(plan.picks))
    if stray:
        raise ValueError(f"positives {stray[:5]} are not among the audit picks")
    per_band: dict[str, int] = {tally.band: 0 for tally in plan.tallies}
    for index in positive:
        per_band[plan.band_of[index]] += 1
    return tuple(BandTally(tally.band, tally.population, tally.sampled, per_band[tally.band])
                 for tally in plan.tallies)


def _check_tally(tally: BandTally) -> None:
    if min(tally.population, tally.sampled, tally.positives) < 0:
        raise ValueError(f"band {tally.band!r}: counts must be >= 0, got {tally}")
    if tally.sampled > tally.population:
        raise ValueError(f"band {tally.band!r}: sampled {tally.sampled} exceeds population "
                         f"{tally.population}")
    if tally.positives > tally.sampled:
        raise ValueError(f"band {tally.band!r}: positives {tally.positives} exceed sampled "
                         f"{tally.sampled}")


def clopper_pearson_upper(positives: float, trials: float, alpha: float) -> float:
    """One-sided Clopper-Pearson upper bound on a proportion at level 1 - alpha.

    The beta quantile also serves a non-integer (effective) count; 1.0 once positives reach
    trials.
    """
    if trials <= 0 or positives >= trials:
        return 1.0
    return float(beta_distribution.ppf(1.0 - alpha, positives + 1.0, trials - positives))


def _pooled_missed(tallies: Sequence[BandTally], delta: float) -> tuple[float, float]:
    """(estimate, upper bound at 1 - delta) of missed positives over all tallies together.

    The Horvitz-Thompson estimate over the sampled tallies; its bound is Clopper-Pearson on
    Kish's effective sample size of their weighted missed rate. A tally with units but no
    sample adds nothing to the estimate and its whole population to the bound.
    """
    seen = [tally for tally in tallies if tally.sampled > 0]
    unseen = sum(tally.population for tally in tallies if tally.sampled == 0)
    population = sum(tally.population for tally in seen)
    missed = math.fsum(tally.population * tally.positives / tally.sampled for tally in seen)
    upper = float(unseen)
    if population > 0:
        rate = missed / population
        effective = population ** 2 / math.fsum(tally.population ** 2 / tally.sampled
                                                for tally in seen)
        upper += population * min(1.0, clopper_pearson_upper(rate * effective, effective,
                                                              delta))
    return missed, upper


def estimate_recall(escalated_positives: int, tallies: Sequence[BandTally],
                    delta: float) -> RecallEstimate | None:
    """Recall of triage for one category, with a lower bound that holds at level 1 - delta.

    `tallies` may hold several runs (a rolling window): every band of every run is pooled into
    one bound (see the module docstring). None when there can be no positive at all (none
    escalated, no non-escalated unit): recall is undefined. With no escalated positive but
    possible misses, recall and its bound are 0.
    """
    if not 0.0 < delta < 1.0:
        raise ValueError(f"delta must lie strictly between 0 and 1, got {delta}")
    if escalated_positives < 0:
        raise ValueError(f"escalated_positives must be >= 0, got {escalated_positives}")
    for tally in tallies:
        _check_tally(tally)
    missed_estimate, missed_upper = _pooled_missed(tallies, delta)
    found = escalated_positives
    if found + missed_estimate == 0 and found + missed_upper == 0:
        return None
    return RecallEstimate(
        estimate=found / (found + missed_estimate) if found else 0.0,
        lower_bound=found / (found + missed_upper) if found else 0.0,
        escalated_positives=found,
        missed_estimate=missed_estimate,
        missed_upper=missed_upper,
        sampled=sum(tally.sampled for tally in tallies),
        audited_positives=sum(tally.positives for tally in tallies),
    )
