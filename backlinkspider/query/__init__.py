"""The query layer: every rule a person can see, once, over the storage primitives of
``backlinkspider.index.protocols`` — called by the CLI and the API alike.

``inputs`` reads a person's targets, dates and filters; ``listing`` lists backlinks (sorts, cursors,
paging, one link per domain, the authority sort, the joined scores); ``summary`` makes the profile and
the summary document; ``history`` the weekly rows; ``scores`` the domain list, bands and freshness;
``output`` spells records as JSON Lines and CSV; ``errors`` holds what a question can end in.
"""

from backlinkspider.query.errors import BadTarget, NoBacklinks
from backlinkspider.query.history import history
from backlinkspider.query.inputs import parse_since, parse_target, query_filters
from backlinkspider.query.listing import backlinks, decode_cursor, encode_cursor, export
from backlinkspider.query.scores import authority_bands, domain_score, domains, freshness, score_signals
from backlinkspider.query.summary import profile, summary

__all__ = [
    "BadTarget",
    "NoBacklinks",
    "authority_bands",
    "backlinks",
    "decode_cursor",
    "domain_score",
    "domains",
    "encode_cursor",
    "export",
    "freshness",
    "history",
    "parse_since",
    "parse_target",
    "profile",
    "query_filters",
    "score_signals",
    "summary",
]
