"""Signals of this project (sent with ``crawler.signals.send_catch_log``)."""

# The crawl is done with these URLs (their edges are in the index, or they were skipped): sent with
# ``urls=[...]``. The cluster frontier completes their leases.
pages_done = object()
