"""The web page and the JSON API over the link index (``backlinks serve``); see ``app``."""
