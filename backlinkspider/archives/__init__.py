"""Web archives as page items: WARC files (full responses) and Common Crawl's WAT files (each page's
links as JSON) give the same ``extract.Page`` items a crawl of the same pages gives, with the facts of
each capture (date, server IP, archive name) beside them, for the index to store.

``ArchiveReader(path_or_url)`` iterates one file's pages; its ``counts`` follow the reading (records,
pages, links, skips by kind or reason, bytes read). ``reader`` opens and dispatches, ``capture`` reads
the capture facts, ``warc`` turns a response record into a page through the crawl's own extraction
chain, ``wat`` reads a WAT record by the same rules and lists where it cannot match them.
"""

from backlinkspider.archives.capture import ArchivedPage, BadArchive, FetchFailed, Limits
from backlinkspider.archives.reader import ArchiveReader, Counts

__all__ = ["ArchiveReader", "ArchivedPage", "BadArchive", "Counts", "FetchFailed", "Limits"]
