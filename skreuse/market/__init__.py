"""A model market: store reusable models with RKME specifications, find and reuse them."""

from ._market import ModelMarket

__all__ = ["ModelMarket"]
