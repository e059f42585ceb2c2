"""Tables and figures of the paper, rendered from the aggregated results next to its reported numbers."""
