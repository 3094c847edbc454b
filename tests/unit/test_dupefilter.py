"""Which seen-URL filter a frontier's settings choose (no Redis: the choice is made before any is used)."""

from __future__ import annotations

import pytest
from scrapy.settings import Settings

from backlinkspider import config
from backlinkspider.frontier.dupefilter import (
    EXACT_UP_TO,
    BloomDupeFilter,
    FrontierConfigError,
    SetDupeFilter,
    from_settings,
)


def chosen(**values):
    settings = Settings({k: v.default for k, v in config.SETTINGS.items() if v.default is not None})
    settings.setdict({f"BACKLINKS_{k.upper()}": v for k, v in values.items()}, priority="cmdline")
    return from_settings(settings)


def test_auto_is_the_exact_set_up_to_its_size_and_the_bloom_filter_past_it():
    assert config.SETTINGS["BACKLINKS_DUPEFILTER"].default == "auto"
    assert isinstance(chosen(bloom_capacity=EXACT_UP_TO), SetDupeFilter)
    past = chosen(bloom_capacity=EXACT_UP_TO + 1)
    assert isinstance(past, BloomDupeFilter) and past.capacity == EXACT_UP_TO + 1
    default = chosen()  # a crawl that says nothing of its size: 100M URLs, the Bloom filter
    assert isinstance(default, BloomDupeFilter) and default.capacity == 100_000_000
    assert default.bits / 8 / 2**20 == pytest.approx(171.4, abs=0.1)  # MiB allocated at setup
    assert isinstance(chosen(dupefilter="set"), SetDupeFilter)
    assert isinstance(chosen(dupefilter="bloom", bloom_capacity=10), BloomDupeFilter)


def test_a_bad_choice_is_one_line():
    with pytest.raises(FrontierConfigError, match="must be 'auto', 'set' or 'bloom', not 'exact'"):
        chosen(dupefilter="exact")
    with pytest.raises(FrontierConfigError, match="2\\^32"):
        chosen(bloom_capacity=10**10)  # past 16 shards of 2^32 bits at 0.1%
