"""Shared hypothesis strategies: shapes (n, k, m) and a numpy Generator seed."""

from hypothesis import strategies as st

# widths 1..300 with the word boundaries (64 j, 64 j ± 1) drawn often
WIDTHS = st.one_of(
    st.integers(1, 300),
    st.sampled_from([1, 2, 63, 64, 65, 127, 128, 129, 191, 192, 193, 255, 256, 257]),
)
ROWS = st.one_of(st.integers(0, 50), st.sampled_from([0, 1, 3, 4, 5]))
NEURONS = st.one_of(st.integers(1, 130), st.sampled_from([1, 2, 3, 63, 64, 65, 128, 129]))
SEEDS = st.integers(0, 2**32 - 1)
