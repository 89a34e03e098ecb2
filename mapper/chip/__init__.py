"""The chip backend: what the array is configured with and what it then computes.

``allocation`` (the multicast IDs of every network), ``bitstream`` (the
scan-chain layout, encoder, decoder and file format) and ``simulator`` (the
configured array run on real numbers).  Depends on ``cost_models`` and numpy
only: no search, no files written, no terminal.
"""
