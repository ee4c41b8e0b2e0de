"""Embeddings: ticket text in, vectors out, and a vector index over past tickets.

This package imports nothing else of deskroute's.
"""
