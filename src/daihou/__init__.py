"""daihou (贷后): post-loan servicing, end of day and collections."""

__version__ = "0.1.0"
