"""levelfield: strategy analytics for small and medium businesses.

Turn the exports you already have (Shopify, Square, Stripe, Etsy, WooCommerce, a
spreadsheet) into the answers large firms get from their analysts: which customers are
worth keeping, how distinctive you are, how exposed you are, what your prices should be,
what happens under shocks, and what to do next.
"""

from levelfield._version import __version__
from levelfield.workspace import Workspace, open_workspace

__all__ = ["Workspace", "__version__", "open_workspace"]
