"""An alias kept for users' settings: ``TWISTED_DNS_RESOLVER =
"backlinkspider.addresses.PrivateAddressResolver"`` (the README's settings), and the guard's middleware.
The resolver is ``backlinkspider.crawl.resolver``, the middleware
``backlinkspider.crawl.downloadermiddlewares.privateaddress``."""

from backlinkspider.crawl.downloadermiddlewares.privateaddress import PrivateAddressMiddleware
from backlinkspider.crawl.resolver import PrivateAddressRefused, PrivateAddressResolver, is_internal, refusal

__all__ = [
    "PrivateAddressMiddleware",
    "PrivateAddressRefused",
    "PrivateAddressResolver",
    "is_internal",
    "refusal",
]
