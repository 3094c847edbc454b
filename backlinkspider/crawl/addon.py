"""The backlinks crawl's add-on: the settings of ours that follow from other settings, made once they are
all known (Scrapy loads add-ons after the project's, the spider's and the command line's settings).

The components themselves are listed in settings.py by dotted path, where a user can swap or disable each.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from backlinkspider import __version__

if TYPE_CHECKING:
    from scrapy.settings import Settings


class BacklinksCrawl:
    """The User-Agent names who runs the crawler (``BACKLINKS_CONTACT_URL``), so site owners can reach
    them; a ``USER_AGENT`` given on the command line wins."""

    def update_settings(self, settings: Settings) -> None:
        contact = settings.get("BACKLINKS_CONTACT_URL")
        settings.set("USER_AGENT", f"backlinkspider/{__version__} (+{contact})", priority="project")
